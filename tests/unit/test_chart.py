import json

import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import failed, line, not_found, ok, project, release_not_found
from todoops.chart import install, rollback
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
