"""`invoke clean` against a strict MockContext: what it removes, in which order, and what it keeps and why."""
import json

import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import failed, line, not_found, ok, project, release_not_found
from tests.unit.fixtures.cleanup import (CONFIG, CTR, DELETE_NAMESPACE, DELETE_OBJECTS, DISCOVER, EVERYTHING, IMAGES,
                                         KINDS, KUBECTL, LABELS, NAMESPACE, PODS, REMOVE_IMAGES, clean, deployed,
                                         listing, thing)
from todoops.cleanup import clean_release
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.loaded import record, record_path, recorded
from todoops.report import Report

HELM = ["helm", "--kube-context", "microk8s", "--namespace", "todo-app"]
METADATA = line([*HELM, "get", "metadata", "todo-app", "-o", "json"])
UNINSTALL = line([*HELM, "uninstall", "todo-app", "--wait", "--timeout", "180s"])


@pytest.fixture(autouse=True)
def suite_loaded(make_context):
    """The deploy before clean loaded the app's two images (postgres:15 was on the node already)."""
    record(resolve(make_context(**CONFIG)), ["todo-backend:abc", "todo-frontend:def"])


def test_removes_labelled_objects_images_and_our_namespace_in_reverse_order(make_context):
    commands, _ = clean(make_context, deployed())
    assert commands == [DISCOVER, EVERYTHING, IMAGES, PODS, NAMESPACE, DELETE_OBJECTS, REMOVE_IMAGES,
                        DELETE_NAMESPACE]


def helm_record(release: str = "todo-app") -> dict:
    return thing("Secret", f"sh.helm.release.v1.{release}.v1", labels={"owner": "helm", "name": release})


def helm_managed(obj: dict, release: str = "todo-app") -> dict:
    obj["metadata"]["annotations"] = {"meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": "todo-app"}
    return obj


def test_our_helm_release_goes_first_and_its_record_does_not_keep_the_namespace(make_context, tmp_path):
    project(tmp_path)
    objects = [helm_managed(thing("Service", "todo-app-frontend", labels=LABELS)), helm_record()]
    answers = deployed(*objects, **{METADATA: ok(json.dumps({"chart": "todo-app", "status": "deployed"})),
                                    UNINSTALL: ok()})
    delete = line([*KUBECTL, "delete", "ingress.networking.k8s.io/todo-app", "service/todo-app-backend",
                   "service/todo-app-frontend", "deployment.apps/todo-app-backend", "secret/todo-app-secrets",
                   "--ignore-not-found", "--wait=true", "--cascade=foreground"])
    commands, _ = clean(make_context, {**answers, delete: ok()})
    # One clean is enough with --method helm: the namespace goes in the same run.
    assert commands[-4:] == [UNINSTALL, delete, REMOVE_IMAGES, DELETE_NAMESPACE]


@pytest.mark.parametrize(("chart", "labels", "why"), [
    ("wordpress", {}, "it is chart 'wordpress', not 'todo-app'"),
    # This chart's name, but installed by someone else with other labels.
    ("todo-app", {"app.kubernetes.io/instance": "todo-app"}, "its objects lack the release's labels "
                                                             "(deployment.apps/blog)"),
])
def test_a_foreign_helm_release_of_our_name_is_kept_and_keeps_the_namespace(make_context, tmp_path, capsys, chart,
                                                                             labels, why):
    project(tmp_path)
    theirs = [helm_managed(thing("Deployment", "blog", "apps/v1", labels)), helm_record()]
    commands, out = clean(make_context, deployed(*theirs, **{METADATA: ok(json.dumps({"chart": chart}))}), capsys)
    assert UNINSTALL not in commands and DELETE_NAMESPACE not in commands and DELETE_OBJECTS in commands
    assert f"helm release todo-app kept: {why}" in out
    assert "namespace todo-app kept: it holds 2 object(s) the suite did not create" in out


def test_no_helm_record_no_helm_command(make_context):
    # kubectl users need no helm at all: helm is asked only about a release the namespace records.
    commands, _ = clean(make_context, deployed())
    assert not [command for command in commands if command.startswith("helm ")]


def test_a_namespace_we_did_not_create_stays(make_context):
    commands, _ = clean(make_context, deployed(**{NAMESPACE: ok(json.dumps({"metadata": {"labels": {}}}))}))
    assert DELETE_NAMESPACE not in commands


@pytest.mark.parametrize("foreign", [
    thing("ConfigMap", "someone-elses"),
    thing("Pod", "debug-shell"),
    thing("Job", "backup", "batch/v1"),
    thing("CronJob", "nightly", "batch/v1"),
    thing("Role", "reader", "rbac.authorization.k8s.io/v1"),
    thing("Widget", "w1", "example.com/v1"),
    # Labelled as another release of the same app: not ours either.
    thing("ConfigMap", "other", labels={**LABELS, "app.kubernetes.io/instance": "todo-app-2"}),
    # Made by Kubernetes, but for someone else's object.
    thing("Pod", "backup-x7", owner="Job/backup"),
], ids=lambda obj: f"{obj['kind']}/{obj['metadata']['name']}")
def test_our_namespace_stays_when_it_holds_any_object_we_did_not_create(make_context, capsys, foreign):
    commands, out = clean(make_context, deployed(foreign), capsys)
    assert DELETE_OBJECTS in commands and DELETE_NAMESPACE not in commands
    group = foreign["apiVersion"].rpartition("/")[0]
    ref = f"{foreign['kind'].lower()}{'.' + group if group else ''}/{foreign['metadata']['name']}"
    assert f"namespace todo-app kept: it holds 1 object(s) the suite did not create ({ref})" in out


def test_what_kubernetes_makes_for_our_objects_is_ours(make_context):
    statefulset = thing("StatefulSet", "todo-app-postgresql", "apps/v1", LABELS,
                        spec={"volumeClaimTemplates": [{"metadata": {"name": "data"}}]})
    made = [thing("ControllerRevision", "todo-app-postgresql-5d8", "apps/v1", owner="StatefulSet/todo-app-postgresql"),
            thing("Pod", "todo-app-postgresql-0", owner="StatefulSet/todo-app-postgresql"),
            # The claim of the StatefulSet's volume template, even without labels.
            thing("PersistentVolumeClaim", "data-todo-app-postgresql-0")]
    delete = line([*KUBECTL, "delete", "ingress.networking.k8s.io/todo-app", "service/todo-app-backend",
                   "deployment.apps/todo-app-backend", "statefulset.apps/todo-app-postgresql", "secret/todo-app-secrets",
                   "--ignore-not-found", "--wait=true", "--cascade=foreground"])
    commands, _ = clean(make_context, {**deployed(statefulset, *made), delete: ok()})
    assert commands[-3:] == [delete, REMOVE_IMAGES, DELETE_NAMESPACE]


@pytest.mark.parametrize("listing_", [DISCOVER, EVERYTHING, IMAGES, PODS, NAMESPACE])
def test_a_failed_listing_stops_clean_before_anything_is_deleted(make_context, listing_):
    answers = deployed(**{listing_: failed(stderr="Error from server (ServiceUnavailable): the server is currently "
                                                   "unable to handle the request\n")})
    c = make_context(answers, **CONFIG)
    with pytest.raises(Exit) as error:
        clean_release(c, resolve(c), Report(), yes=True)
    assert error.value.code == ExitCode.FAILED and "ServiceUnavailable" in error.value.message
    assert not [command for command in commands_run(c) if " delete " in command or " rm " in command]


def test_a_failed_helm_read_stops_clean_before_anything_is_deleted(make_context, tmp_path):
    project(tmp_path)
    answers = deployed(helm_record(), **{METADATA: failed(stderr="Error: Kubernetes cluster unreachable: dial tcp "
                                                                 "127.0.0.1:6443: connect: connection refused\n")})
    c = make_context(answers, **CONFIG)
    with pytest.raises(Exit) as error:
        clean_release(c, resolve(c), Report(), yes=True)
    assert error.value.code == ExitCode.UNREACHABLE
    assert commands_run(c) == [DISCOVER, EVERYTHING, METADATA]


def test_a_record_without_a_release_is_not_uninstalled(make_context, tmp_path, capsys):
    project(tmp_path)
    commands, out = clean(make_context, deployed(helm_record(), **{METADATA: release_not_found()}), capsys)
    assert UNINSTALL not in commands and "namespace todo-app kept" in out


def test_images_another_namespace_runs_stay_on_the_node(make_context):
    remove_frontend = line([*CTR, "images", "rm", "docker.io/library/todo-frontend:def"])
    pods = ok("todo-app   todo-backend:abc,todo-frontend:def\nother   todo-backend:abc\n")
    commands, _ = clean(make_context, deployed(**{PODS: pods, remove_frontend: ok()}))
    assert remove_frontend in commands and REMOVE_IMAGES not in commands


def test_dry_run_lists_and_deletes_nothing(make_context, capsys):
    commands, out = clean(make_context, deployed(), capsys, dry_run=True, yes=False)
    assert commands == [DISCOVER, EVERYTHING, IMAGES, PODS, NAMESPACE]
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
    answers = {DISCOVER: ok("\n".join(KINDS)), EVERYTHING: listing(), IMAGES: ok("docker.io/library/postgres:15\n"),
               NAMESPACE: not_found("namespaces", "todo-app")}
    _, out = clean(make_context, answers, capsys, yes=False)
    assert "nothing to clean" in out


def test_local_images_on_request(make_context):
    local = line(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter=reference=todo-backend",
                  "--filter=reference=todo-frontend"])
    remove = line(["docker", "image", "rm", "todo-backend:abc"])
    commands, _ = clean(make_context, deployed(**{local: ok("todo-backend:abc\n"), remove: ok()}), local_images=True)
    assert commands[-2:] == [remove, DELETE_NAMESPACE]


# -- Exactly the images the suite loaded leave the node, and a removal the node refuses fails clean.

MINIKUBE = ["minikube", "-p", "minikube"]
MINIKUBE_IMAGES = line([*MINIKUBE, "image", "ls", "--format", "json"])
MINIKUBE_PODS = line(["kubectl", "--context", "minikube", "get", "pods", "--all-namespaces", "--no-headers", "-o",
                      "custom-columns=NAMESPACE:.metadata.namespace,IMAGES:.spec.containers[*].image"])
# `minikube image ls --format json` of a containerd-runtime node: the user's own `latest` shares the run tag's image.
NODE = json.dumps([
    {"id": "sha256:b1", "repoDigests": [], "repoTags": ["docker.io/library/todo-backend:abc",
                                                         "docker.io/library/todo-backend:latest"], "size": "81234567"},
    {"id": "sha256:f1", "repoDigests": [], "repoTags": ["docker.io/library/todo-frontend:def"], "size": "71234567"},
    {"id": "sha256:p1", "repoDigests": [], "repoTags": ["docker.io/library/postgres:15"], "size": "151234567"}])
MINIKUBE_RM = line([*MINIKUBE, "image", "rm", "docker.io/library/postgres:15", "docker.io/library/todo-frontend:def"])
# What minikube v1.38.1 printed for a name it could not remove, with exit code 0.
RM_FAILED = ok("")
RM_FAILED.stderr = ("! Failed to remove images for profile minikube error removing images: crictl: sudo crictl rmi "
                    "docker.io/library/todo-frontend:def: Process exited with status 1\nstderr:\n"
                    "E1201 rpc error: code = NotFound desc = no such image \"docker.io/library/todo-frontend:def\"\n")


def on_minikube(make_context, answers: dict) -> tuple:
    """A minikube cluster with nothing but images left to clean; the suite loaded postgres and the frontend."""
    c = make_context({line([*KUBECTL_MINIKUBE, "api-resources", "--verbs=list,delete", "--namespaced", "-o", "name"]):
                      ok("configmaps\n"), line([*KUBECTL_MINIKUBE, "get", "configmaps", "-o", "json"]): listing(),
                      line([*KUBECTL_MINIKUBE, "get", "namespace", "todo-app", "-o", "json"]):
                          not_found("namespaces", "todo-app"),
                      MINIKUBE_IMAGES: ok(NODE), MINIKUBE_PODS: ok("kube-system   registry.k8s.io/pause:3.10\n"),
                      **answers})
    cfg = resolve(c)
    record(cfg, ["docker.io/library/todo-backend:abc", "todo-frontend:def", "postgres:15"])
    return c, cfg


KUBECTL_MINIKUBE = ["kubectl", "--context", "minikube", "--namespace", "todo-app"]


def test_clean_removes_exactly_the_loaded_refs_and_keeps_a_shared_image(make_context, capsys):
    c, cfg = on_minikube(make_context, {MINIKUBE_RM: ok()})
    clean_release(c, cfg, Report(), yes=True)
    out = capsys.readouterr().out
    # postgres:15 was loaded by the suite: it goes; todo-backend:abc is also the user's latest: it stays.
    assert commands_run(c)[-1] == MINIKUBE_RM
    assert ("image docker.io/library/todo-backend:abc kept: the same image is also "
            "docker.io/library/todo-backend:latest, which the suite did not load") in out
    assert recorded(cfg) == {"docker.io/library/todo-backend:abc"}


def test_a_removal_minikube_reports_failed_with_exit_0_fails_clean(make_context, capsys):
    c, cfg = on_minikube(make_context, {MINIKUBE_RM: RM_FAILED})
    with pytest.raises(Exit) as error:
        clean_release(c, cfg, Report(), yes=True)
    assert error.value.code == ExitCode.FAILED and "[ ok ] remove 2 image(s)" not in capsys.readouterr().out
    assert "the cluster kept image(s) it was asked to remove: ! Failed to remove images" in error.value.message
    # Nothing is forgotten: a re-run tries again.
    assert "docker.io/library/postgres:15" in recorded(cfg)


def test_images_the_suite_never_loaded_stay(make_context):
    c = make_context(deployed(), **CONFIG)
    record_path(resolve(c)).unlink()
    clean_release(c, resolve(c), Report(), yes=True)
    assert REMOVE_IMAGES not in commands_run(c) and IMAGES in commands_run(c)


def test_prune_cache_deletes_the_loaded_refs_tarballs_from_minikubes_cache(make_context):
    cache = "/home/u/.minikube/cache/images"
    files = [f"{cache}/amd64/todo-frontend_def", f"{cache}/amd64/postgres_15", f"{cache}/amd64/todo-backend_latest",
             f"{cache}/amd64/docker.io/library/todo-backend_abc", f"{cache}/amd64/registry.k8s.io/pause_3.10"]
    prune = line(["rm", "-f", "--", *sorted(files[:2] + files[3:4])])
    c, cfg = on_minikube(make_context, {MINIKUBE_RM: ok(), prune: ok(),
                                        line(["printenv", "MINIKUBE_HOME"]): failed(),
                                        line(["printenv", "HOME"]): ok("/home/u\n"),
                                        line(["find", cache, "-type", "f"]): ok("\n".join(files) + "\n")})
    clean_release(c, cfg, Report(), yes=True, prune_cache=True)
    assert commands_run(c)[-2:] == [MINIKUBE_RM, prune]


@pytest.mark.parametrize(("home", "folder"), [("/data/mk", "/data/mk/.minikube"), ("/data/.minikube", "/data/.minikube")])
def test_minikube_home_as_minikube_reads_it(make_context, home, folder):
    from todoops.cleanup import minikube_home

    assert minikube_home(make_context({line(["printenv", "MINIKUBE_HOME"]): ok(home + "\n")})) == folder


def test_prune_cache_elsewhere_than_minikube_is_bad_input(make_context):
    c = make_context(deployed(), **CONFIG)
    with pytest.raises(Exit) as error:
        clean_release(c, resolve(c), Report(), yes=True, prune_cache=True)
    assert error.value.code == ExitCode.BAD_INPUT and commands_run(c) == []
