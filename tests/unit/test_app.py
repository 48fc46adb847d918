"""`invoke app.logs` and `app.port-forward`: redacted logs, a forward on 127.0.0.1, bad flags refused."""
import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import ENV, failed, line, ok, preflight_ok, project, secret_answer
from todoops.app import forward, logs, port_forward
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.redaction import REDACTOR

KUBECTL = ["kubectl", "--context", "minikube", "--namespace", "todo-app"]
GET_SECRET = line([*KUBECTL, "get", "secret", "todo-app-secrets", "-o", "json"])
LOGS = line([*KUBECTL, "logs", "-l", "app.kubernetes.io/part-of=todo-app,app.kubernetes.io/instance=todo-app,"
             "app.kubernetes.io/component=backend", "--all-containers", "--prefix", "--tail=100"])
FORWARD = "exec " + line([*KUBECTL, "port-forward", "--address", "127.0.0.1", "service/todo-app-frontend", "3000:3000"])


def test_logs_teach_the_redaction_filter_the_clusters_secret_before_printing(make_context, tmp_path):
    project(tmp_path)
    in_cluster = "only-the-cluster-knows-this-password"
    c = make_context({**preflight_ok(), GET_SECRET: secret_answer({**ENV, "POSTGRES_PASSWORD": in_cluster}),
                      LOGS: ok()})
    logs(c)
    assert commands_run(c)[-2:] == [GET_SECRET, LOGS]
    assert REDACTOR(f"postgresql://todo:{in_cluster}@db") == "postgresql://todo:***@db"


def test_port_forward_announces_the_url_kubectl_listens_on(make_context, capsys):
    c = make_context({FORWARD: ok("Forwarding from 127.0.0.1:3000 -> 3000\n")})
    forward(c, resolve(c), "todo-app-frontend", 3000, 3000)
    assert capsys.readouterr().out == "http://127.0.0.1:3000 -> service/todo-app-frontend:3000 (Ctrl-C to stop)\n"


def test_port_forward_that_cannot_listen_or_loses_its_pod_fails_with_kubectls_words(make_context, capsys):
    busy = make_context({FORWARD: failed(stderr="unable to listen on any of the requested ports: [{3000 3000}]\n")})
    with pytest.raises(Exit) as stopped:
        forward(busy, resolve(busy), "todo-app-frontend", 3000, 3000)
    assert "unable to listen" in stopped.value.message and "127.0.0.1:3000 free" in stopped.value.message
    lost = make_context({FORWARD: failed(stdout="Forwarding from 127.0.0.1:3000 -> 3000\n",
                                         stderr="error: lost connection to pod\n")})
    with pytest.raises(Exit) as stopped:
        forward(lost, resolve(lost), "todo-app-frontend", 3000, 3000)
    assert "ended: error: lost connection to pod" in stopped.value.message


@pytest.mark.parametrize(("task", "flags"), [
    (logs, {"component": "bogus"}), (port_forward, {"component": "postgresql"}), (port_forward, {"port": "0"})])
def test_an_unknown_component_or_port_is_bad_input_before_the_cluster_is_asked(make_context, task, flags):
    c = make_context()
    with pytest.raises(Exit) as stopped:
        task(c, **flags)
    assert stopped.value.code == ExitCode.BAD_INPUT and "--" in stopped.value.message
    assert commands_run(c) == []
