"""Commands that outlive one call: run side by side and stopped together, or served until the task is stopped.

Each still goes through the invoke Context (``asynchronous=True``), so a
MockContext or a fabric Connection stands in unchanged; a Context that answers
at once (a MockContext, invoke's own dry run) has nothing running, and its
Result is taken as the finished command. Stopping a command is what Ctrl-C
does in a terminal: SIGINT to it and to what it started, SIGKILL to those left
after a grace period; a command on a fabric channel can only be closed.
"""
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from invoke import Context, Result
from invoke.runners import Promise

from .commands import Argv, _started


class Together:
    """Commands running side by side in worker threads (see ``side_by_side``), so they can be stopped at once.

    invoke forwards Ctrl-C only to a command the main thread itself waits on
    (and for a command without a terminal, as a useless ``^C`` on its stdin);
    commands waited on in worker threads kept running until they were done.
    Started here, each is known while it runs and ``stop`` ends them all.
    """

    def __init__(self, c: Context) -> None:
        self._c = c
        self._lock = threading.Lock()
        self._running: set[Promise] = set()
        self._stopping = False

    def run(self, line: str, **kwargs) -> Result:
        started = self._c.run(line, asynchronous=True, **kwargs)
        # A Context that answers at once (a MockContext) has nothing running.
        if not isinstance(started, Promise):
            return started
        with self._lock:
            self._running.add(started)
            stopping = self._stopping
        try:
            if stopping:
                interrupt(started)
            return started.join()
        finally:
            with self._lock:
                self._running.discard(started)

    def stop(self) -> None:
        """Interrupt every command still running, and any started from now on."""
        with self._lock:
            self._stopping = True
            running = list(self._running)
        for started in running:
            interrupt(started)


# Seconds a command may take to stop after SIGINT before it is killed.
STOP_GRACE = 5.0


def interrupt(running: Promise, grace: float = STOP_GRACE) -> None:
    """Stop a running command the way Ctrl-C would, and for sure after ``grace`` seconds.

    A terminal's Ctrl-C sends SIGINT to every process of the foreground job, so
    the command and whatever it started (``docker build``'s plugins) hear it and
    can end what they began elsewhere (the daemon cancels the build). The same
    happens here: SIGINT to the command and its descendants, then SIGKILL to
    those still running once ``grace`` has passed.
    """
    runner = running.runner
    process = getattr(runner, "process", None)
    pid = getattr(runner, "pid", None) if getattr(runner, "using_pty", False) else getattr(process, "pid", None)
    if pid is None:
        # Not a local process (a fabric channel): closing it is all SSH offers.
        runner.kill()
        return
    # Only a live process is signalled: once reaped, its pid may already belong to another one.
    tree = [] if runner.process_is_finished else process_tree(pid)
    signal_all(tree, signal.SIGINT)
    deadline = time.monotonic() + grace
    while not runner.process_is_finished and time.monotonic() < deadline:
        time.sleep(0.05)
    signal_all([child for child in tree if child != pid], signal.SIGKILL)
    if not runner.process_is_finished:
        runner.kill()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc (where there is none, ``pid`` alone)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
        children.setdefault(parent, []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo.extend(children.get(tree[-1], []))
    return tree


def signal_all(pids: Sequence[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


@contextmanager
def side_by_side(c: Context) -> Iterator[Together]:
    """A group for commands run in parallel: leaving the block by an exception (Ctrl-C, a failed one) stops them all."""
    together = Together(c)
    try:
        yield together
    except BaseException:
        together.stop()
        raise


# What ends a task that serves until stopped: Ctrl-C, ``kill`` and a closed terminal.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(Exception):
    """The task got one of ``STOP_SIGNALS``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def serve(c: Context, command: Argv, ready: re.Pattern, timeout: float,
          announce: Callable[[re.Match], None]) -> Result:
    """Run a long-lived command (a port-forward) until it exits or the task gets SIGINT, SIGTERM or SIGHUP.

    ``announce`` is called with the ready match (see ``background``); the command's
    Result is returned once it has exited by itself. A stop signal stops the
    command and raises ``Stopped``. Without the handlers Python dies at once on
    SIGTERM and SIGHUP, skipping every ``finally``, and the command lived on,
    re-parented to PID 1; a job a script started with ``&`` even ignores SIGINT.
    """
    def stop(signum, frame):
        raise Stopped(signum)

    # The handlers are set only here: they need the main thread, where invoke runs a task.
    previous = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
    try:
        with _started(c, command, ready, timeout) as started:
            announce(started.match)
            while isinstance(started.running, Promise) and not started.running.runner.process_is_finished:
                time.sleep(0.1)
        return started.result
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


