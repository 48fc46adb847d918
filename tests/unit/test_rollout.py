import base64
import json
import re

import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import failed, fixture, line, ok, preflight_ok, workloads_answer
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.report import Report
from todoops.rollout import diagnose, explain, release_rolled_out, rolled_out, slices, stuck, undo_hint, wait

KUBECTL = ["kubectl", "--context", "minikube", "--namespace", "todo-app"]
SELECTOR = "app.kubernetes.io/part-of=todo-app,app.kubernetes.io/instance=todo-app"
GET_PODS = line([*KUBECTL, "get", "pods", "-l", SELECTOR, "-o", "json"])
GET_EVENTS = line([*KUBECTL, "get", "events", "-o", "json"])
WORKLOADS = line([*KUBECTL, "get", "deployments,statefulsets", "-l", SELECTOR, "-o", "json"])
BACKEND_ROLLING = workloads_answer(["deployment.apps/todo-app-backend"], rolling=["deployment.apps/todo-app-backend"])
STATE = line([*KUBECTL, "get", "deployments,replicasets,statefulsets,pods", "-l", SELECTOR, "-o", "json"])
BACKEND_STATUS = line([*KUBECTL, "rollout", "status", "deployment.apps/todo-app-backend", "--timeout=5s"])
TIMED_OUT = failed(stdout='Waiting for deployment "todo-app-backend" rollout to finish: 1 old replicas are pending '
                          'termination...\n', stderr="error: timed out waiting for the condition\n")


def owned(kind: str, name: str) -> list[dict]:
    return [{"apiVersion": "apps/v1", "kind": kind, "name": name, "controller": True}]


def release_state(pods_fixture: str, revision: int = 2, unavailable: int = 1) -> dict:
    """A Deployment at ``revision`` whose new ReplicaSet (6f7d9c5b4) owns the fixture's new pod, the old one (7c9d…)."""
    def replicaset(name: str, rev: int) -> dict:
        return {"kind": "ReplicaSet", "metadata": {"name": name, "ownerReferences": owned("Deployment", "todo-app-backend"),
                                                    "annotations": {"deployment.kubernetes.io/revision": str(rev)}}}
    deployment = {"kind": "Deployment", "metadata": {"name": "todo-app-backend",
                                                     "annotations": {"deployment.kubernetes.io/revision": str(revision)}},
                  "spec": {"replicas": 1}, "status": {"updatedReplicas": 1, "unavailableReplicas": unavailable}}
    return {"items": [deployment, replicaset("todo-app-backend-6f7d9c5b4", revision),
                      replicaset("todo-app-backend-7c9d8b6f5", revision - 1), *fixture(pods_fixture)["items"]]}


def grouped(listing: dict) -> dict:
    found: dict = {}
    for item in listing["items"]:
        found.setdefault(item["kind"], []).append(item)
    return found


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
    status = BACKEND_STATUS
    c = make_context({WORKLOADS: BACKEND_ROLLING, status: failed(),
                      GET_PODS: ok(json.dumps(fixture("pods-image-pull.json"))),
                      GET_EVENTS: ok(json.dumps(fixture("events.json")))})
    assert release_rolled_out(c, resolve(c), Report()) is False
    assert commands_run(c) == [WORKLOADS, status, GET_PODS, GET_EVENTS]


def test_a_failed_workload_listing_is_not_taken_for_nothing_deployed(make_context):
    c = make_context({WORKLOADS: failed(stderr="Error from server (InternalError): etcdserver: request timed out\n")})
    with pytest.raises(Exit) as error:
        release_rolled_out(c, resolve(c), Report())
    assert error.value.code == ExitCode.FAILED and "etcdserver: request timed out" in error.value.message


def test_the_status_task_masks_the_clusters_secrets_in_quoted_logs(make_context, tmp_path, capsys):
    # A crashing backend logs its connection string; the password exists only in the cluster Secret.
    password = "Only-the-cluster-knows-7Hq2"
    url = f"postgresql://todo:{password}@todo-app-postgresql:5432/todo"
    secret = {"data": {"DATABASE_URL": base64.b64encode(url.encode()).decode()}}
    pod = "todo-app-backend-6f7d9c5b4-r5t7y"
    rollout = BACKEND_STATUS
    c = make_context({**preflight_ok(), WORKLOADS: BACKEND_ROLLING, rollout: failed(),
                      STATE: ok(json.dumps(release_state("pods-crash-loop.json"))),
                      line([*KUBECTL, "get", "secret", "todo-app-secrets", "-o", "json"]): ok(json.dumps(secret)),
                      GET_PODS: ok(json.dumps(fixture("pods-crash-loop.json"))),
                      GET_EVENTS: ok(json.dumps(fixture("events.json"))),
                      line([*KUBECTL, "logs", pod, "-c", "backend", "--tail=20", "--previous"]):
                          ok(f"sqlalchemy.exc.OperationalError: cannot connect to {url}\n")})
    with pytest.raises(Exit) as error:
        wait(c)
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


@pytest.mark.parametrize("pods", ["pods-crash-loop.json", "pods-image-pull.json", "pods-config-error.json",
                                  "pods-liveness-failure.json"])
def test_a_stuck_rollout_fails_at_the_first_slice_not_at_the_timeout(make_context, capsys, pods):
    c = make_context({WORKLOADS: BACKEND_ROLLING, BACKEND_STATUS: TIMED_OUT,
                      STATE: ok(json.dumps(release_state(pods))), GET_PODS: ok(json.dumps(fixture(pods))),
                      GET_EVENTS: ok(json.dumps(fixture("events.json"))), re.compile(r".* logs .*"): ok("boom\n")})
    assert release_rolled_out(c, resolve(c), Report()) is False
    assert commands_run(c).count(BACKEND_STATUS) == 1
    out = capsys.readouterr().out
    assert "not waiting for the timeout: every new pod of deployment/todo-app-backend" in out
    # kubectl's progress line is shown (once), although the slices run hidden.
    assert out.count("1 old replicas are pending termination") == 1


def test_a_rollout_still_starting_waits_out_the_whole_timeout_in_slices(make_context, capsys):
    # The new pod is scheduled and pulling: nothing stuck, so only the timeout ends the wait.
    state = release_state("pods-unschedulable.json")
    last = line([*KUBECTL, "rollout", "status", "deployment.apps/todo-app-backend", "--timeout=2s"])
    c = make_context({WORKLOADS: BACKEND_ROLLING, BACKEND_STATUS: TIMED_OUT,
                      last: TIMED_OUT, STATE: ok(json.dumps(state)),
                      GET_PODS: ok(json.dumps(fixture("pods-unschedulable.json"))),
                      GET_EVENTS: ok(json.dumps(fixture("events.json")))}, rollout_timeout=12)
    assert release_rolled_out(c, resolve(c), Report()) is False
    assert [command for command in commands_run(c) if "rollout status" in command] == [BACKEND_STATUS] * 2 + [last]
    assert "deployment.apps/todo-app-backend was not ready within 12s" in capsys.readouterr().out


def test_kubectls_own_verdict_ends_the_wait_at_once(make_context, capsys):
    deadline = failed(stderr='error: deployment "todo-app-backend" exceeded its progress deadline\n')
    c = make_context({WORKLOADS: BACKEND_ROLLING, BACKEND_STATUS: deadline,
                      GET_PODS: ok(json.dumps(fixture("pods-probe-failure.json"))),
                      GET_EVENTS: ok(json.dumps(fixture("events.json"))), re.compile(r".* logs .*"): ok()})
    assert release_rolled_out(c, resolve(c), Report()) is False
    assert STATE not in commands_run(c) and "exceeded its progress deadline" in capsys.readouterr().out


def test_workloads_rolled_out_already_are_not_waited_for(make_context):
    names = ["deployment.apps/todo-app-backend", "deployment.apps/todo-app-frontend"]
    c = make_context({WORKLOADS: workloads_answer(names, rolling=names[1:]),
                      line([*KUBECTL, "rollout", "status", names[1], "--timeout=5s"]): ok()})
    assert release_rolled_out(c, resolve(c), Report()) is True
    assert [command for command in commands_run(c) if "rollout status" in command] == [
        line([*KUBECTL, "rollout", "status", names[1], "--timeout=5s"])]


def deployment(**status) -> dict:
    return {"kind": "Deployment", "metadata": {"name": "web", "generation": 3}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2, **status}}


@pytest.mark.parametrize(("workload", "done"), [
    (deployment(), True),
    # The controller has not seen the latest spec yet: its status says nothing about it.
    (deployment(observedGeneration=2), False),
    (deployment(updatedReplicas=1), False),
    # An old pod still terminating, a new one not available yet.
    (deployment(replicas=3), False),
    (deployment(availableReplicas=1), False),
    ({"kind": "StatefulSet", "metadata": {"name": "db", "generation": 1}, "spec": {"replicas": 1},
      "status": {"observedGeneration": 1, "readyReplicas": 1, "currentRevision": "a", "updateRevision": "a"}}, True),
    ({"kind": "StatefulSet", "metadata": {"name": "db", "generation": 1}, "spec": {"replicas": 1},
      "status": {"observedGeneration": 1, "readyReplicas": 1, "currentRevision": "a", "updateRevision": "b"}}, False),
    ({"kind": "StatefulSet", "metadata": {"name": "db", "generation": 1}, "spec": {"replicas": 1},
      "status": {"observedGeneration": 1, "readyReplicas": 0, "currentRevision": "a", "updateRevision": "a"}}, False),
])
def test_rolled_out_is_what_rollout_status_waits_for(workload, done):
    assert rolled_out(workload) is done


def test_slices_add_up_to_the_timeout():
    assert slices(180) == [5] * 36 and slices(12) == [5, 5, 2] and slices(3) == [3] and slices(10) == [5, 5]


def test_only_the_new_pods_count_and_all_of_them_must_be_stuck():
    assert stuck(grouped(release_state("pods-crash-loop.json"))) == ["deployment/todo-app-backend (CrashLoopBackOff)"]
    # The crashing pod is the old revision's: the new one is healthy, nothing is stuck.
    state = grouped(release_state("pods-crash-loop.json"))
    state["Deployment"][0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "1"
    assert stuck(state) == []
    # A probe failure may pass (a slow start): not stuck.
    assert stuck(grouped(release_state("pods-probe-failure.json"))) == []


def test_a_statefulset_whose_image_cannot_be_pulled_is_stuck():
    pod = {"kind": "Pod", "metadata": {"name": "todo-app-postgresql-0", "labels": {"controller-revision-hash": "pg-2"},
                                       "ownerReferences": owned("StatefulSet", "todo-app-postgresql")},
           "status": {"containerStatuses": [{"name": "postgresql", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}}
    statefulset = {"kind": "StatefulSet", "metadata": {"name": "todo-app-postgresql"},
                   "status": {"updateRevision": "pg-2"}}
    assert stuck({"StatefulSet": [statefulset], "Pod": [pod]}) == ["statefulset/todo-app-postgresql (ImagePullBackOff)"]
    statefulset["status"]["updateRevision"] = "pg-3"
    assert stuck({"StatefulSet": [statefulset], "Pod": [pod]}) == []


def test_the_undo_hint_names_the_real_command_only_where_there_is_a_previous_revision(make_context):
    c = make_context({STATE: ok(json.dumps(release_state("pods-crash-loop.json", revision=2)))})
    assert undo_hint(c, resolve(c)) == ("fix the cause above and deploy again, or return to the previous version: "
                                        "kubectl --context minikube -n todo-app rollout undo deployment/todo-app-backend")
    c = make_context({STATE: ok(json.dumps(release_state("pods-crash-loop.json", revision=1)))})
    assert undo_hint(c, resolve(c)) == ("nothing to roll back to for todo-app-backend (a first revision): "
                                        "fix and deploy again")
    # Rolled out: only a StatefulSet failed, no Deployment to undo.
    c = make_context({STATE: ok(json.dumps(release_state("pods-crash-loop.json", unavailable=0)))})
    assert undo_hint(c, resolve(c)) == "fix the cause above and deploy again"


POSTGRES_POD = {"kind": "Pod", "metadata": {"name": "todo-app-postgresql-0", "ownerReferences":
                                            owned("StatefulSet", "todo-app-postgresql")},
                "status": {"phase": "Pending", "containerStatuses": [
                    {"name": "postgresql", "restartCount": 0, "image": "postgres:does-not-exist",
                     "state": {"waiting": {"reason": "ImagePullBackOff",
                                           "message": 'Back-off pulling image "postgres:does-not-exist"'}}}]}}


def test_a_database_that_cannot_start_is_the_cause_not_the_backends_probe(make_context, capsys):
    # Seen on minikube: postgres in ImagePullBackOff, the backend's /ready 503, diagnosed as a probe problem.
    backend = fixture("pods-probe-failure.json")
    pods = {"items": [*backend["items"], POSTGRES_POD]}
    c = make_context({GET_PODS: ok(json.dumps(pods)), GET_EVENTS: ok(json.dumps(fixture("events.json")))})
    diagnoses = explain(c, resolve(c), Report())
    out = capsys.readouterr().out.splitlines()
    assert diagnoses[0].statefulset == "todo-app-postgresql"
    assert out[0] == ("[fail] cause: statefulset todo-app-postgresql cannot start: todo-app-postgresql-0/postgresql: "
                      'image-pull (ImagePullBackOff) Back-off pulling image "postgres:does-not-exist"')
    assert any("todo-app-backend-6f7d9c5b4-h3j9k/backend: probe-failure: waits on statefulset todo-app-postgresql"
               in row for row in out)
    assert not any("check the probe path" in row for row in out)
    # No logs of the waiting backend: they only say the database is not there.
    assert not any(" logs " in command for command in commands_run(c))


def test_an_app_pod_with_a_cause_of_its_own_is_still_diagnosed_beside_the_database(make_context, capsys):
    pods = {"items": [*fixture("pods-config-error.json")["items"], POSTGRES_POD]}
    c = make_context({GET_PODS: ok(json.dumps(pods)), GET_EVENTS: ok(json.dumps(fixture("events.json")))})
    explain(c, resolve(c), Report())
    assert "invoke prepare-secrets" in capsys.readouterr().out


def test_repeated_log_lines_are_shown_once_with_their_count(make_context, capsys):
    pod = "todo-app-backend-6f7d9c5b4-r5t7y"
    logs = line([*KUBECTL, "logs", pod, "-c", "backend", "--tail=20", "--previous"])
    retry = [f'{{"ts": "2026-12-01T22:5{i}:0{i}.123+00:00", "level": "warning", "msg": "database not reachable"}}'
             for i in range(6)]
    c = make_context({GET_PODS: ok(json.dumps(fixture("pods-crash-loop.json"))),
                      GET_EVENTS: ok(json.dumps(fixture("events.json"))),
                      logs: ok("\n".join(["starting", *retry, "starting", "giving up"]) + "\n")})
    explain(c, resolve(c), Report())
    shown = [row for row in capsys.readouterr().out.splitlines() if "log |" in row]
    assert shown == ["[info]   log | starting (repeated 2 times)",
                     f"[info]   log | {retry[0]} (repeated 6 times)", "[info]   log | giving up"]


def test_an_app_crashing_while_the_database_still_starts_is_not_stuck_yet():
    state = grouped(release_state("pods-crash-loop.json"))
    database = {"kind": "Pod", "metadata": {"name": "todo-app-postgresql-0",
                                            "labels": {"controller-revision-hash": "pg-1"},
                                            "ownerReferences": owned("StatefulSet", "todo-app-postgresql")},
                "status": {"containerStatuses": [{"name": "postgresql", "state": {"running": {}}, "ready": False}]}}
    state["StatefulSet"] = [{"kind": "StatefulSet", "metadata": {"name": "todo-app-postgresql"},
                             "status": {"updateRevision": "pg-1"}}]
    state["Pod"] = [*state["Pod"], database]
    assert stuck(state) == []
    # Once the database is ready the app's crash loop is its own: stuck.
    database["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert stuck(state) == ["deployment/todo-app-backend (CrashLoopBackOff)"]
