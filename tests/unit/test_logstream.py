"""``todoops.logstream``: pod log lines prefixed, coloured and redacted; a port-forward that comes back.

The long-lived commands run for real here, against a stand-in ``kubectl`` (a
small script first on the PATH that invoke's Context gives its commands; the
test process's environment is left alone).
"""
import json
import os
import stat
import sys
import time

import pytest
from invoke import Config, Context

from tests.unit.fixtures import project
from tests.unit.fixtures.processes import gone
from todoops.config import resolve
from todoops.logstream import Forward, PodLogs, Streamed, log_line
from todoops.redaction import REDACTOR

SECRET = "s3cr3t-database-password"
SERVICE = {"items": [{"metadata": {"name": "todo-app-frontend"}, "spec": {"ports": [{"port": 3000}]}}]}
# The stand-in: records each call, answers `get services`, streams logs, forwards (and dies when told to).
KUBECTL = f"""#!{sys.executable}
import json, os, sys, time
here = os.path.dirname(os.path.abspath(__file__))
args = sys.argv[1:]
with open(os.path.join(here, "calls"), "a") as calls:
    calls.write(json.dumps(args) + "\\n")
if "get" in args:
    print({json.dumps(json.dumps(SERVICE))})
elif "logs" in args:
    print("[pod/todo-app-backend-7d9c-x2x9z/backend] connected to postgresql://app:{SECRET}@db", flush=True)
    print("[pod/todo-app-frontend-55f-abcde/frontend] ready on 3000", flush=True)
    print(f"pid {{os.getpid()}}", flush=True)
    time.sleep(60)
elif "port-forward" in args:
    local = args[-1].split(":")[0] or "43117"
    print(f"Forwarding from 127.0.0.1:{{local}} -> 3000", flush=True)
    print("Handling connection for " + local, flush=True)
    if os.path.exists(os.path.join(here, "dies")):
        time.sleep(0.3)
        print("error: lost connection to pod", file=sys.stderr, flush=True)
        sys.exit(1)
    time.sleep(60)
"""


@pytest.fixture
def fake(tmp_path):
    """A Context whose commands find the stand-in kubectl first; its folder."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "kubectl"
    script.write_text(KUBECTL)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return Context(Config(overrides={"run": {"env": {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}}})), folder


@pytest.fixture
def cfg(tmp_path, make_context):
    project(tmp_path)
    return resolve(make_context())


def calls(folder) -> list[list[str]]:
    path = folder / "calls"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for(condition, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize(("line", "terminal", "shown"), [
    ("[pod/todo-app-backend-7d9c-x2x9z/backend] started", False, "backend x2x9z | started"),
    ("[pod/todo-app-backend-7d9c-x2x9z/backend] started", True, "\033[36mbackend x2x9z |\033[0m started"),
    ("[pod/todo-app-frontend-55f-abcde/frontend] ready", True, "\033[35mfrontend abcde |\033[0m ready"),
    ("[pod/todo-app-postgresql-0/postgresql] ready", False, "postgresql 0 | ready"),
    # An init container has no colour of its own; kubectl's own lines are marked as such.
    ("[pod/todo-app-backend-7d9c-x2x9z/migrate] done", True, "migrate x2x9z | done"),
    ("error: a container name must be specified", True, "logs | error: a container name must be specified"),
])
def test_each_log_line_is_prefixed_by_its_component_and_coloured_only_on_a_terminal(line, terminal, shown):
    assert log_line(line, terminal) == shown


class Out:
    """stdout as a test sees it: lines, and whether it is a terminal."""

    def __init__(self, terminal: bool = False) -> None:
        self.text, self.terminal = "", terminal

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return self.terminal


def test_pod_logs_are_redacted_prefixed_and_restarted_from_where_they_stopped(fake, cfg):
    c, folder = fake
    REDACTOR.add(SECRET)
    out = Out()
    logs = PodLogs(c, cfg, out)
    logs.start()
    wait_for(lambda: "pid " in out.text)
    pid = int(out.text.split("pid ")[1].split()[0])
    assert "backend x2x9z | connected to postgresql://app:***@db" in out.text
    assert "frontend abcde | ready on 3000" in out.text
    assert SECRET not in out.text
    logs.restart()
    assert gone(pid), "the stopped kubectl logs is still running"
    wait_for(lambda: len(calls(folder)) == 2)
    logs.stop()
    first, again = calls(folder)
    assert first[-1] == "--tail=10" and again[-1].startswith("--since=") and again[-1].endswith("s")
    assert first[:-1] == again[:-1] == [
        "--context", "minikube", "--namespace", "todo-app", "logs", "--follow", "-l",
        "app.kubernetes.io/part-of=todo-app,app.kubernetes.io/instance=todo-app", "--prefix", "--all-containers",
        "--ignore-errors", "--max-log-requests=20"]


def test_a_stopped_stream_takes_its_command_with_it(fake):
    c, _ = fake
    lines: list[str] = []
    started = Streamed(c, [sys.executable, "-c", "import os, time; print(os.getpid(), flush=True); time.sleep(60)"],
                       lines.append)
    wait_for(lambda: lines)
    assert started.alive
    started.stop()
    assert not started.alive and gone(int(lines[0]))


def test_the_forward_announces_its_url_once_and_comes_back_on_the_same_port(fake, cfg):
    c, folder = fake
    said: list[str] = []
    forward = Forward(c, cfg, None, said.append)
    forward.look_after()
    assert said == ["port-forward: http://127.0.0.1:3000 -> service/todo-app-frontend:3000"]
    forward.look_after()  # still running: nothing started
    (folder / "dies").write_text("")
    forward.stop()
    forward.look_after()
    wait_for(lambda: not forward._stream.alive)
    (folder / "dies").unlink()
    forward.look_after()
    forward.stop()
    forwards = [args for args in calls(folder) if "port-forward" in args]
    assert [args[-1] for args in forwards] == ["3000:3000"] * 3
    assert said == ["port-forward: http://127.0.0.1:3000 -> service/todo-app-frontend:3000"]


def test_a_chosen_local_port_is_kept(fake, cfg):
    c, folder = fake
    said: list[str] = []
    forward = Forward(c, cfg, 8123, said.append)
    forward.look_after()
    forward.stop()
    assert said == ["port-forward: http://127.0.0.1:8123 -> service/todo-app-frontend:3000"]
    assert [args[-1] for args in calls(folder) if "port-forward" in args] == ["8123:3000"]


def test_a_forward_that_cannot_start_says_so_once_and_tries_again(make_context, tmp_path, capsys):
    project(tmp_path)
    # No frontend Service (the first deploy failed before it): a strict MockContext answers NotFound-free empty lists.
    c = make_context({"kubectl --context minikube --namespace todo-app get services -l "
                      "app.kubernetes.io/part-of=todo-app,app.kubernetes.io/instance=todo-app,"
                      "app.kubernetes.io/component=frontend -o json": json.dumps({"items": []})})
    forward = Forward(c, resolve(c), None, print)
    forward.look_after()
    forward.look_after()
    err = capsys.readouterr().err
    assert err.count("port-forward to the frontend is not running (error: no frontend Service") == 1
