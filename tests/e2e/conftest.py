"""Fixtures for tests against the real e2e cluster (see tests/e2e/README.md).

The session brings the cluster up when it is not running and takes it down
afterwards only in that case, so a developer's long-lived cluster survives a
test run. Every test gets its own uuid-named, labelled namespace, deleted in
teardown. A cluster that cannot start fails the tests: it never skips them.
"""

import json
import subprocess
import uuid
from dataclasses import dataclass

import pytest

from tests.e2e.harness import cluster, config, images

TEST_LABEL = {"app.kubernetes.io/managed-by": "todoops-e2e-tests"}
# Built locally by `invoke images.bases`, loaded into the cluster once per session.
TEST_IMAGES = ("debian:bookworm-slim", "python:3.11-slim")


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: needs the real single-node cluster of tests/e2e")


@dataclass(frozen=True)
class Kube:
    """kubectl bound to the e2e cluster's kubeconfig and context (never the developer's current one)."""

    kubeconfig: str
    namespace: str = "default"

    def run(self, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
        argv = ["kubectl", "--kubeconfig", self.kubeconfig, "--context", config.KUBE_CONTEXT,
                "--namespace", self.namespace, *args]
        completed = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout)
        if completed.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed:\n{completed.stderr}")
        return completed.stdout

    def apply(self, *objects: dict) -> None:
        self.run("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))

    def in_namespace(self, namespace: str) -> "Kube":
        return Kube(self.kubeconfig, namespace)


@pytest.fixture(scope="session")
def e2e_cluster():
    """The cluster's environment (KUBECONFIG, containerd address); started here if it was not running."""
    states = cluster.component_states(config.state_paths())
    brought_up = not all(states.values())
    if brought_up and cluster.up() != 0:
        # up printed the failing component's log tail; leave no half-started daemons behind.
        cluster.down()
        pytest.fail("the e2e cluster did not start: see the captured output above")
    yield cluster.environment()
    if brought_up:
        cluster.down()


@pytest.fixture(scope="session")
def kube(e2e_cluster) -> Kube:
    return Kube(e2e_cluster["KUBECONFIG"])


@pytest.fixture(scope="session")
def test_images(e2e_cluster) -> tuple[str, ...]:
    missing = [image for image in TEST_IMAGES if not images.docker_has(image)]
    if missing:
        pytest.fail(f"local images missing: {', '.join(missing)}; build them with `invoke images.bases`")
    images.load(list(TEST_IMAGES), socket=config.state_paths().containerd_socket)
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
