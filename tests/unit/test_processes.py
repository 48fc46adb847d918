"""``todoops.processes``: a served command ends with the task, whichever stop signal the task gets."""
import re
import signal
import subprocess
import sys
import time

import pytest
from invoke import Context

from tests.unit.fixtures import REPO
from todoops.commands import NotStarted
from todoops.processes import STOP_SIGNALS, Stopped, serve

READY = re.compile(r"^Forwarding from 127\.0\.0\.1:(\d+) pid (\d+)$", re.MULTILINE)
CHILD = "import os, time; print(f'Forwarding from 127.0.0.1:4242 pid {os.getpid()}', flush=True); time.sleep(60)"
# A task that serves until stopped, in a process of its own so that it can be signalled like `invoke app.port-forward`.
TASK = f"""
import re, sys
from invoke import Context
from todoops.processes import Stopped, serve
try:
    serve(Context(), [sys.executable, "-c", {CHILD!r}], re.compile({READY.pattern!r}, re.M), 20,
          lambda ready: print(ready[0], flush=True))
except Stopped as stopped:
    print("stopped", stopped, flush=True)
"""


def _gone(pid: int, within: float = 5.0) -> bool:
    """The process has ended (a zombie counts: it holds no port and runs nothing)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=lambda signum: signal.Signals(signum).name)
def test_the_served_command_dies_with_the_task_on_every_stop_signal(signum):
    task = subprocess.Popen([sys.executable, "-c", TASK], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        child = int(READY.search(task.stdout.readline())[2])
        task.send_signal(signum)
        assert task.wait(timeout=15) == 0
        assert task.stdout.read().strip() == f"stopped {signal.Signals(signum).name}"
        assert _gone(child), f"{signal.Signals(signum).name}: the served command outlived the task"
    finally:
        task.kill()
        task.wait()


def test_a_command_that_ends_by_itself_hands_back_its_result_and_the_handlers_are_restored():
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    announced = []
    script = [sys.executable, "-c", "import sys; print('Forwarding from 127.0.0.1:4242 pid 1', flush=True); "
              "sys.exit('lost connection to pod')"]
    result = serve(Context(), script, READY, 20, announced.append)
    assert announced[0][1] == "4242"
    assert result.exited == 1 and "lost connection to pod" in result.stderr
    assert {signum: signal.getsignal(signum) for signum in STOP_SIGNALS} == before


def test_a_command_that_never_gets_ready_is_not_started_and_nothing_is_announced():
    announced = []
    with pytest.raises(NotStarted, match="unable to listen on port 3000"):
        serve(Context(), [sys.executable, "-c", "import sys; sys.exit('unable to listen on port 3000')"],
              READY, 20, announced.append)
    assert announced == []


def test_stopped_names_the_signal():
    assert str(Stopped(signal.SIGTERM)) == "SIGTERM" and Stopped(signal.SIGHUP).signum == signal.SIGHUP
