import json

import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import failed, line, not_found, ok, project, release_not_found
from todoops.chart import hand_over, install, rollback
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.images import planned_images

HELM = ["helm", "--kube-context", "minikube", "--namespace", "todo-app"]
STATUS = line([*HELM, "status", "todo-app", "-o", "json"])
# No Secret yet: the checksum annotation stays empty.
GET_SECRET = line(["kubectl", "--context", "minikube", "--namespace", "todo-app", "get", "secret", "todo-app-secrets",
                   "-o", "json"])


def upgrade_line(tmp_path, images) -> str:
    sets = []
    for image in images:
        sets += ["--set", f"{image.name}.image.repository={image.repository}", "--set-string",
                 f"{image.name}.image.tag={image.tag}", "--set", f"{image.name}.image.pullPolicy=Never"]
    return line([*HELM, "upgrade", "--install", "todo-app", str(tmp_path / "helm" / "todo-app"), *sets,
                 "--set", "existingSecret=todo-app-secrets", "--set", "secretChecksum="])


def test_upgrade_install_pins_the_exact_tags(make_context, tmp_path):
    project(tmp_path)
    c = make_context(method="helm")
    images = planned_images(resolve(c))
    c = make_context({STATUS: ok(json.dumps({"info": {"status": "deployed"}, "version": 3})),
                      GET_SECRET: not_found("secrets", "todo-app-secrets"), upgrade_line(tmp_path, images): ok()},
                     method="helm")
    assert install(c, resolve(c), images) == 3
    assert commands_run(c) == [STATUS, GET_SECRET, upgrade_line(tmp_path, images)]


@pytest.mark.parametrize(("status", "version", "hint"), [
    ("pending-upgrade", 4, "helm -n todo-app rollback todo-app 3"),
    ("pending-install", 1, "helm -n todo-app uninstall todo-app"),
])
def test_a_stuck_release_is_explained_before_any_change(make_context, tmp_path, status, version, hint):
    project(tmp_path)
    c = make_context({STATUS: ok(json.dumps({"info": {"status": status}, "version": version}))}, method="helm")
    with pytest.raises(Exit) as error:
        install(c, resolve(c), planned_images(resolve(c)))
    assert "another helm operation is in progress" in error.value.message and hint in error.value.message
    assert commands_run(c) == [STATUS]


def test_helm_reporting_another_operation_is_explained(make_context, tmp_path):
    project(tmp_path)
    images = planned_images(resolve(make_context(method="helm")))
    c = make_context({STATUS: release_not_found(), GET_SECRET: not_found("secrets", "todo-app-secrets"),
                      upgrade_line(tmp_path, images): failed(
        stderr="Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress")}, method="helm")
    with pytest.raises(Exit) as error:
        install(c, resolve(c), images)
    assert "another operation" in error.value.message and "uninstall" in error.value.message


def test_rollback_only_when_there_was_a_previous_revision(make_context):
    command = line([*HELM, "rollback", "todo-app", "3", "--wait", "--timeout", "180s"])
    c = make_context({command: ok()})
    rollback(c, resolve(c), 0)
    rollback(c, resolve(c), 3)
    assert commands_run(c) == [command]


def test_a_release_that_could_not_be_read_stops_the_install(make_context, tmp_path):
    # "No release" would mean a fresh install over one that exists: only helm's "not found" means that.
    project(tmp_path)
    c = make_context({STATUS: failed(stderr="Error: Kubernetes cluster unreachable: Get \"https://127.0.0.1:6443/"
                                            "version\": dial tcp 127.0.0.1:6443: connect: connection refused\n")},
                     method="helm")
    with pytest.raises(Exit) as error:
        install(c, resolve(c), planned_images(resolve(c)))
    assert error.value.code == ExitCode.UNREACHABLE and "cluster unreachable" in error.value.message
    assert commands_run(c) == [STATUS]


def test_a_failed_rollback_is_reported_as_failed(make_context):
    command = line([*HELM, "rollback", "todo-app", "3", "--wait", "--timeout", "180s"])
    c = make_context({command: failed(stderr="Error: timed out waiting for the condition")})
    with pytest.raises(Exit) as error:
        rollback(c, resolve(c), 3)
    assert error.value.code == ExitCode.ROLLOUT
    assert "rollback to revision 3 failed" in error.value.message and "rolled back to" not in error.value.message


# -- Switching --method.

KUBECTL = ["kubectl", "--context", "minikube", "--namespace", "todo-app"]
OURS = {"app.kubernetes.io/part-of": "todo-app", "app.kubernetes.io/instance": "todo-app",
        "app.kubernetes.io/managed-by": "Helm"}
# Two of the chart's objects, as the rendering says (the Namespace is the suite's own, never helm's).
RENDERED = [{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "todo-app-backend"}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "todo-app-backend"}},
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "todo-app"}}]
EXISTING = line([*KUBECTL, "get", "poddisruptionbudget.policy/todo-app-backend", "service/todo-app-backend",
                 "--ignore-not-found", "-o", "json"])
LABEL = line([*KUBECTL, "label", "--overwrite", "poddisruptionbudget.policy/todo-app-backend",
              "app.kubernetes.io/managed-by=Helm"])
ANNOTATE = line([*KUBECTL, "annotate", "--overwrite", "poddisruptionbudget.policy/todo-app-backend",
                 "meta.helm.sh/release-name=todo-app", "meta.helm.sh/release-namespace=todo-app"])
RECORDS = line([*KUBECTL, "get", "secrets", "-l", "owner=helm,name=todo-app", "-o", "name"])
FORGET = line([*KUBECTL, "delete", "secrets", "-l", "owner=helm,name=todo-app", "--ignore-not-found"])


def in_cluster(*objects: dict) -> object:
    return ok(json.dumps({"kind": "List", "items": list(objects)}))


def made_by(method: str, labels: dict = OURS) -> list[dict]:
    """The two objects as `--method METHOD` left them: helm's carry its ownership annotations."""
    notes = {"meta.helm.sh/release-name": "todo-app", "meta.helm.sh/release-namespace": "todo-app"}
    return [{**obj, "metadata": {**obj["metadata"], "labels": labels, **({"annotations": notes} if method == "helm"
                                                                         and index else {})}}
            for index, obj in enumerate(RENDERED[:2])]


def test_a_first_helm_install_adopts_what_kubectl_made_and_only_that(make_context, tmp_path):
    project(tmp_path)
    images = planned_images(resolve(make_context(method="helm")))
    # The PDB came from kubectl; the Service already is helm's (an adoption interrupted half-way).
    c = make_context({STATUS: release_not_found(), EXISTING: in_cluster(*made_by("helm")), LABEL: ok(),
                      ANNOTATE: ok(), GET_SECRET: not_found("secrets", "todo-app-secrets"),
                      upgrade_line(tmp_path, images): ok()}, method="helm")
    install(c, resolve(c), images, RENDERED)
    assert commands_run(c) == [STATUS, EXISTING, LABEL, ANNOTATE, GET_SECRET, upgrade_line(tmp_path, images)]


def test_an_upgrade_of_a_release_adopts_nothing(make_context, tmp_path):
    project(tmp_path)
    images = planned_images(resolve(make_context(method="helm")))
    c = make_context({STATUS: ok(json.dumps({"info": {"status": "deployed"}, "version": 2})),
                      GET_SECRET: not_found("secrets", "todo-app-secrets"), upgrade_line(tmp_path, images): ok()},
                     method="helm")
    install(c, resolve(c), images, RENDERED)
    assert EXISTING not in commands_run(c)


@pytest.mark.parametrize("method", ["helm", "kubectl"])
def test_an_object_of_our_names_without_our_labels_stops_before_any_change(make_context, tmp_path, method):
    project(tmp_path)
    theirs = made_by("kubectl", {"app.kubernetes.io/instance": "blog"})
    c = make_context({STATUS: release_not_found(), EXISTING: in_cluster(*theirs),
                      RECORDS: ok("secret/sh.helm.release.v1.todo-app.v1\n")}, method=method)
    with pytest.raises(Exit) as error:
        if method == "helm":
            install(c, resolve(c), planned_images(resolve(c)), RENDERED)
        else:
            hand_over(c, resolve(c), RENDERED)
    assert error.value.code == ExitCode.FAILED
    assert "poddisruptionbudget.policy/todo-app-backend, service/todo-app-backend already exist(s)" in \
        error.value.message and "nothing was changed" in error.value.message
    assert not [command for command in commands_run(c) if " label " in command or " delete " in command]


def test_kubectl_takes_over_a_helm_release_of_ours_and_forgets_its_records(make_context):
    c = make_context({RECORDS: ok("secret/sh.helm.release.v1.todo-app.v1\nsecret/sh.helm.release.v1.todo-app.v2\n"),
                      EXISTING: in_cluster(*made_by("helm")), FORGET: ok()})
    assert hand_over(c, resolve(c), RENDERED) == 2
    assert commands_run(c) == [RECORDS, EXISTING, FORGET]


def test_kubectl_without_a_helm_release_reads_once_and_changes_nothing(make_context):
    c = make_context({RECORDS: ok("")})
    assert hand_over(c, resolve(c), RENDERED) == 0
    assert commands_run(c) == [RECORDS]
