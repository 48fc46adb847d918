"""Background processes with recorded PIDs, so `down` stops exactly what `up` started.

Each process gets its own session (no terminal signal reaches it), a log file
in the logs folder, and a pid file holding "<pid> <start time>": the start
time (from /proc) guards against stopping an unrelated process that reused
the PID after ours died.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

from .config import StatePaths


def start_time(pid: int) -> str | None:
    """Clock ticks since boot when the process started (field 22 of /proc/<pid>/stat); None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    state, started = fields[0], fields[19]
    return None if state in ("Z", "X") else started


def start(paths: StatePaths, name: str, argv: list[str], cwd: Path | None = None) -> int:
    paths.logs.mkdir(parents=True, exist_ok=True)
    paths.pids.mkdir(parents=True, exist_ok=True)
    with open(paths.logs / f"{name}.log", "ab") as log:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=cwd, start_new_session=True,
        )
    (paths.pids / f"{name}.pid").write_text(f"{process.pid} {start_time(process.pid)}\n")
    return process.pid


def recorded(paths: StatePaths, name: str) -> tuple[int, str] | None:
    pid_file = paths.pids / f"{name}.pid"
    if not pid_file.exists():
        return None
    pid, started = pid_file.read_text().split()
    return int(pid), started


def running(paths: StatePaths, name: str) -> int | None:
    """The PID if the process we recorded is still the one alive under that PID."""
    entry = recorded(paths, name)
    if entry is None:
        return None
    pid, started = entry
    return pid if start_time(pid) == started else None


def stop(paths: StatePaths, name: str, timeout: float = 20.0) -> bool:
    """SIGTERM, then SIGKILL after `timeout`; True if something was stopped."""
    pid = running(paths, name)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        if not wait_gone(pid, timeout):
            os.kill(pid, signal.SIGKILL)
            wait_gone(pid, 5.0)
    (paths.pids / f"{name}.pid").unlink(missing_ok=True)
    return pid is not None


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap(pid)
        if start_time(pid) is None:
            return True
        time.sleep(0.2)
    return False


def reap(pid: int) -> None:
    """Collect the exit status when the process is our own child (started in this same run)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def log_tail(paths: StatePaths, name: str, lines: int = 20) -> str:
    log = paths.logs / f"{name}.log"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""
