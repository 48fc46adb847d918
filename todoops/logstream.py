"""What runs beside `invoke dev`'s loop: the release's pod logs, and a port-forward to the frontend.

Both are long-lived kubectl commands started through the invoke Context
(``asynchronous=True``, ``exec`` so the shell becomes kubectl and stopping it
stops kubectl) and stopped the way Ctrl-C would (todoops.processes.interrupt).
Their output is read in whole lines through the redaction filter
(RedactingStream), whose values the task registers first (todoops.known_secrets):
pod logs are the cluster's text. ``kubectl logs -f -l`` follows only the pods
that exist when it starts, so the loop restarts it after each rollout, from
the moment the previous one stopped (``--since``: no line lost, few repeated).
kubectl's port-forward ends when the pod it forwards to goes away (a rollout
replaced it); the loop starts it again on the same local port, so its URL holds.
"""
import io
import math
import re
import sys
import threading
import time
from collections.abc import Callable

from invoke import Context, Exit, Result
from invoke.runners import Promise

from .app import FORWARD_START_SECONDS, FORWARDING, component_service
from .commands import Argv, command_line, echo
from .config import Settings
from .kubectl import kubectl, selector
from .processes import interrupt
from .redaction import RedactingStream

# kubectl's --prefix: "[pod/NAME/CONTAINER] text".
POD_LINE = re.compile(r"^\[pod/(?P<pod>[^/\]]+)/(?P<container>[^\]]+)\] ?(?P<text>.*)$")
# Terminal colours of the containers (each named after its component); others are plain.
COLOURS = {"backend": "36", "frontend": "35", "postgresql": "33"}
# Lines of each container shown when the stream first starts.
FIRST_TAIL = 10
# Seconds between two restarts of a stream that ends by itself (e.g. no pod to follow yet).
RESTART_EVERY = 10.0


def log_line(line: str, terminal: bool) -> str:
    """``[pod/todo-app-backend-7d9-x2x9z/backend] text`` as ``backend x2x9z | text``, coloured on a terminal."""
    found = POD_LINE.match(line)
    if not found:
        return f"logs | {line}"
    prefix = f"{found['container']} {found['pod'].rpartition('-')[2]} |"
    colour = COLOURS.get(found["container"])
    if terminal and colour:
        prefix = f"\033[{colour}m{prefix}\033[0m"
    return f"{prefix} {found['text']}"


class Lines(io.TextIOBase):
    """The target of a RedactingStream: each (already redacted) line goes to ``on_line``."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self._on_line = on_line

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        for line in text.splitlines():
            self._on_line(line)
        return len(text)


class Streamed:
    """One long-lived command whose output lines (stdout and stderr) go to ``on_line``.

    A Context that answers at once (a MockContext) hands back a finished Result: nothing runs.
    """

    def __init__(self, c: Context, command: Argv, on_line: Callable[[str], None]) -> None:
        self._streams = [RedactingStream(Lines(on_line)), RedactingStream(Lines(on_line))]
        self._running = c.run("exec " + command_line(command), asynchronous=True, warn=True, pty=False,
                              in_stream=False, out_stream=self._streams[0], err_stream=self._streams[1])

    @property
    def alive(self) -> bool:
        return isinstance(self._running, Promise) and not self._running.runner.process_is_finished

    def stop(self) -> Result:
        """Stop it (if it still runs) and return its Result."""
        result = self._running
        if isinstance(result, Promise):
            if self.alive:
                interrupt(result)
            result = result.join()
        for stream in self._streams:
            stream.finish()
        return result


class PodLogs:
    """``kubectl logs -f`` of every pod of the release, each line prefixed by its container."""

    def __init__(self, c: Context, cfg: Settings, out=sys.stdout) -> None:
        self._c, self._cfg, self._out = c, cfg, out
        self._stream: Streamed | None = None
        self._stopped_at = 0.0
        self._started_at = 0.0

    def _print(self, line: str) -> None:
        print(log_line(line, self._out.isatty()), file=self._out, flush=True)

    def command(self) -> list[str]:
        since = f"--since={math.ceil(time.monotonic() - self._stopped_at) + 1}s" if self._stopped_at else \
            f"--tail={FIRST_TAIL}"
        return kubectl(self._cfg, "logs", "--follow", "-l", selector(self._cfg), "--prefix", "--all-containers",
                       "--ignore-errors", "--max-log-requests=20", since)

    def start(self) -> None:
        self._started_at = time.monotonic()
        self._stream = Streamed(self._c, self.command(), self._print)

    def stop(self) -> None:
        if self._stream:
            self._stream.stop()
            self._stream = None
            self._stopped_at = time.monotonic()

    def restart(self) -> None:
        """Follow the pods there are now (a rollout replaced some)."""
        self.stop()
        self.start()

    def look_after(self) -> None:
        """Start it again when it ended by itself (every pod it followed went away), at most every RESTART_EVERY s."""
        if self._stream and not self._stream.alive and time.monotonic() - self._started_at > RESTART_EVERY:
            self.restart()


class Forward:
    """``kubectl port-forward`` to the frontend Service on 127.0.0.1, started again whenever it ends.

    ``port`` is the local port (None: the Service's own, as `invoke app.port-forward`); once one
    is bound, restarts take the same. ``announce`` gets the URL each time it changes.
    """

    def __init__(self, c: Context, cfg: Settings, port: int | None, announce: Callable[[str], None]) -> None:
        self._c, self._cfg, self._port, self._announce = c, cfg, port, announce
        self._stream: Streamed | None = None
        self._ready = threading.Event()
        self._url = ""
        # kubectl's last line that was not about being ready, and whether a failure to start was shown.
        self._problem = ""
        self._warned = False

    def _line(self, line: str) -> None:
        found = FORWARDING.match(line)
        if found:
            self._port = int(found[1])
            self._ready.set()
        elif not line.startswith("Handling connection"):
            self._problem = line

    def _start(self, service: str, service_port: int) -> bool:
        self._ready.clear()
        argv = kubectl(self._cfg, "port-forward", "--address", "127.0.0.1", f"service/{service}",
                       f"{self._port or service_port}:{service_port}")
        self._stream = Streamed(self._c, argv, self._line)
        deadline = time.monotonic() + FORWARD_START_SECONDS
        while not self._ready.wait(0.05) and self._stream.alive and time.monotonic() < deadline:
            pass
        return self._ready.is_set()

    def look_after(self) -> None:
        """Start it when it is not running; when it cannot start, say so once (it is tried again later)."""
        if self._stream and self._stream.alive:
            return
        self.stop()
        try:
            service, service_port = component_service(self._c, self._cfg, "frontend")
        except Exit as error:
            return self._failed(error.message.splitlines()[0])
        if not self._start(service, service_port):
            return self._failed(self._problem or "kubectl port-forward did not get ready")
        self._warned = False
        url = f"http://127.0.0.1:{self._port}"
        if url != self._url:
            self._url = url
            self._announce(f"port-forward: {url} -> service/{service}:{service_port}")

    def _failed(self, why: str) -> None:
        if not self._warned:
            echo(f"port-forward to the frontend is not running ({why}); trying again")
            self._warned = True
        self.stop()

    def stop(self) -> None:
        if self._stream:
            self._stream.stop()
            self._stream = None
