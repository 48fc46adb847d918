"""``todoops.processes``: a background command lives as long as its block, a served one as long as its task."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from invoke import Context, Result

from tests.conftest import commands_run
from tests.unit.fixtures import REPO
from tests.unit.fixtures.processes import gone
from todoops.processes import STOP_SIGNALS, NotStarted, Stopped, background, probes, serve
from todoops.redaction import REDACTOR

# Only its masked spelling may show in what a command that failed to start said.
SECRET = "hunter2-very-secret-value"

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


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=lambda signum: signal.Signals(signum).name)
def test_the_served_command_dies_with_the_task_on_every_stop_signal(signum):
    task = subprocess.Popen([sys.executable, "-c", TASK], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        child = int(READY.search(task.stdout.readline())[2])
        task.send_signal(signum)
        assert task.wait(timeout=15) == 0
        assert task.stdout.read().strip() == f"stopped {signal.Signals(signum).name}"
        assert gone(child), f"{signal.Signals(signum).name}: the served command outlived the task"
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


SERVING = re.compile(r"serving on port (?P<port>\d+)")


def _server_script(before_ready: str = "") -> list[str]:
    """A tiny long-lived program: prints its pid and a ready line, then waits to be stopped."""
    return [sys.executable, "-c", "import os, sys, time; " + before_ready
            + "print('pid', os.getpid(), 'serving on port 4242', flush=True); time.sleep(60)"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pid(match: re.Match) -> int:
    return int(match.string[match.string.index("pid ") + 4:].split()[0])


def test_background_yields_the_ready_match_and_stops_the_command_after_the_block():
    with background(Context(), _server_script(), SERVING, timeout=20) as match:
        assert match["port"] == "4242"
        pid = _pid(match)
        assert _alive(pid)
    assert not _alive(pid)


def test_background_reads_only_complete_lines():
    script = [sys.executable, "-c", "import sys, time; print('serving on port 80', end='', flush=True); "
              "time.sleep(0.5); print('01', flush=True); time.sleep(60)"]
    with background(Context(), script, SERVING, timeout=20) as match:
        assert match["port"] == "8001"


def test_background_stops_the_command_when_the_block_fails():
    with pytest.raises(RuntimeError), background(Context(), _server_script(), SERVING, timeout=20) as match:
        pid = _pid(match)
        raise RuntimeError("the work inside failed")
    assert not _alive(pid)


def test_background_command_that_exits_first_is_not_started_and_says_why():
    REDACTOR.add(SECRET)
    script = [sys.executable, "-c", f"import sys; sys.exit('error: no context {SECRET}')"]
    with pytest.raises(NotStarted) as error, background(Context(), script, SERVING, timeout=20):
        pytest.fail("the block must not run")
    assert "did not get ready" in str(error.value) and "error: no context ***" in str(error.value)


def test_background_command_that_stays_silent_is_stopped_after_the_timeout():
    started = time.monotonic()
    with pytest.raises(NotStarted, match=r"waited up to 1s"), \
            background(Context(), _server_script("time.sleep(30); "), SERVING, timeout=1):
        pytest.fail("the block must not run")
    assert time.monotonic() - started < 10


def test_background_on_a_mock_context_reads_the_finished_output(make_context):
    argv = ["kubectl", "proxy", "--port", "0"]
    c = make_context({"exec kubectl proxy --port 0": Result(stdout="serving on port 8001\n")})
    with background(c, argv, SERVING, timeout=1) as match:
        assert match["port"] == "8001"
    assert commands_run(c) == ["exec kubectl proxy --port 0"]


def test_probes_run_side_by_side_and_answer_in_the_order_given(tmp_path):
    # The first waits for a file only the second makes: run one after the other, it would time out.
    flag = tmp_path / "second-ran"
    first = ["sh", "-c", f"for i in $(seq 100); do [ -e {flag} ] && echo first && exit 0; sleep 0.05; done; exit 3"]
    second = ["sh", "-c", f"touch {flag}; echo second"]
    answers = probes(Context(), [first, second, ["sh", "-c", "echo oops >&2; exit 4"]])
    assert [(result.exited, result.stdout.strip()) for result, _ in answers] == [(0, "first"), (0, "second"), (4, "")]
    assert answers[2][0].stderr.strip() == "oops"
    assert answers[0][1] <= answers[1][1] <= answers[2][1]


@pytest.mark.parametrize("raised", [KeyboardInterrupt(), Stopped(signal.SIGTERM)], ids=["ctrl-c", "stop-signal"])
def test_probes_left_by_ctrl_c_or_a_stop_signal_stop_those_still_running_at_once(tmp_path, raised):
    pid_file = tmp_path / "pid"
    waiting = ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 60"]

    def stop(signum, frame):
        raise raised

    previous = signal.signal(signal.SIGALRM, stop)
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        started = time.monotonic()
        with pytest.raises(type(raised)):
            probes(Context(), [["true"], waiting])
        assert time.monotonic() - started < 30, "the probes were waited for instead of stopped"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert gone(int(pid_file.read_text())), "a probe outlived the stop"


def test_probes_on_a_mock_context_are_its_answers_in_order(make_context):
    c = make_context({"a": Result(stdout="1"), "b": Result(stdout="2", exited=1)})
    assert [(result.stdout, result.exited) for result, _ in probes(c, [["a"], ["b"]])] == [("1", 0), ("2", 1)]
    assert commands_run(c) == ["a", "b"]
