"""todoops.remote.hosts: tasks here, on one host or on each; failures name their host."""
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from invoke import Exit

from todoops.checks import Check
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.remote import hosts
from todoops.remote.targets import Target


def test_errors_get_the_host_and_keep_their_exit_code():
    named = hosts.named(Exit("error: docker: not installed\nhint: install it", code=3), Target("box", "a"))
    assert named.message == "error: on a@box: docker: not installed\nhint: install it" and named.code == 3


def test_each_host_without_a_host_runs_the_step_locally(make_context):
    c = make_context()
    outcomes = hosts.each_host(c, resolve(c), lambda ctx: ctx is c)
    assert outcomes == [hosts.HostOutcome("local", value=True)]


def test_on_host_without_a_host_is_the_local_context(make_context):
    c = make_context()
    with hosts.on_host(c, resolve(c)) as ctx:
        assert ctx is c


def test_tasks_load_fabric_only_once_a_host_is_used():
    """`invoke --list` and local tasks import todoops.remote; fabric and paramiko are slow to load."""
    root = Path(__file__).resolve().parents[2]
    script = "import sys, tasks; print(sorted({name.split('.')[0] for name in sys.modules} & {'fabric', 'paramiko'}))"
    shown = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "[]"


def test_one_unreachable_host_hides_no_other_hosts_results(make_context, monkeypatch):
    @contextmanager
    def fake_target(cfg, target):
        if target.host == "down":
            raise Exit("error: on b@down: b@down refused the connection on port 22\nhint: check that sshd runs there",
                       code=int(ExitCode.UNREACHABLE))
        yield f"connection to {target.host}"

    monkeypatch.setattr(hosts, "on_target", fake_target)
    c = make_context(host="a@up,b@down,c@up2")
    found = hosts.checks_everywhere(c, resolve(c), lambda here: [Check("cluster", "ok", here)])
    assert found == [Check("a@up: cluster", "ok", "connection to up"),
                     Check("b@down: host", "fail", "b@down refused the connection on port 22",
                           "check that sshd runs there", ExitCode.UNREACHABLE),
                     Check("c@up2: cluster", "ok", "connection to up2")]
