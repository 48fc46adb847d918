"""`invoke dev` as a subprocess, for the real-cluster test (test_dev.py) and the benchmark (bench/dev_loop.py).

``Dev`` starts the real CLI in a project copy (tests.e2e.todoapp.Project), in a
session of its own, and collects its output line by line with the moment each
line came, so a caller can wait for a line and time an edit to it.
"""

import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass

from tests.e2e.todoapp import INVOKE, Project

# The backend file edits go to (it ends up in the image).
SOURCE = "backend/app/main.py"
WATCHING = re.compile(r"^\[info\] watching ")
# dev's status line of a cycle that rolled out a backend change.
READY = re.compile(r"\] backend changed: build ([\d.]+)s, load ([\d.]+)s, roll ([\d.]+)s: ready$")
URL = re.compile(r"port-forward: (http://127\.0\.0\.1:\d+) ->")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Seen:
    """A line dev printed: what the pattern matched, its index among the lines, when it came (time.monotonic())."""

    match: re.Match
    index: int
    at: float


class Dev:
    """`invoke dev` running in ``project``, its output (stdout and stderr) collected line by line."""

    def __init__(self, project: Project, *args: str) -> None:
        self.project = project
        self.lines: list[str] = []
        # time.monotonic() when each line came.
        self.times: list[float] = []
        self._seen = threading.Condition()
        self.process = subprocess.Popen([str(INVOKE), "dev", *args], cwd=project.root, env=project.env(),
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self.times.append(time.monotonic())
                self._seen.notify_all()

    def wait_for(self, pattern: re.Pattern, timeout: float, after: int = 0) -> Seen:
        """The first line from index ``after`` on matching ``pattern``; fails with the output when none comes."""
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                for index in range(after, len(self.lines)):
                    if found := pattern.search(self.lines[index]):
                        return Seen(found, index, self.times[index])
                remaining = deadline - time.monotonic()
                # Once dev has exited, what it printed is all read when the reader is done.
                exited = self.process.poll()
                if remaining <= 0 or (exited is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no line matching {pattern.pattern!r} within {timeout:.0f} s (dev's exit "
                                         f"code: {exited}):\n" + "\n".join(self.lines[-80:]))
                self._seen.wait(min(remaining, 1.0))

    def append(self, text: str) -> int:
        """Append ``text`` to the backend source; how many lines dev had printed before it."""
        with self._seen:
            mark = len(self.lines)
        self.project.append(SOURCE, text)
        return mark

    @property
    def output(self) -> str:
        with self._seen:
            return "\n".join(self.lines)

    def stop(self) -> None:
        """Whatever happened, nothing of dev's session is left: SIGINT (dev's own stop), SIGKILL when it hangs."""
        for signum in (signal.SIGINT, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, signum)
                self.process.wait(30)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue
