"""A rollout that cannot succeed, on the real cluster.

Each test deploys a project copy (the real CLI, kubectl method) into a namespace
of its own, with one fault a user could make in the copy's manifests:

- a backend that exits at start (LOG_LEVEL the backend refuses, through the
  ConfigMap): the first deploy fails within a minute naming the crash loop, and
  the hint says a first deploy has nothing to roll back to;
- a PostgreSQL image reference that cannot be pulled: the rollout names the
  StatefulSet as the cause and the backend as waiting on it, and ``validate``
  fails the StatefulSet, its image and the waiting pod.

The rollout timeout stays at its default (180 s): failing in under 60 s proves
the wait stopped on the stuck pods, not at the timeout. The measured time to
failure is printed.
"""

import json
import re

import pytest

from tests.e2e.todoapp import BACKEND, DATABASE, Project, new_namespace

pytestmark = pytest.mark.e2e

ROLLOUT_FAILED = 7
UNHEALTHY = 6
FAST = 60
# The step line of the report: "[fail] rollout (23.4s)".
ROLLOUT_STEP = re.compile(r"\[fail\] rollout \((\d+(?:\.\d+)?)s\)")


@pytest.fixture
def project(e2e_cluster, pristine, tmp_path):
    copy = Project.create(tmp_path, new_namespace("e2e-diagnosis"), e2e_cluster, source=pristine)
    yield copy
    copy.remove()


def failed_deploy(project: Project) -> tuple[str, float]:
    """``invoke deploy`` that must fail at the rollout: its output and the rollout step's seconds (printed)."""
    result = project.invoke("deploy", check=False)
    assert result.code == ROLLOUT_FAILED, result.output[-6000:]
    step = ROLLOUT_STEP.search(result.output)
    assert step, result.output[-4000:]
    seconds = float(step.group(1))
    print(f"\ntime to failure: rollout step {seconds:.1f} s (whole deploy {result.seconds:.1f} s)")
    return result.output, seconds


def test_a_crash_looping_first_deploy_fails_fast_with_the_cause_and_nothing_to_undo(project):
    project.edit("k8s/10-configmap-todo-app.yaml", 'LOG_LEVEL: "INFO"', 'LOG_LEVEL: "E2E-NOT-A-LEVEL"')
    output, seconds = failed_deploy(project)
    assert seconds < FAST, output[-4000:]
    assert "not waiting for the timeout: every new pod of deployment/todo-app-backend" in output, output[-4000:]
    assert re.search(rf"{BACKEND}-[a-z0-9]+-[a-z0-9]+/backend: crash-loop \(", output), output[-4000:]
    # The backend says why it exits; the log quotes it.
    assert "LOG_LEVEL" in output, output[-4000:]
    assert f"nothing to roll back to for {BACKEND} (a first revision)" in output, output[-2000:]
    assert "rollout undo" not in output and "<name>" not in output


def test_a_database_image_that_cannot_be_pulled_is_named_as_the_cause_and_fails_validate(project):
    project.edit("k8s/30-statefulset-todo-app-postgresql.yaml", "image: postgres:15", "image: postgres:does-not-exist")
    output, seconds = failed_deploy(project)
    assert seconds < FAST, output[-4000:]
    assert f"cause: statefulset {DATABASE} cannot start: {DATABASE}-0/postgresql: image-pull (" in output, \
        output[-4000:]
    assert "check the probe path" not in output, output[-4000:]
    lines = output.splitlines()
    cause = next(i for i, text in enumerate(lines) if "cause: statefulset" in text)
    # Nothing about the backend comes before the database, and what comes after says it waits.
    assert not any("/backend:" in text for text in lines[:cause])
    assert all("waits on statefulset" in text for text in lines[cause:] if "/backend:" in text)

    validate = project.invoke("validate", "--json", check=False)
    rows = {row["name"]: row for row in json.loads(validate.stdout)}
    assert validate.code == UNHEALTHY, validate.output[-4000:]
    assert rows[f"statefulset {DATABASE}"]["status"] == "fail", rows
    assert rows["image postgresql"]["detail"] == f"{DATABASE}-0 not running postgres:does-not-exist", rows
    assert rows["waiting"]["status"] == "fail" and "postgres:does-not-exist" in rows["waiting"]["detail"], rows
