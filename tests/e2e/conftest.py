"""Fixtures for tests against a real kind cluster (see tests/e2e/README.md).

The session uses the running kind cluster of `invoke cluster.up` (context
``kind-<cluster.name>``, kubeconfig $KUBECONFIG or kubectl's default); when
there is none it brings one up itself and deletes it afterwards, only in that
case, so a developer's long-lived cluster survives a test run. Every test gets
its own uuid-named, labelled namespace, deleted in teardown. A cluster that
cannot start fails the tests: it never skips them.
"""

import json
import uuid
from dataclasses import dataclass

import pytest

from tests.e2e.todoapp import Cluster, ClusterUnavailable, Project, kind_cluster, new_namespace, sh

TEST_LABEL = {"app.kubernetes.io/managed-by": "todoops-e2e-tests"}
# Built locally by `invoke images.bases`, loaded into every node once per session.
TEST_IMAGES = ("debian:bookworm-slim", "python:3.11-slim")


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: needs a real kind cluster (`invoke cluster.up`)")


def pytest_collection_modifyitems(items):
    """Tests that disturb the shared cluster run last, whatever their module's name."""
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


@dataclass(frozen=True)
class Kube:
    """kubectl on the cluster's context, in one namespace (never the developer's current context)."""

    cluster: Cluster
    namespace: str = "default"

    @property
    def kubeconfig(self) -> str:
        return self.cluster.kubeconfig

    @property
    def context(self) -> str:
        return self.cluster.context

    def run(self, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
        return self.cluster.kubectl(*args, namespace=self.namespace, stdin=stdin, timeout=timeout)

    def apply(self, *objects: dict) -> None:
        self.run("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))

    def in_namespace(self, namespace: str) -> "Kube":
        return Kube(self.cluster, namespace)


@pytest.fixture(scope="session")
def e2e_cluster() -> Cluster:
    """The kind cluster; brought up here (and down after the session) when it was not running."""
    try:
        with kind_cluster() as cluster:
            yield cluster
    except ClusterUnavailable as error:
        pytest.fail(f"the kind cluster did not start: {error}", pytrace=False)


@pytest.fixture(scope="session")
def kube(e2e_cluster) -> Kube:
    return Kube(e2e_cluster)


@pytest.fixture(scope="session")
def test_images(e2e_cluster) -> tuple[str, ...]:
    missing = [image for image in TEST_IMAGES
               if sh(["docker", "image", "inspect", image], check=False).returncode != 0]
    if missing:
        pytest.fail(f"local images missing: {', '.join(missing)}; build them with `invoke images.bases`")
    e2e_cluster.load(*TEST_IMAGES)
    return TEST_IMAGES


@pytest.fixture
def namespace(kube: Kube) -> Kube:
    """A fresh labelled namespace for one test; deleted (with all it holds) afterwards."""
    name = f"e2e-{uuid.uuid4().hex[:10]}"
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": TEST_LABEL}})
    yield kube.in_namespace(name)
    kube.run("delete", "namespace", name, "--ignore-not-found", "--wait=false")


@pytest.fixture(scope="session")
def pristine(tmp_path_factory):
    """One snapshot of the project for the session's e2e tests of the suite (tests.e2e.todoapp)."""
    from tests.e2e.todoapp import pristine_copy

    return pristine_copy(tmp_path_factory.mktemp("pristine"))


@pytest.fixture(scope="module")
def app(e2e_cluster, pristine, tmp_path_factory):
    """A project copy of the module's own, and its namespace (not created yet); removed afterwards."""
    project = Project.create(tmp_path_factory.mktemp("app"), new_namespace(), e2e_cluster, source=pristine)
    yield project
    project.remove()
