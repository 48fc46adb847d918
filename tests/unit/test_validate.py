import contextlib
import json

import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import failed, fixture, line, ok
from tests.unit.fixtures.validate import (CLASSES, CLUSTER_PASSWORD, DATABASE_URL, HTTP, KUBECTL, LOGS, OBJECTS,
                                         SELECTOR, healthy_answers)
from todoops.errors import ExitCode
from todoops.validate import (endpoint_checks, exit_code, ingress_checks, log_check, ready_time_check, restart_checks,
                              validate, waiting_checks, workload_checks)


def test_healthy_release_exits_zero_with_every_check_in_json(make_context, tmp_path, capsys):
    answers, _ = healthy_answers(tmp_path, make_context)
    c = make_context(answers)
    validate(c, json=True)
    found = {check["name"]: check["status"] for check in json.loads(capsys.readouterr().out)}
    assert set(found.values()) == {"ok"}
    assert {"deployment todo-app-backend", "image frontend", "restarts", "service todo-app-frontend",
            "http backend /ready", "logs", "ingress todo-app", "pods ready time", "resources backend",
            "resources frontend"} <= set(found)
    assert CLASSES in commands_run(c)


def test_unreachable_cluster(make_context, tmp_path):
    answers, _ = healthy_answers(tmp_path, make_context)
    answers[line(["kubectl", "--context", "minikube", "get", "--raw", "/readyz", "--request-timeout", "5s"])] = failed()
    with pytest.raises(Exit) as error:
        validate(make_context(answers))
    assert error.value.code == ExitCode.UNREACHABLE


def test_nothing_deployed(make_context, tmp_path):
    answers, _ = healthy_answers(tmp_path, make_context)
    answers[OBJECTS] = ok(json.dumps({"kind": "List", "items": []}))
    with pytest.raises(Exit) as error:
        validate(make_context(answers))
    assert error.value.code == ExitCode.NOT_DEPLOYED


def test_unhealthy_when_an_endpoint_fails(make_context, tmp_path, capsys):
    answers, _ = healthy_answers(tmp_path, make_context)
    answers[HTTP[1]] = failed(stderr='Error from server (ServiceUnavailable): the server is currently unable')
    with pytest.raises(Exit) as error:
        validate(make_context(answers))
    assert error.value.code == ExitCode.UNHEALTHY
    row = next(r for r in capsys.readouterr().out.splitlines() if r.startswith("http backend /ready"))
    assert row.split()[3:5] == ["fail", "Error"]


@pytest.mark.parametrize("on_its_way_out, code", [(True, None), (False, ExitCode.UNHEALTHY)])
def test_a_crash_looping_pod_counts_unless_it_is_being_deleted(make_context, tmp_path, on_its_way_out, code):
    """Right after a rollback the broken ReplicaSet's pods still crash while they are deleted: they are gone."""
    answers, _ = healthy_answers(tmp_path, make_context)
    objects = json.loads(answers[OBJECTS].stdout)
    broken = json.loads(json.dumps(next(item for item in objects["items"] if item["kind"] == "Pod")))
    broken["metadata"]["name"] += "-broken"
    broken["status"]["containerStatuses"][0].update(image="todo-backend:0ld0ld0ld0ld", imageID="sha256:bb",
                                                    state={"waiting": {"reason": "CrashLoopBackOff"}})
    if on_its_way_out:
        broken["metadata"]["deletionTimestamp"] = "2026-12-02T05:54:31Z"
    answers[OBJECTS] = ok(json.dumps({**objects, "items": [*objects["items"], broken]}))
    with pytest.raises(Exit) if code else contextlib.nullcontext() as error:
        validate(make_context(answers))
    assert (error.value.code if code else None) == code


def test_wait_is_for_each_rollout_to_complete_not_a_sleep(make_context, tmp_path):
    answers, _ = healthy_answers(tmp_path, make_context)
    wait = line([*KUBECTL, "rollout", "status", "deployment", "-l", SELECTOR, "--timeout=60s"])
    c = make_context({**answers, wait: ok()})
    validate(c, wait=60)
    assert commands_run(c)[0] == wait


def test_exit_code_priority():
    from todoops.checks import Check
    unhealthy = Check("a", "fail", "", "", ExitCode.UNHEALTHY)
    assert exit_code([unhealthy, Check("b", "fail", "", "", ExitCode.NOT_DEPLOYED)]) == ExitCode.NOT_DEPLOYED
    assert exit_code([unhealthy]) == ExitCode.UNHEALTHY
    assert exit_code([Check("c", "warn", "")]) is None
    # A host whose checks could not run at all outweighs another host's findings.
    assert exit_code([unhealthy, Check("d", "fail", "", "", ExitCode.FAILED)]) == ExitCode.FAILED
    assert exit_code([Check("d", "fail", "", "", ExitCode.FAILED),
                      Check("e", "fail", "", "", ExitCode.UNREACHABLE)]) == ExitCode.UNREACHABLE


def test_pure_checks_on_recorded_pods():
    crash = fixture("pods-crash-loop.json")["items"]
    assert restart_checks(crash)[0].status == "fail"
    liveness = fixture("pods-liveness-failure.json")["items"]
    assert "crash loop" in restart_checks(liveness)[0].detail
    assert workload_checks([{"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 2},
                               "status": {"availableReplicas": 1, "updatedReplicas": 2}}])[0].status == "fail"
    assert endpoint_checks([{"metadata": {"name": "s"}}], [])[0].status == "fail"
    assert ingress_checks([{"metadata": {"name": "i"}, "spec": {"ingressClassName": "nginx"}}], "")[0].status == "warn"
    assert log_check('{"level": "error", "msg": "db down"}\nINFO ok\n')[0].status == "warn"
    assert ready_time_check(fixture("pods-healthy.json")["items"])[0].detail == "slowest 9s"


@pytest.mark.parametrize("json_mode", [False, True])
def test_log_lines_are_quoted_without_the_clusters_secrets(make_context, tmp_path, capsys, json_mode):
    answers, _ = healthy_answers(tmp_path, make_context)
    answers[LOGS] = ok(f'[pod/todo-app-backend-1/backend] ERROR cannot reach {DATABASE_URL}\n'
                       f'[pod/todo-app-backend-1/backend] {{"level": "error", "password": "{CLUSTER_PASSWORD}"}}\n')
    validate(make_context(answers), json=json_mode)
    out = capsys.readouterr()
    assert CLUSTER_PASSWORD not in out.out + out.err
    logs = next(check for check in json.loads(out.out) if check["name"] == "logs") if json_mode else None
    assert logs is None or (logs["status"] == "warn" and '"password": "***"' in logs["detail"])


def test_logs_that_could_not_be_read_are_not_reported_clean(make_context, tmp_path, capsys):
    answers, _ = healthy_answers(tmp_path, make_context)
    answers[LOGS] = failed(stderr="Error from server (Forbidden): pods \"x\" is forbidden: cannot get pods/log\n")
    validate(make_context(answers), json=True)
    logs = next(check for check in json.loads(capsys.readouterr().out) if check["name"] == "logs")
    assert logs["status"] == "warn" and "could not be read" in logs["detail"] and "Forbidden" in logs["detail"]


def test_objects_that_could_not_be_listed_are_not_reported_as_not_deployed(make_context, tmp_path):
    answers, _ = healthy_answers(tmp_path, make_context)
    answers[OBJECTS] = failed(stderr="Unable to connect to the server: net/http: TLS handshake timeout\n")
    with pytest.raises(Exit) as error:
        validate(make_context(answers))
    assert error.value.code == ExitCode.UNREACHABLE and "TLS handshake timeout" in error.value.message


def test_every_hosts_results_are_shown_and_the_exit_code_is_the_worst(make_context, tmp_path, capsys, monkeypatch):
    from contextlib import contextmanager

    from todoops.remote import hosts

    answers, _ = healthy_answers(tmp_path, make_context)
    c = make_context(answers)

    @contextmanager
    def fake_target(cfg, target):
        if target.host == "down":
            raise Exit("error: on b@down: cannot resolve host 'down' (b@down)\nhint: check the name", code=4)
        yield c

    monkeypatch.setattr(hosts, "on_target", fake_target)
    with pytest.raises(Exit) as error:
        validate(c, json=True, host="a@up,b@down")
    found = {check["name"]: check["status"] for check in json.loads(capsys.readouterr().out)}
    assert error.value.code == ExitCode.UNREACHABLE
    assert found["b@down: host"] == "fail" and found["a@up: http backend /ready"] == "ok"



def postgres(image: str, state: dict, ready: int) -> list[dict]:
    """The release's StatefulSet (spec image ``image``) and its one pod in ``state``."""
    statefulset = {"kind": "StatefulSet", "metadata": {"name": "todo-app-postgresql"}, "spec": {
        "replicas": 1, "template": {"spec": {"containers": [{"name": "postgresql", "image": image}]}}},
        "status": {"readyReplicas": ready, "updatedReplicas": 1}}
    pod = {"kind": "Pod", "metadata": {"name": "todo-app-postgresql-0", "labels": {}, "ownerReferences": [
        {"kind": "StatefulSet", "name": "todo-app-postgresql", "controller": True}]},
        "status": {"containerStatuses": [{"name": "postgresql", "image": image, "restartCount": 0, "state": state}]}}
    return [statefulset, pod]


def with_objects(answers: dict, *extra: dict) -> dict:
    objects = json.loads(answers[OBJECTS].stdout)
    return {**answers, OBJECTS: ok(json.dumps({**objects, "items": objects["items"] + list(extra)}))}


def test_a_database_that_cannot_pull_its_image_fails_validate(make_context, tmp_path, capsys):
    # Seen on minikube: postgres in ImagePullBackOff, and validate said `restarts ok none`.
    answers, _ = healthy_answers(tmp_path, make_context)
    waiting = {"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "postgres:does-not-exist"'}}
    with pytest.raises(Exit) as error:
        validate(make_context(with_objects(answers, *postgres("postgres:does-not-exist", waiting, 0))), json=True)
    found = {check["name"]: check for check in json.loads(capsys.readouterr().out)}
    assert error.value.code == ExitCode.UNHEALTHY
    assert found["statefulset todo-app-postgresql"]["status"] == "fail"
    assert found["statefulset todo-app-postgresql"]["detail"] == "0/1 ready, 1 updated"
    assert found["image postgresql"]["detail"] == "todo-app-postgresql-0 not running postgres:does-not-exist"
    assert found["waiting"]["status"] == "fail"
    assert found["waiting"]["detail"] == "todo-app-postgresql-0/postgresql ImagePullBackOff (postgres:does-not-exist)"


def test_a_running_database_passes_on_the_image_its_spec_names(make_context, tmp_path, capsys):
    answers, _ = healthy_answers(tmp_path, make_context)
    statefulset, pod = postgres("postgres:15", {"running": {"startedAt": "2026-12-01T22:00:00Z"}}, 1)
    pod["status"]["containerStatuses"][0]["image"] = "docker.io/library/postgres:15"
    validate(make_context(with_objects(answers, statefulset, pod)), json=True)
    found = {check["name"]: check for check in json.loads(capsys.readouterr().out)}
    assert found["statefulset todo-app-postgresql"]["detail"] == "1/1 ready"
    assert found["image postgresql"]["detail"] == "1 pod(s) on postgres:15" and found["waiting"]["status"] == "ok"


def test_a_missing_secret_key_is_a_waiting_pod_and_a_crash_loop_stays_the_restarts_check():
    [config] = waiting_checks(fixture("pods-config-error.json")["items"])
    assert config.status == "fail" and "CreateContainerConfigError" in config.detail
    assert waiting_checks(fixture("pods-crash-loop.json")["items"])[0].status == "ok"
