"""`invoke validate --smoke` on the real cluster.

It passes on a fresh deploy, and fails with exit 6 naming the step when one of
two backend pods has another JWT secret, when the frontend cannot reach the
backend, and when the database is gone. After every run the smoke account is
gone from PostgreSQL, read there with psql in the database pod. The tests share
one deployed namespace (test_app's ``app`` fixture: a project copy driven by the
real CLI), run in order, and each failure case restores the release before the
next one.
"""

import json

import pytest

from tests.e2e.todoapp import BACKEND, DATABASE, FRONTEND, Project, Run

pytestmark = pytest.mark.e2e

UNHEALTHY = 6
SMOKE_USERS = "SELECT count(*) FROM users WHERE email LIKE 'smoke-%'"


@pytest.fixture(scope="module")
def deployed(app: Project) -> Project:  # noqa: F811 (app is the imported fixture)
    app.invoke("prepare-secrets")
    app.invoke("deploy")
    return app


def smoke(project: Project) -> tuple[Run, dict[str, dict]]:
    """``invoke validate --smoke --json``: the run and its rows by name."""
    result = project.invoke("validate", "--smoke", "--json", check=False, timeout=900)
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    return result, rows


def failed_smoke_steps(rows: dict[str, dict]) -> list[str]:
    return [name for name, row in rows.items() if name.startswith("smoke ") and row["status"] == "fail"]


def smoke_users(project: Project) -> int:
    """Smoke accounts in the app's database, counted by psql inside the database pod."""
    query = f'psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tAc "{SMOKE_USERS}"'
    return int(project.kubectl("exec", f"{DATABASE}-0", "-c", "postgresql", "--", "sh", "-c", query).strip())


def rollout(project: Project, kind_name: str) -> None:
    project.kubectl("rollout", "status", kind_name, "--timeout=300s", timeout=360)


def test_1_a_fresh_deploy_passes_the_smoke_check(deployed):
    result, rows = smoke(deployed)
    assert result.code == 0, result.output
    steps = {name: row for name, row in rows.items() if name.startswith("smoke ")}
    assert {"smoke register", "smoke log in", "smoke every backend pod", "smoke chat task exists",
            "smoke delete account"} <= set(steps)
    assert {row["status"] for row in steps.values()} <= {"ok", "warn"}, steps
    assert "todo_session=" not in result.output and "Bearer ey" not in result.output
    assert smoke_users(deployed) == 0


def other_secret_pod(pod: dict) -> dict:
    """A copy of a backend pod, not owned by its ReplicaSet, whose JWT_SECRET differs from the Secret's."""
    labels = {key: value for key, value in pod["metadata"]["labels"].items() if key != "pod-template-hash"}
    spec = json.loads(json.dumps(pod["spec"]))
    # Set by the scheduler and by admission for the original; the copy gets its own.
    for key in ("nodeName", "priority"):
        spec.pop(key, None)
    backend = next(container for container in spec["containers"] if container["name"] == "backend")
    backend["env"] = [entry for entry in backend["env"] if entry["name"] != "JWT_SECRET"]
    backend["env"].append({"name": "JWT_SECRET", "value": "e2e-another-jwt-secret-" + "z" * 32})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{BACKEND}-other-secret", "labels": labels},
            "spec": spec}


def test_2_a_backend_pod_with_another_jwt_secret_fails_naming_the_step(deployed):
    deployment = f"deployment/{BACKEND}"
    deployed.kubectl("scale", deployment, "--replicas=1")
    try:
        rollout(deployed, deployment)
        for pod in deployed.component_pods("backend"):
            if "deletionTimestamp" in pod["metadata"]:
                deployed.kubectl("wait", "--for=delete", f"pod/{pod['metadata']['name']}", "--timeout=120s",
                                 timeout=180)
        [kept] = deployed.component_pods("backend")
        deployed.kubectl("apply", "-f", "-", stdin=json.dumps(other_secret_pod(kept)))
        deployed.kubectl("wait", "--for=condition=Ready", f"pod/{BACKEND}-other-secret", "--timeout=180s",
                         timeout=240)

        result, rows = smoke(deployed)
        assert result.code == UNHEALTHY, result.output
        assert failed_smoke_steps(rows) == ["smoke every backend pod"], rows
        row = rows["smoke every backend pod"]
        assert row["detail"].startswith("HTTP 401 not_authenticated: pod ") and "JWT_SECRET" in row["hint"]
        assert rows["smoke delete account"]["status"] == "ok"
        assert smoke_users(deployed) == 0
    finally:
        deployed.kubectl("delete", "pod", f"{BACKEND}-other-secret", "--ignore-not-found", "--wait=true",
                         timeout=240)
        deployed.kubectl("scale", deployment, "--replicas=2")
        rollout(deployed, deployment)


def test_3_a_frontend_that_cannot_reach_the_backend_fails_at_register(deployed):
    deployment = f"deployment/{FRONTEND}"
    # Nothing listens there inside the frontend's pod: every proxied call is refused.
    deployed.kubectl("set", "env", deployment, "BACKEND_URL=http://127.0.0.1:9")
    try:
        rollout(deployed, deployment)
        result, rows = smoke(deployed)
        assert result.code == UNHEALTHY, result.output
        assert failed_smoke_steps(rows) == ["smoke register"], rows
        row = rows["smoke register"]
        assert row["detail"].startswith("HTTP 502 backend_unavailable") and "cannot reach the backend" in row["hint"]
        assert smoke_users(deployed) == 0
    finally:
        deployed.kubectl("rollout", "undo", deployment)
        rollout(deployed, deployment)


def test_4_a_database_that_is_gone_fails_at_register(deployed):
    statefulset = f"statefulset/{DATABASE}"
    deployed.kubectl("scale", statefulset, "--replicas=0")
    try:
        deployed.kubectl("wait", "--for=delete", f"pod/{DATABASE}-0", "--timeout=180s", timeout=240)
        result, rows = smoke(deployed)
        assert result.code == UNHEALTHY, result.output
        assert failed_smoke_steps(rows) == ["smoke register"], rows
        # The backend answers 500 while it still serves, the frontend 502 once its pods turn unready.
        assert rows["smoke register"]["detail"].startswith(("HTTP 500", "HTTP 502", "HTTP 503")), rows
    finally:
        deployed.kubectl("scale", statefulset, "--replicas=1")
        rollout(deployed, statefulset)
        deployed.wait_all_ready(timeout=300)
    assert smoke_users(deployed) == 0


def test_5_after_every_failure_the_smoke_check_passes_again(deployed):
    result, rows = smoke(deployed)
    assert result.code == 0, result.output
    assert failed_smoke_steps(rows) == []
    assert smoke_users(deployed) == 0
