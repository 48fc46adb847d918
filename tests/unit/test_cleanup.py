import json

import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import failed, line, not_found, ok, release_not_found
from todoops.cleanup import KINDS, clean_release
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.report import Report

KUBECTL = ["kubectl", "--context", "todoops-e2e", "--namespace", "todo-app"]
SELECTOR = "app.kubernetes.io/part-of=todo-app,app.kubernetes.io/instance=todo-app"
HELM_STATUS = line(["helm", "--kube-context", "todoops-e2e", "--namespace", "todo-app", "status", "todo-app", "-o",
                    "json"])
LISTED = line([*KUBECTL, "get", ",".join(KINDS), "-l", SELECTOR, "-o", "name"])
NAMESPACE = line([*KUBECTL, "get", "namespace", "todo-app", "-o", "json"])
CTR = ["ctr", "--address", "/run/e2e/containerd.sock", "-n", "k8s.io"]
IMAGES = line([*CTR, "images", "ls", "-q"])
CONFIG = {"context": "todoops-e2e", "provider": "containerd", "containerd": {"address": "/run/e2e/containerd.sock"}}
OBJECTS = "ingress.networking.k8s.io/todo-app\nservice/todo-app-backend\ndeployment.apps/todo-app-backend\n" \
          "secret/todo-app-secrets\n"
OURS = json.dumps({"metadata": {"labels": {"app.kubernetes.io/managed-by": "todoops"}}})
# Foreground: the delete returns once the pods are gone too, so nothing labelled is left behind.
DELETE_OBJECTS = line([*KUBECTL, "delete", *OBJECTS.split(), "--ignore-not-found", "--wait=true",
                       "--cascade=foreground"])
REMOVE_IMAGES = line([*CTR, "images", "rm", "docker.io/library/todo-backend:abc", "docker.io/library/todo-frontend:def"])
DELETE_NAMESPACE = line([*KUBECTL, "delete", "namespace", "todo-app", "--ignore-not-found", "--wait=true"])
PODS = line(["kubectl", "--context", "todoops-e2e", "get", "pods", "--all-namespaces", "--no-headers", "-o",
             "custom-columns=NAMESPACE:.metadata.namespace,IMAGES:.spec.containers[*].image"])
EVERYTHING = line([*KUBECTL, "get", ",".join(KINDS), "-o", "name"])


def deployed(**overrides) -> dict:
    return {HELM_STATUS: release_not_found(), LISTED: ok(OBJECTS), NAMESPACE: ok(OURS),
            IMAGES: ok("docker.io/library/todo-backend:abc\ndocker.io/library/todo-frontend:def\n"
                       "docker.io/library/postgres:15\n"), DELETE_OBJECTS: ok(), REMOVE_IMAGES: ok(),
            DELETE_NAMESPACE: ok(), PODS: ok("todo-app   todo-backend:abc,todo-frontend:def\n"),
            EVERYTHING: ok(OBJECTS + "configmap/kube-root-ca.crt\nserviceaccount/default\n"), **overrides}


def test_removes_labelled_objects_images_and_our_namespace_in_reverse_order(make_context):
    c = make_context(deployed(), **CONFIG)
    clean_release(c, resolve(c), Report(), yes=True)
    assert commands_run(c)[-3:] == [DELETE_OBJECTS, REMOVE_IMAGES, DELETE_NAMESPACE]


def test_helm_release_is_uninstalled_first(make_context):
    uninstall = line(["helm", "--kube-context", "todoops-e2e", "--namespace", "todo-app", "uninstall", "todo-app",
                      "--wait", "--timeout", "180s"])
    c = make_context(deployed(**{HELM_STATUS: ok(json.dumps({"info": {"status": "deployed"}, "version": 2})),
                                 uninstall: ok()}), **CONFIG)
    clean_release(c, resolve(c), Report(), yes=True)
    assert commands_run(c)[6:] == [uninstall, DELETE_OBJECTS, REMOVE_IMAGES, DELETE_NAMESPACE]


def test_a_namespace_we_did_not_create_stays(make_context):
    c = make_context(deployed(**{NAMESPACE: ok(json.dumps({"metadata": {"labels": {}}}))}), **CONFIG)
    clean_release(c, resolve(c), Report(), yes=True)
    assert DELETE_NAMESPACE not in commands_run(c)


def test_our_namespace_stays_when_it_holds_objects_we_did_not_create(make_context, capsys):
    c = make_context(deployed(**{EVERYTHING: ok(OBJECTS + "configmap/someone-elses\nserviceaccount/default\n")}),
                     **CONFIG)
    clean_release(c, resolve(c), Report(), yes=True)
    assert DELETE_OBJECTS in commands_run(c) and DELETE_NAMESPACE not in commands_run(c)
    assert "namespace todo-app kept: it holds 1 object(s) the suite did not create (configmap/someone-elses)" \
        in capsys.readouterr().out


def test_images_another_namespace_runs_stay_on_the_node(make_context):
    remove_frontend = line([*CTR, "images", "rm", "docker.io/library/todo-frontend:def"])
    pods = ok("todo-app   todo-backend:abc,todo-frontend:def\nother   todo-backend:abc\n")
    c = make_context(deployed(**{PODS: pods, remove_frontend: ok()}), **CONFIG)
    clean_release(c, resolve(c), Report(), yes=True)
    assert remove_frontend in commands_run(c) and REMOVE_IMAGES not in commands_run(c)


def test_dry_run_lists_and_deletes_nothing(make_context, capsys):
    c = make_context(deployed(), **CONFIG)
    clean_release(c, resolve(c, dry_run=True), Report(), yes=False)
    assert commands_run(c) == [HELM_STATUS, LISTED, IMAGES, PODS, NAMESPACE, EVERYTHING]
    out = capsys.readouterr().out
    assert "would remove: 4 labelled object(s)" in out and "would remove: namespace todo-app" in out


def test_needs_yes_off_a_terminal_and_respects_no(make_context):
    c = make_context(deployed(), **CONFIG)
    with pytest.raises(Exit) as error:
        clean_release(c, resolve(c), Report(), yes=False)
    assert error.value.code == ExitCode.BAD_INPUT and "--yes" in error.value.message
    with pytest.raises(Exit):
        clean_release(c, resolve(c), Report(), yes=False, confirm=lambda question: False)
    assert DELETE_OBJECTS not in commands_run(c)


def test_second_run_finds_nothing_and_succeeds(make_context, capsys):
    c = make_context({HELM_STATUS: release_not_found(), LISTED: ok(""), IMAGES: ok("docker.io/library/postgres:15\n"),
                      NAMESPACE: not_found("namespaces", "todo-app")}, **CONFIG)
    clean_release(c, resolve(c), Report(), yes=False)
    assert "nothing to clean" in capsys.readouterr().out


def test_local_images_on_request(make_context):
    listing = line(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter=reference=todo-backend",
                    "--filter=reference=todo-frontend"])
    remove = line(["docker", "image", "rm", "todo-backend:abc"])
    c = make_context(deployed(**{listing: ok("todo-backend:abc\n"), remove: ok()}), **CONFIG)
    clean_release(c, resolve(c), Report(), yes=True, local_images=True)
    assert commands_run(c)[-2:] == [remove, DELETE_NAMESPACE]
