import json

import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import failed, fixture, http_lines, line, ok, preflight_ok, project, release
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.images import BuiltImage, planned_images
from todoops.validate import (deployment_checks, endpoint_checks, exit_code, image_checks, ingress_checks, log_check,
                              ready_time_check, restart_checks, size_checks, validate)

KUBECTL = ["kubectl", "--context", "minikube", "--namespace", "todo-app"]
SELECTOR = "app.kubernetes.io/part-of=todo-app,app.kubernetes.io/instance=todo-app"
OBJECTS = line([*KUBECTL, "get", "deployments,statefulsets,pods,services,endpointslices,ingresses", "-l", SELECTOR,
                "-o", "json"])
LOGS = line([*KUBECTL, "logs", "-l", SELECTOR, "--all-containers", "--prefix", "--tail=200", "--max-log-requests=20"])
CLASSES = line([*KUBECTL, "get", "ingressclasses", "-o", "name"])
HTTP = http_lines(KUBECTL)
BACKEND = BuiltImage("backend", "todo-backend", "3b8e1f0c9a7d", "todo-backend:3b8e1f0c9a7d", "sha256:aa", 197_000_000)


def healthy_answers(tmp_path, make_context) -> tuple[dict, list[BuiltImage]]:
    project(tmp_path)
    images = planned_images(resolve(make_context()))
    inspect = {line(["docker", "image", "inspect", "--format", "{{.Id}} {{.Size}}", image.ref]): ok("sha256:zz 99")
               for image in images}
    answers = {**preflight_ok(), **inspect, OBJECTS: ok(json.dumps(release(images))), LOGS: ok("INFO started\n"),
               CLASSES: ok("ingressclass.networking.k8s.io/nginx\n"), **{command: ok("ok") for command in HTTP}}
    return answers, images


def test_healthy_release_exits_zero_with_every_check_in_json(make_context, tmp_path, capsys):
    answers, _ = healthy_answers(tmp_path, make_context)
    c = make_context(answers)
    validate(c, json=True)
    found = {check["name"]: check["status"] for check in json.loads(capsys.readouterr().out)}
    assert set(found.values()) == {"ok"}
    assert {"deployment todo-app-backend", "image frontend", "restarts", "service todo-app-frontend",
            "http backend /ready", "logs", "ingress todo-app", "pods ready time"} <= set(found)
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


def test_wait_uses_kubectl_wait_not_sleep(make_context, tmp_path):
    answers, _ = healthy_answers(tmp_path, make_context)
    wait = line([*KUBECTL, "wait", "--for=condition=Available", "deployment", "-l", SELECTOR, "--timeout=60s"])
    c = make_context({**answers, wait: ok()})
    validate(c, wait=60)
    assert commands_run(c)[0] == wait


def test_exit_code_priority():
    from todoops.preflight import Check
    unhealthy = Check("a", "fail", "", "", ExitCode.UNHEALTHY)
    assert exit_code([unhealthy, Check("b", "fail", "", "", ExitCode.NOT_DEPLOYED)]) == ExitCode.NOT_DEPLOYED
    assert exit_code([unhealthy]) == ExitCode.UNHEALTHY
    assert exit_code([Check("c", "warn", "")]) is None


def test_image_check_ignores_terminating_pods_of_the_old_version():
    current = fixture("pods-healthy.json")["items"][0]
    old = json.loads(json.dumps(current))
    old["metadata"]["name"] = "todo-app-backend-6d6446577-zc4vc"
    old["status"]["containerStatuses"][0].update(image="docker.io/library/todo-backend:0ld0ld0ld0ld",
                                                 imageID="sha256:bb")
    assert image_checks([current, old], [BACKEND])[0].status == "fail"
    # Right after a rollout the old ReplicaSet's pods are still terminating: they no longer count.
    old["metadata"]["deletionTimestamp"] = "2026-11-22T03:44:30Z"
    assert image_checks([current, old], [BACKEND])[0].status == "ok"


def test_pure_checks_on_recorded_pods():
    crash = fixture("pods-crash-loop.json")["items"]
    assert restart_checks(crash)[0].status == "fail"
    liveness = fixture("pods-liveness-failure.json")["items"]
    assert "crash loop" in restart_checks(liveness)[0].detail
    [check] = image_checks(fixture("pods-healthy.json")["items"][:1], [BACKEND])
    assert check.status == "ok"
    stale = BuiltImage("backend", "todo-backend", "ffffffffffff", "todo-backend:ffffffffffff")
    assert image_checks(fixture("pods-healthy.json")["items"], [stale])[0].status == "fail"
    assert deployment_checks([{"metadata": {"name": "d"}, "spec": {"replicas": 2},
                               "status": {"availableReplicas": 1, "updatedReplicas": 2}}])[0].status == "fail"
    assert endpoint_checks([{"metadata": {"name": "s"}}], [])[0].status == "fail"
    assert ingress_checks([{"metadata": {"name": "i"}, "spec": {"ingressClassName": "nginx"}}], "")[0].status == "warn"
    assert log_check('{"level": "error", "msg": "db down"}\nINFO ok\n')[0].status == "warn"
    assert ready_time_check(fixture("pods-healthy.json")["items"])[0].detail == "slowest 9s"
    assert size_checks([BuiltImage("backend", "b", "t", "b:t", size=712_000_000)])[0].detail == "712 MB > 300 MB"
