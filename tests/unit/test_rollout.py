import base64
import json

import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import failed, fixture, line, ok, preflight_ok
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.report import Report
from todoops.rollout import diagnose, explain, status, wait

KUBECTL = ["kubectl", "--context", "minikube", "--namespace", "todo-app"]
SELECTOR = "app.kubernetes.io/part-of=todo-app,app.kubernetes.io/instance=todo-app"
GET_PODS = line([*KUBECTL, "get", "pods", "-l", SELECTOR, "-o", "json"])
GET_EVENTS = line([*KUBECTL, "get", "events", "-o", "json"])
WORKLOADS = line([*KUBECTL, "get", "deployments,statefulsets", "-l", SELECTOR, "-o", "name"])


@pytest.mark.parametrize(("name", "kind", "reason", "detail", "previous"), [
    ("pods-image-pull.json", "image-pull", "ErrImageNeverPull", "is not present with pull policy of Never", False),
    ("pods-crash-loop.json", "crash-loop", "CrashLoopBackOff", "exit code 1 (Error)", True),
    ("pods-probe-failure.json", "probe-failure", "Unhealthy", "Readiness probe failed", False),
    ("pods-liveness-failure.json", "probe-failure", "Unhealthy", "Liveness probe failed", True),
    ("pods-config-error.json", "config-error", "CreateContainerConfigError", "couldn't find key JWT_SECRET", False),
    ("pods-unschedulable.json", "unschedulable", "Unschedulable", "Insufficient memory", False),
])
def test_each_failure_class_is_recognised(name, kind, reason, detail, previous):
    [diagnosis] = diagnose(fixture(name), fixture("events.json"))
    assert (diagnosis.kind, diagnosis.reason, diagnosis.previous) == (kind, reason, previous)
    assert detail in diagnosis.message


def test_crash_at_start_probed_once_is_a_crash_not_a_probe_failure():
    # Seen on the e2e cluster: the startup probe hit the port before the process exited; kubelet killed nothing.
    pods = fixture("pods-crash-loop.json")
    name = pods["items"][0]["metadata"]["name"]
    probed = {"items": fixture("events.json")["items"] + [
        {"involvedObject": {"name": name}, "reason": "Unhealthy", "type": "Warning",
         "lastTimestamp": "2026-02-02T10:00:05Z",
         "message": 'Startup probe failed: Get "http://10.244.0.34:8000/health": connect: connection refused'}]}
    [diagnosis] = diagnose(pods, probed)
    assert (diagnosis.kind, diagnosis.previous) == ("crash-loop", True)


def test_unbound_claim_is_a_storage_problem_not_a_lack_of_resources():
    pods = json.loads(json.dumps(fixture("pods-unschedulable.json")))
    for condition in (c for pod in pods["items"] for c in pod["status"].get("conditions", [])):
        if condition.get("reason") == "Unschedulable":
            condition["message"] = "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    [diagnosis] = diagnose(pods, {"items": []})
    assert diagnosis.kind == "unbound-volume"


def test_healthy_pods_need_no_diagnosis():
    assert diagnose(fixture("pods-healthy.json"), fixture("events.json")) == []


def test_crash_shows_events_previous_logs_and_the_fix(make_context, capsys):
    pod = "todo-app-backend-6f7d9c5b4-r5t7y"
    logs = line([*KUBECTL, "logs", pod, "-c", "backend", "--tail=20", "--previous"])
    c = make_context({GET_PODS: ok(json.dumps(fixture("pods-crash-loop.json"))),
                      GET_EVENTS: ok(json.dumps(fixture("events.json"))),
                      logs: ok("Traceback (most recent call last):\nKeyError: 'DATABASE_URL'\n")})
    explain(c, resolve(c), Report())
    out = capsys.readouterr().out
    assert f"{pod}/backend: crash-loop (CrashLoopBackOff) exit code 1 (Error)" in out
    assert "event Warning BackOff" in out and "log | KeyError: 'DATABASE_URL'" in out
    assert "fix: the app exits on start" in out
    assert commands_run(c) == [GET_PODS, GET_EVENTS, logs]


def test_config_error_points_at_prepare_secrets_without_logs(make_context, capsys):
    c = make_context({GET_PODS: ok(json.dumps(fixture("pods-config-error.json"))),
                      GET_EVENTS: ok(json.dumps(fixture("events.json")))})
    explain(c, resolve(c), Report())
    assert "invoke prepare-secrets" in capsys.readouterr().out
    assert commands_run(c) == [GET_PODS, GET_EVENTS]


def test_wait_returns_false_after_explaining(make_context):
    status = line([*KUBECTL, "rollout", "status", "deployment.apps/todo-app-backend", "--timeout=180s"])
    c = make_context({WORKLOADS: ok("deployment.apps/todo-app-backend\n"), status: failed(),
                      GET_PODS: ok(json.dumps(fixture("pods-image-pull.json"))),
                      GET_EVENTS: ok(json.dumps(fixture("events.json")))})
    assert wait(c, resolve(c), Report()) is False
    assert commands_run(c) == [WORKLOADS, status, GET_PODS, GET_EVENTS]


def test_a_failed_workload_listing_is_not_taken_for_nothing_deployed(make_context):
    c = make_context({WORKLOADS: failed(stderr="Error from server (InternalError): etcdserver: request timed out\n")})
    with pytest.raises(Exit) as error:
        wait(c, resolve(c), Report())
    assert error.value.code == ExitCode.FAILED and "etcdserver: request timed out" in error.value.message


def test_the_status_task_masks_the_clusters_secrets_in_quoted_logs(make_context, tmp_path, capsys):
    # A crashing backend logs its connection string; the password exists only in the cluster Secret.
    password = "Only-the-cluster-knows-7Hq2"
    url = f"postgresql://todo:{password}@todo-app-postgresql:5432/todo"
    secret = {"data": {"DATABASE_URL": base64.b64encode(url.encode()).decode()}}
    pod = "todo-app-backend-6f7d9c5b4-r5t7y"
    rollout = line([*KUBECTL, "rollout", "status", "deployment.apps/todo-app-backend", "--timeout=180s"])
    c = make_context({**preflight_ok(), WORKLOADS: ok("deployment.apps/todo-app-backend\n"), rollout: failed(),
                      line([*KUBECTL, "get", "secret", "todo-app-secrets", "-o", "json"]): ok(json.dumps(secret)),
                      GET_PODS: ok(json.dumps(fixture("pods-crash-loop.json"))),
                      GET_EVENTS: ok(json.dumps(fixture("events.json"))),
                      line([*KUBECTL, "logs", pod, "-c", "backend", "--tail=20", "--previous"]):
                          ok(f"sqlalchemy.exc.OperationalError: cannot connect to {url}\n")})
    with pytest.raises(Exit) as error:
        status(c)
    out = capsys.readouterr()
    assert error.value.code == ExitCode.ROLLOUT
    assert "log | sqlalchemy.exc.OperationalError: cannot connect to" in out.out
    assert password not in out.out + out.err


def test_logs_that_could_not_be_read_are_said_so(make_context, capsys):
    pod = "todo-app-backend-6f7d9c5b4-r5t7y"
    logs = line([*KUBECTL, "logs", pod, "-c", "backend", "--tail=20", "--previous"])
    c = make_context({GET_PODS: ok(json.dumps(fixture("pods-crash-loop.json"))),
                      GET_EVENTS: ok(json.dumps(fixture("events.json"))),
                      logs: failed(stderr='Error from server (BadRequest): previous terminated container "backend" '
                                          'in pod "x" not found\n')})
    explain(c, resolve(c), Report())
    assert "log unavailable: Error from server (BadRequest): previous terminated container" in capsys.readouterr().out
