"""Commands that outlive one call: side by side and stopped together, beside a block, or served until stopped.

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
from dataclasses import dataclass
from pathlib import Path

from invoke import Context, Result
from invoke.runners import Promise
from invoke.watchers import StreamWatcher

from .commands import Argv, Pipeline, command_line
from .redaction import REDACTOR


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
# Seconds between two looks at whether a probe has answered.
PROBE_POLL = 0.01


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


def probes(c: Context, commands: Sequence[Argv | Pipeline]) -> list[tuple[Result, float]]:
    """Read-only checks run side by side, each quiet with its failure returned (as ``commands.probe``).

    Returns each one's Result and the seconds from the start of all until it was seen answered (they are
    looked at in order, so one answered behind a slower one counts that one's time). They start in this
    thread in the order given (a MockContext records them so). The wait is this thread's own, not invoke's
    (which turns Ctrl-C into a ^C on the command's stdin and waits on, with its reader threads): leaving
    it by an exception (Ctrl-C, a stop signal) stops those still running.
    """
    started_at, started, answered = time.monotonic(), [], []
    try:
        for command in commands:
            started.append(c.run(command_line(command), asynchronous=True, hide=True, warn=True, pty=False,
                                 in_stream=False))
        for item in started:
            while isinstance(item, Promise) and not item.runner.process_is_finished:
                time.sleep(PROBE_POLL)
            answered.append((item.join() if isinstance(item, Promise) else item, time.monotonic() - started_at))
        return answered
    except BaseException:
        for item in started[len(answered):]:
            if isinstance(item, Promise):
                interrupt(item)
        raise


class NotStarted(Exception):
    """A background command exited, or never printed what it prints when ready."""


class _Ready:
    """What a background command has printed so far that says it is ready (shared across threads)."""

    def __init__(self, pattern: re.Pattern) -> None:
        self.pattern = pattern
        self.match: re.Match | None = None
        self.seen = threading.Event()


class _ReadyWatcher(StreamWatcher):
    """invoke's hook into a running command's output: notes the first complete line matching.

    A StreamWatcher is thread-local (invoke builds it again in each output thread),
    so what it finds lives in the shared ``_Ready``. Only complete lines count: the
    output arrives in arbitrary chunks, and "port 80" may be the start of "port 8001".
    """

    def __init__(self, ready: _Ready) -> None:
        super().__init__()
        self.ready = ready

    def submit(self, stream: str) -> list[str]:
        # stdout's and stderr's threads both call this: only a match is ever stored.
        match = None if self.ready.seen.is_set() else self.ready.pattern.search(stream[:stream.rfind("\n") + 1])
        if match:
            self.ready.match = match
            self.ready.seen.set()
        return []


@dataclass
class _Started:
    """A long-lived command once ready: its ready match, and its Result once it has ended."""

    match: re.Match
    running: Result
    result: Result | None = None


@contextmanager
def _started(c: Context, command: Argv, ready: re.Pattern, timeout: float) -> Iterator[_Started]:
    found = _Ready(ready)
    # exec: the shell becomes the command, so stopping the shell's process stops the command.
    running = c.run("exec " + command_line(command), asynchronous=True, hide=True, warn=True, in_stream=False,
                    watchers=[_ReadyWatcher(found)])
    started, result = None, running
    try:
        match = _wait_until_ready(found, running, timeout)
        if match:
            started = _Started(match, running)
            yield started
    finally:
        if isinstance(running, Promise):
            result = _stop(running)
        if started:
            started.result = result
    if not started:
        said = (result.stderr.strip() or result.stdout.strip() or f"exit code {result.exited}").splitlines()[-1]
        raise NotStarted(REDACTOR(f"{command_line(command)} did not get ready (waited up to {timeout:.0f}s): "
                                  f"{said[:200]}"))


@contextmanager
def background(c: Context, command: Argv, ready: re.Pattern, timeout: float) -> Iterator[re.Match]:
    """Run a long-lived command (a proxy) while the block runs; yield the match of ``ready`` in its output.

    Waits until the command prints something matching ``ready`` and stops it when
    the block ends, however it ends. Raises ``NotStarted``, with the command's last
    output line, when it exits or stays unready for ``timeout`` seconds. Output is
    captured, never shown. A Context that hands back a finished Result instead of a
    running command (a MockContext, invoke's own dry run) has printed all it will.
    """
    with _started(c, command, ready, timeout) as started:
        yield started.match


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


def _wait_until_ready(found: _Ready, running: Result, timeout: float) -> re.Match | None:
    """The ready match, or None once the command has exited or the time is up."""
    if not isinstance(running, Promise):
        _ReadyWatcher(found).submit(running.stdout)
        return found.match
    deadline = time.monotonic() + timeout
    while not found.seen.wait(0.05):
        if running.runner.process_is_finished or time.monotonic() > deadline:
            return None
    return found.match


def _stop(running: Promise) -> Result:
    # Only a live process is killed: once reaped, its pid may already belong to another one.
    if not running.runner.process_is_finished:
        running.runner.kill()
    return running.join()
