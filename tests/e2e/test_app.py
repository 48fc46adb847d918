"""The suite end to end on the kind cluster: issue 7's tests 1-7, in that order.

Every test drives the real CLI (``.venv/bin/invoke``) as a subprocess in a copy
of the project (tests.e2e.todoapp.Project): the kind cluster's context
(``kind-todo``), the kind provider (``kind load docker-image``), a throw-away
``.env`` and a uuid-named namespace. Tests 1-5 and 7 share one kubectl-deployed
namespace (a module fixture: deploying costs minutes on a busy machine), so they
run in order and a later one relies on the earlier ones; test 6 deploys with
helm in its own one, with the provider left to the context's name (kind-* -> kind).
"""

import json
import re
import subprocess
import time
import uuid

import pytest

from tests.e2e.todoapp import (FRONTEND, FRONTEND_PORT, RELEASE, SELECTOR, Project, TodoClient, command_lines,
                               new_namespace, port_forward, ready, rollout_under_traffic, sh)
from todoops.providers import NO_PODS

pytestmark = pytest.mark.e2e

# Short enough that a broken rollout is diagnosed within minutes, long enough for a busy node.
FAILING_ROLLOUT_TIMEOUT = "75"
BUILD_LINE = "docker build"
LOAD_LINE = "kind load docker-image"
APPLY_LINE = " apply -f -"
DATA = ("persisted across pod deletion", "and this one too")


@pytest.fixture(scope="module")
def user(app) -> dict:
    """The user whose tasks must survive everything (filled in by test 1)."""
    return {}


def run_browser_test(project: Project, base: str) -> subprocess.CompletedProcess:
    """The frontend's own browser journey against the deployed app (E2E_BASE_URL: nothing built or started)."""
    frontend = project.root / "frontend"
    env = {**project.env(), "E2E_BASE_URL": base}
    return subprocess.run(["node", "e2e/run.mjs"], cwd=frontend, env=env, capture_output=True, text=True,
                          timeout=600)


def test_1_first_deploy_from_nothing(app, user):
    assert app.kubectl("get", "namespace", app.namespace, "--ignore-not-found", "-o", "name") == ""
    app.invoke("prepare-secrets")
    deployed = app.invoke("deploy")
    assert command_lines(deployed.output, BUILD_LINE) or "unchanged, not rebuilt" in deployed.output
    pods = app.pods()
    components = sorted(pod["metadata"]["labels"]["app.kubernetes.io/component"] for pod in pods)
    seen = [(p["metadata"]["name"], p["status"].get("phase"), "deletionTimestamp" in p["metadata"]) for p in pods]
    assert components == ["backend", "backend", "frontend", "frontend", "postgresql"], (seen, deployed.output[-3000:])
    assert all(ready(pod) for pod in pods), seen
    app.invoke("validate")
    with port_forward(app, f"service/{FRONTEND}", FRONTEND_PORT) as base:
        browser = run_browser_test(app, base)
        assert browser.returncode == 0, browser.stdout[-4000:] + browser.stderr[-4000:]
        assert "ok  " in browser.stdout
        client = TodoClient(base)
        client.register_and_log_in()
        for title in DATA:
            client.add_task(title)
        assert set(DATA) <= set(client.titles())
    user.update(email=client.email, password=client.password, cookie=client.cookie)


def test_1_and_a_load_brings_the_built_images_to_the_nodes_that_take_pods_only(app):
    nodes = json.loads(app.cluster.kubectl("get", "nodes", "-o", "json"))["items"]
    refuse = {node["metadata"]["name"] for node in nodes
              if any(taint.get("effect") in NO_PODS for taint in node["spec"].get("taints") or [])}
    built = {container["image"] for pod in app.pods() for container in pod["spec"]["containers"]} - {"postgres:15"}
    assert len(built) == 2, built
    # Gone from every node's store (the running pods keep their containers), so the load must bring them.
    for node in app.cluster.nodes():
        sh(["docker", "exec", node, "ctr", "-n", "k8s.io", "images", "rm",
            *(f"docker.io/library/{ref}" for ref in built)], env=app.cluster.env(), check=False)
    loaded = app.invoke("images.load")
    assert len(command_lines(loaded.output, LOAD_LINE)) == 2, loaded.output
    held = app.images_in_cluster()
    for ref in built:
        for node, refs in held.items():
            assert (f"docker.io/library/{ref}" in refs) == (node not in refuse), (ref, node, refuse)


def test_2_no_change_redeploy_builds_loads_restarts_nothing(app):
    before = app.pod_uids()
    restarts = {p["metadata"]["name"]: [s["restartCount"] for s in p["status"]["containerStatuses"]]
                for p in app.pods()}
    images = app.images_in_cluster()
    again = app.invoke("deploy")
    assert command_lines(again.output, BUILD_LINE) == [], again.output
    assert command_lines(again.output, LOAD_LINE) == [], again.output
    # The cluster holds what the last apply made: nothing is sent again.
    assert command_lines(again.output, APPLY_LINE) == [], again.output
    assert app.pod_uids() == before
    assert {p["metadata"]["name"]: [s["restartCount"] for s in p["status"]["containerStatuses"]]
            for p in app.pods()} == restarts
    assert app.images_in_cluster() == images
    print(f"no-change re-deploy: {again.seconds:.1f} s")


def test_2b_a_redeploy_puts_right_what_was_changed_in_the_cluster_by_hand(app):
    app.kubectl("scale", "deployment", f"{RELEASE}-backend", "--replicas=1")
    repaired = app.invoke("deploy")
    assert len(command_lines(repaired.output, APPLY_LINE)) == 1, repaired.output
    assert app.kubectl_json("deployment", f"{RELEASE}-backend")["spec"]["replicas"] == 2
    again = app.invoke("deploy")
    assert command_lines(again.output, APPLY_LINE) == [], again.output


def test_3_backend_change_rolls_only_backend_with_zero_failed_requests(app, user):
    frontend_before = {p["metadata"]["uid"] for p in app.component_pods("frontend")}
    backend_before = {p["metadata"]["uid"] for p in app.component_pods("backend")}
    database_before = {p["metadata"]["uid"] for p in app.component_pods("postgresql")}
    changed, traffic = rollout_under_traffic(app, user["cookie"], "e2e test 3")
    builds = command_lines(changed.output, BUILD_LINE)
    loads = command_lines(changed.output, LOAD_LINE)
    assert len(builds) == 1 and "todo-backend:" in builds[0], builds
    assert len(loads) == 1 and "todo-backend:" in loads[0], loads
    assert {p["metadata"]["uid"] for p in app.component_pods("frontend")} == frontend_before
    assert {p["metadata"]["uid"] for p in app.component_pods("postgresql")} == database_before
    # Old pods may still be draining (preStop) after the rollout: they must be stopping, not serving.
    backend_after = app.component_pods("backend")
    serving = {p["metadata"]["uid"] for p in backend_after if ready(p)}
    assert serving and not serving & backend_before
    assert all("deletionTimestamp" in p["metadata"] for p in backend_after if p["metadata"]["uid"] in backend_before)
    print(f"traffic during the rollout: {traffic.summary()}")
    assert traffic.total >= 20 * 10, f"only {traffic.total} requests were made"
    assert traffic.failures == [], traffic.failures[:20]


def test_4_pod_deletion_recovers_and_data_persists(app, user):
    backend = sorted(p["metadata"]["name"] for p in app.component_pods("backend") if ready(p))[0]
    database = app.component_pods("postgresql")[0]["metadata"]["name"]
    started = time.monotonic()
    app.kubectl("delete", "pod", backend, database, "--wait=false")
    deadline = started + 60
    attempts = []
    while True:
        remaining = int(deadline - time.monotonic())
        result = app.invoke("validate", "--wait", str(max(remaining, 1)), check=False)
        attempts.append(result.code)
        if result.code == 0 or time.monotonic() >= deadline:
            break
    elapsed = time.monotonic() - started
    assert result.code == 0, f"validate did not pass within 60 s (exits {attempts})\n{result.output}"
    print(f"validate passed {elapsed:.1f} s after deleting {backend} and {database} (exits {attempts})")
    assert elapsed <= 60 + 15  # the last validate may start just before the deadline
    with port_forward(app, f"service/{FRONTEND}", FRONTEND_PORT) as base:
        client = TodoClient(base)
        client.email, client.password = user["email"], user["password"]
        client.log_in()
        assert set(DATA) <= set(client.titles())


FAILURES = {
    # A backend image whose process exits at start.
    "crash-loop": ("backend/app/serve.py", "def main() -> int:\n",
                   "def main() -> int:\n    sys.exit(\"e2e: crash at start\")\n"),
    # A workload whose image tag exists nowhere (not built, not loaded, not pullable).
    "image-pull": ("k8s/40-deployment-todo-app-backend.yaml", "image: todo-backend:dev",
                   "image: todo-backend-e2e-missing:0000deadbeef"),
    # The pod requires a Secret key the Secret lacks (empty in .env, so prepare-secrets leaves it out).
    "config-error": ("k8s/40-deployment-todo-app-backend.yaml",
                     "key: OPENAI_MODEL\n                  optional: true",
                     "key: OPENAI_MODEL\n                  optional: false"),
    # The readiness probe never passes.
    "probe-failure": ("k8s/40-deployment-todo-app-backend.yaml", "path: /ready", "path: /e2e-never-ready"),
}


def test_4b_validate_reports_each_workloads_resource_use(app):
    """metrics-server (installed by cluster.up) reports a pod about a minute after it starts: ask until it does."""
    deadline = time.monotonic() + 180
    while True:
        found = {check["name"]: check for check in json.loads(app.invoke("validate", "--json").stdout)}
        rows = {name: check for name, check in found.items() if name.startswith("resources ")}
        if {"resources backend", "resources frontend"} <= set(rows) or time.monotonic() > deadline:
            break
        time.sleep(10)
    assert {"resources backend", "resources frontend"} <= set(rows), found.get("resources")
    for check in rows.values():
        assert check["status"] in ("ok", "warn"), check
        assert re.search(r"cpu \d+m \(\d+% of request \d+m, \d+% of limit \d+m\)", check["detail"]), check
    print("resource use: " + " | ".join(f"{name}: {check['detail']}" for name, check in sorted(rows.items())))


@pytest.mark.parametrize("kind", list(FAILURES))
def test_5_failure_is_diagnosed_and_previous_version_keeps_serving(app, user, kind):
    relative, old, new = FAILURES[kind]
    serving = {p["metadata"]["uid"] for p in app.component_pods("backend") if ready(p)}
    assert len(serving) == 2, "the previous case did not converge"
    original = (app.root / relative).read_text()
    app.edit(relative, old, new)
    try:
        failed = app.invoke("deploy", check=False, rollout_timeout=FAILING_ROLLOUT_TIMEOUT)
        assert failed.code != 0, failed.output
        bad = [p["metadata"]["name"] for p in app.component_pods("backend") if p["metadata"]["uid"] not in serving]
        assert bad, "no new backend pod was created"
        diagnosis = [line for line in failed.output.splitlines() if f": {kind} (" in line]
        assert diagnosis, f"the class {kind} is not named:\n{failed.output[-6000:]}"
        assert any(name in line for line in diagnosis for name in bad), (bad, diagnosis)
        assert "fix:" in failed.output, failed.output[-4000:]
        # The previous version still serves: old pods untouched and ready, the app answers.
        still = {p["metadata"]["uid"] for p in app.component_pods("backend") if ready(p)}
        assert serving <= still
        with port_forward(app, f"service/{FRONTEND}", FRONTEND_PORT) as base:
            client = TodoClient(base)
            client.email, client.password = user["email"], user["password"]
            client.log_in()
            assert set(DATA) <= set(client.titles())
    finally:
        (app.root / relative).write_text(original)
        # Converge back to the working version before the next case, whatever happened above.
        back = app.invoke("deploy", check=False)
    assert back.code == 0, back.output[-4000:]
    assert {p["metadata"]["uid"] for p in app.component_pods("backend") if ready(p)} == serving


@pytest.fixture
def helm_app(e2e_cluster, pristine, tmp_path_factory):
    """A second copy deployed with helm into a namespace the test creates (so clean must keep it).

    No provider is named: the suite must take kind from the context's name.
    """
    project = Project.create(tmp_path_factory.mktemp("helm"), new_namespace("e2e-helm"), e2e_cluster,
                             source=pristine, method="helm", provider=None)
    project.kubectl("create", "namespace", project.namespace)
    yield project
    project.remove()


def helm_history(project: Project) -> list[dict]:
    listed = sh(["helm", "--kube-context", project.cluster.context, "-n", project.namespace, "history", RELEASE,
                 "-o", "json"], env=project.env(), timeout=60)
    return json.loads(listed.stdout)


def test_6_helm_install_upgrade_rollback(helm_app):
    helm_app.invoke("prepare-secrets")
    first = helm_app.invoke("deploy")
    assert f"{helm_app.cluster.context} (configured), provider kind (from context)" in first.output, first.output
    helm_app.invoke("validate")
    assert [entry["revision"] for entry in helm_history(helm_app)] == [1]

    helm_app.append("backend/app/main.py", f"# e2e test 6: an upgrade ({uuid.uuid4()})\n")
    upgraded = helm_app.invoke("deploy")
    assert len(command_lines(upgraded.output, BUILD_LINE)) == 1
    helm_app.invoke("validate")
    history = helm_history(helm_app)
    assert history[-1]["revision"] == 2 and history[-1]["status"] == "deployed"
    working = {p["metadata"]["uid"] for p in helm_app.component_pods("backend") if ready(p)}

    # A broken upgrade: the suite diagnoses it and rolls back to revision 2.
    relative, old, new = FAILURES["crash-loop"]
    original = (helm_app.root / relative).read_text()
    helm_app.edit(relative, old, new)
    try:
        failed = helm_app.invoke("deploy", check=False, rollout_timeout=FAILING_ROLLOUT_TIMEOUT)
    finally:
        (helm_app.root / relative).write_text(original)
    assert failed.code != 0 and "crash-loop" in failed.output, failed.output[-4000:]
    history = helm_history(helm_app)
    assert history[-1]["status"] == "deployed" and "ollback to 2" in history[-1]["description"], history
    helm_app.invoke("validate", "--wait", "60")
    assert working <= {p["metadata"]["uid"] for p in helm_app.component_pods("backend") if ready(p)}


def test_7_clean_removes_only_what_the_suite_made(app):
    unrelated = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "not-the-suites"}, "data": {"a": "b"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": "other-app-config", "labels": {"app.kubernetes.io/part-of": "other-app"}}, "data": {"c": "d"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "someone-elses"}, "stringData": {"k": "v"}},
    ]
    app.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": unrelated}))
    first = app.invoke("clean", "--yes")
    kinds = "all,configmaps,secrets,serviceaccounts,persistentvolumeclaims,ingresses,poddisruptionbudgets"
    left = app.kubectl("get", kinds, "-l", SELECTOR, "-o", "name", check=False)
    assert left.strip() == "", left
    for managed_by in ("todoops", "Helm"):
        left = app.kubectl("get", kinds, "-l", f"app.kubernetes.io/managed-by={managed_by}", "-o", "name",
                           check=False)
        assert left.strip() == "", left
    names = app.kubectl("get", "configmaps,secrets", "-o", "name")
    for obj in ("configmap/not-the-suites", "configmap/other-app-config", "secret/someone-elses"):
        assert obj in names.split(), f"{obj} was removed by clean:\n{first.output}"
    second = app.invoke("clean", "--yes")
    assert "nothing to clean" in second.output, second.output
    assert command_lines(second.output, "delete") == [] and command_lines(second.output, "uninstall") == []
