"""Trust under faults, on the real cluster: no lost data, no destroyed foreign object.

The suite's own steps run in this process on a real invoke Context whose
commands reach the cluster: kubectl and helm with a kubeconfig of the test's
choosing. Faults are real: the API server answering 503 to one chosen call
(``faults.faulty_api``), a ServiceAccount without any Role (RBAC), an address
where nothing listens. Every test works in its own uuid-named namespace.

The fixture interface is small on purpose (``Site``: kubeconfig, context, a
fresh namespace name); ``site`` below is the one place that says which cluster:
the kind cluster of `invoke cluster.up` (context ``kind-<cluster.name>``) in
the kubeconfig kubectl uses. A cluster that does not answer fails the tests.
"""

import json
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from invoke import Config, Context, Exit

from tests.e2e import faults
from tests.e2e.todoapp import tool_path
from tests.unit.fixtures import ENV, project
from todoops.cleanup import clean_release
from todoops.config import DEFAULTS, Settings, resolve
from todoops.errors import ExitCode
from todoops.kubectl import ensure_namespace, labels
from todoops.report import Report
from todoops.secrets import prepare

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CONTEXT = f"kind-{DEFAULTS['todoops']['cluster']['name']}"
# A .env that leaves both generatable values to the suite: losing them is the data loss under test.
GENERATED = {**ENV, "JWT_SECRET": "", "POSTGRES_PASSWORD": ""}
RESTRICTED = {"runAsNonRoot": True, "runAsUser": 1001, "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER = {"name": "c", "image": "debian:bookworm-slim", "imagePullPolicy": "Never", "command": ["sleep", "3600"],
             "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}
# Restricted, as the suite's namespace enforces; gone at once when deleted.
POD_SPEC = {"restartPolicy": "Never", "securityContext": RESTRICTED, "containers": [CONTAINER],
            "terminationGracePeriodSeconds": 1}


@dataclass(frozen=True)
class Site:
    """Where one test may act: a kubeconfig, its context, and a namespace nobody else uses."""

    kubeconfig: Path
    context: str
    namespace: str
    folder: Path

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["kubectl", "--kubeconfig", str(self.kubeconfig), "--context", self.context,
                               "--namespace", self.namespace, *args], input=stdin, capture_output=True, text=True,
                              check=check, timeout=240)

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["helm", "--kubeconfig", str(self.kubeconfig), "--kube-context", self.context,
                               "--namespace", self.namespace, *args], capture_output=True, text=True, check=check,
                              timeout=300, env={"PATH": tool_path(), "HOME": str(self.folder)})

    def apply(self, *objects: dict) -> None:
        self.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))

    def exists(self, *what: str) -> bool:
        return self.kubectl("get", *what, "-o", "name", check=False).returncode == 0

    def secret_data(self) -> dict:
        return json.loads(self.kubectl("get", "secret", "todo-app-secrets", "-o", "json").stdout)["data"]

    def suite(self, kubeconfig: Path | None = None) -> tuple[Context, Settings]:
        """A Context whose commands use ``kubeconfig`` (default: the cluster's own), and the suite's settings."""
        root = self.folder / "project"
        if not root.exists():
            root.mkdir()
            project(root, GENERATED)
        config = Config()
        config.load_collection(DEFAULTS)
        config.load_overrides({
            "todoops": {"root": str(root), "cache_dir": str(root / ".cache"), "namespace": self.namespace,
                        "context": self.context, "provider": "kind"},
            "run": {"env": {"KUBECONFIG": str(kubeconfig or self.kubeconfig), "PATH": tool_path(),
                            "HOME": str(self.folder)}}})
        c = Context(config=config)
        return c, resolve(c, context_explicit=True)


@pytest.fixture
def site(tmp_path) -> Site:
    """The cluster's kubeconfig and context, and a namespace name of this test's own (removed afterwards)."""
    kubeconfig = Path((os.environ.get("KUBECONFIG") or "~/.kube/config").split(os.pathsep)[0]).expanduser()
    here = Site(kubeconfig, CONTEXT, f"e2e-trust-{uuid.uuid4().hex[:10]}", tmp_path)
    if here.kubectl("get", "--raw", "/readyz", check=False).returncode != 0:
        pytest.fail(f"the cluster of context {CONTEXT} does not answer: start it with `invoke cluster.up`")
    yield here
    subprocess.run(["helm", "--kubeconfig", str(here.kubeconfig), "--kube-context", here.context, "-n",
                    here.namespace, "uninstall", "todo-app"], capture_output=True, timeout=300,
                   env={"PATH": tool_path(), "HOME": str(tmp_path)})
    here.kubectl("delete", "namespace", here.namespace, "--ignore-not-found", "--wait=false", check=False)


def suite_made(site: Site) -> Settings:
    """The namespace as the suite makes it (labelled as its own), holding one labelled object of the release."""
    c, cfg = site.suite()
    assert ensure_namespace(c, cfg)
    site.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "todo-app-extra", "labels": labels(cfg)},
                "data": {"a": "b"}})
    return cfg


# -- Only NotFound means absent.

def test_a_secret_behind_a_failing_read_is_never_regenerated(site):
    c, cfg = site.suite()
    ensure_namespace(c, cfg)
    prepare(c, cfg, Report())
    generated = site.secret_data()
    with faults.faulty_api(site.kubeconfig, site.context, site.folder) as (api, kubeconfig):
        api.fail("GET", f"/api/v1/namespaces/{site.namespace}/secrets/todo-app-secrets")
        c, cfg = site.suite(kubeconfig)
        with pytest.raises(Exit) as error:
            prepare(c, cfg, Report())
        assert error.value.code == ExitCode.FAILED and "ServiceUnavailable" in error.value.message
        assert ("GET", f"/api/v1/namespaces/{site.namespace}/secrets/todo-app-secrets", 503) in api.seen
        assert site.secret_data() == generated
        # Once the API answers again, the generated values are kept, not replaced.
        prepare(c, cfg, Report())
    assert site.secret_data() == generated


def test_a_secret_the_user_may_not_read_is_never_regenerated(site):
    c, cfg = site.suite()
    ensure_namespace(c, cfg)
    prepare(c, cfg, Report())
    generated = site.secret_data()
    restricted = faults.restricted_kubeconfig(site.kubeconfig, site.context, site.namespace, site.folder)
    c, cfg = site.suite(restricted)
    with pytest.raises(Exit) as error:
        prepare(c, cfg, Report())
    assert error.value.code == ExitCode.FAILED and "Forbidden" in error.value.message
    assert site.secret_data() == generated


def test_an_unreachable_cluster_is_exit_4_and_changes_nothing(site):
    c, cfg = site.suite(faults.unreachable_kubeconfig(site.context, site.folder))
    with pytest.raises(Exit) as error:
        prepare(c, cfg, Report())
    assert error.value.code == ExitCode.UNREACHABLE
    assert not site.exists("namespace", site.namespace)


def test_someone_elses_namespace_behind_a_failing_read_is_not_taken_over(site):
    site.kubectl("create", "namespace", site.namespace)
    site.kubectl("label", "namespace", site.namespace, "owner=someone-else")
    with faults.faulty_api(site.kubeconfig, site.context, site.folder) as (api, kubeconfig):
        api.fail("GET", f"/api/v1/namespaces/{site.namespace}")
        c, cfg = site.suite(kubeconfig)
        with pytest.raises(Exit):
            ensure_namespace(c, cfg)
    found = json.loads(site.kubectl("get", "namespace", site.namespace, "-o", "json").stdout)["metadata"]["labels"]
    assert found.get("owner") == "someone-else"
    assert "app.kubernetes.io/managed-by" not in found and "pod-security.kubernetes.io/enforce" not in found


# -- clean: foreign objects by discovery, only our helm release, a failed listing is a failure.

FOREIGN = {
    "Pod": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug-shell"}, "spec": POD_SPEC},
    "Job": {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "backup"},
            "spec": {"backoffLimit": 0, "template": {"spec": POD_SPEC}}},
    "CronJob": {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
                "spec": {"schedule": "0 3 * * *", "suspend": True,
                         "jobTemplate": {"spec": {"template": {"spec": POD_SPEC}}}}},
    "Role": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "reader"},
             "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]},
}


@pytest.mark.parametrize("kind", FOREIGN)
def test_clean_keeps_a_suite_made_namespace_holding_a_foreign_object(site, capsys, kind):
    cfg = suite_made(site)
    site.apply(FOREIGN[kind])
    c, _ = site.suite()
    clean_release(c, cfg, Report(), yes=True)
    assert "kept: it holds" in capsys.readouterr().out
    name = FOREIGN[kind]["metadata"]["name"]
    assert site.exists(kind.lower(), name) and not site.exists("configmap", "todo-app-extra")
    # Without it, the namespace holds only what Kubernetes puts in every namespace: it goes.
    site.kubectl("delete", kind.lower(), name, "--wait=true", "--cascade=foreground")
    clean_release(c, cfg, Report(), yes=True)
    assert not site.exists("namespace", site.namespace)


def test_one_clean_removes_our_helm_release_and_the_namespace(site):
    cfg = suite_made(site)
    site.helm("install", "todo-app", str(REPO / "helm" / "todo-app"), "--set", "backend.image.tag=e2e-trust",
              "--set", "frontend.image.tag=e2e-trust", "--set", "postgresql.enabled=false")
    c, _ = site.suite()
    clean_release(c, cfg, Report(), yes=True)
    assert site.helm("status", "todo-app", check=False).returncode != 0
    assert not site.exists("namespace", site.namespace)


def test_clean_keeps_a_foreign_helm_release_of_the_same_name(site, capsys):
    cfg = suite_made(site)
    chart = site.folder / "blog"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: blog\nversion: 1.0.0\n")
    (chart / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: blog-settings\ndata:\n  theme: dark\n")
    site.helm("install", "todo-app", str(chart))
    c, _ = site.suite()
    clean_release(c, cfg, Report(), yes=True)
    out = capsys.readouterr().out
    assert "helm release todo-app kept: it is chart 'blog'" in out and "namespace" in out
    assert json.loads(site.helm("status", "todo-app", "-o", "json").stdout)["info"]["status"] == "deployed"
    assert site.exists("configmap", "blog-settings") and not site.exists("configmap", "todo-app-extra")


@pytest.mark.parametrize("listing", ["configmaps", "namespace"])
def test_a_failed_listing_stops_clean_before_anything_is_deleted(site, listing):
    cfg = suite_made(site)
    path = (f"/api/v1/namespaces/{site.namespace}/configmaps" if listing == "configmaps"
            else f"/api/v1/namespaces/{site.namespace}")
    with faults.faulty_api(site.kubeconfig, site.context, site.folder) as (api, kubeconfig):
        api.fail("GET", path)
        c, _ = site.suite(kubeconfig)
        with pytest.raises(Exit) as error:
            clean_release(c, cfg, Report(), yes=True)
        assert error.value.code == ExitCode.FAILED and "ServiceUnavailable" in error.value.message
        assert ("GET", path, 503) in api.seen
    assert site.exists("configmap", "todo-app-extra") and site.exists("namespace", site.namespace)
