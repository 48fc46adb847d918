"""Issue 15's edges that are not minikube's alone, on real kind clusters.

- #1 a stopped cluster: a second, one-node kind cluster of this module's own
  (its own kubeconfig, so the shared cluster and the current context are never
  touched), its node container stopped, then its context removed too: deploy,
  doctor and validate all say it is stopped, give the start command, exit 4;
  with its node running again, the missing context is named with its fix.
  The minikube outputs themselves are pinned in tests/unit/test_preflight.py.
- #2 a method switch, both ways, on the shared cluster in a namespace of the
  test's own: deploy with one --method, then the other; the second deploy
  passes, validate passes, the database pod is the same one (nothing was
  removed and recreated), and helm's view matches who owns the objects now.
"""
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.todoapp import DATABASE, RELEASE, Project, new_namespace, tool_path

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
INVOKE = str(REPO / ".venv" / "bin" / "invoke")
UNREACHABLE = 4


@dataclass(frozen=True)
class Spare:
    """A kind cluster nobody else uses, and the environment that points kubectl and kind at it alone."""

    name: str
    env: dict[str, str]

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    def run(self, *argv: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, env=self.env, cwd=REPO)

    def invoke(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return self.run(INVOKE, *args, timeout=timeout)


@pytest.fixture(scope="module")
def spare(tmp_path_factory) -> Iterator[Spare]:
    folder = tmp_path_factory.mktemp("spare")
    here = Spare(f"t15-{uuid.uuid4().hex[:6]}",
                 {**os.environ, "PATH": tool_path(), "KUBECONFIG": str(folder / "kubeconfig")})
    try:
        made = here.invoke("cluster.up", "--name", here.name, "--nodes", "1")
        assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
        yield here
    finally:
        here.invoke("cluster.down", "--name", here.name, timeout=300)


def said_stopped(spare: Spare, task: str) -> str:
    """``invoke TASK`` against the spare cluster: exit 4 and the stopped diagnosis; returns its output."""
    done = spare.invoke(task, "--context", spare.context, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == UNREACHABLE, output
    assert f"kind cluster {spare.name} is stopped" in output, output
    assert "not in your kubeconfig" not in output, output
    return output


def test_a_stopped_kind_cluster_is_stopped_in_every_task_with_its_start_command(spare):
    node = f"{spare.name}-control-plane"
    assert spare.run("docker", "stop", node).returncode == 0
    for task in ("doctor", "validate", "deploy"):
        assert f"docker start {node}" in said_stopped(spare, task)
    # Without its context too (what `minikube stop` does to minikube's): still stopped, not missing.
    assert spare.run("kubectl", "config", "delete-context", spare.context).returncode == 0
    for task in ("doctor", "validate", "deploy"):
        assert f"invoke cluster.up --name {spare.name} --nodes 1" in said_stopped(spare, task)
    # Its node started again, the cluster runs: what is missing now is the context alone, and how to get it.
    assert spare.run("docker", "start", node).returncode == 0
    done = spare.invoke("doctor", "--context", spare.context, timeout=300)
    assert done.returncode == 3 and f"kind export kubeconfig --name {spare.name}" in done.stdout + done.stderr


@pytest.mark.parametrize(("first", "then"), [("kubectl", "helm"), ("helm", "kubectl")])
def test_switching_the_method_keeps_the_app_and_its_data(e2e_cluster, pristine, tmp_path, first, then):
    project = Project.create(tmp_path, new_namespace("e2e-switch"), e2e_cluster, source=pristine)
    try:
        project.invoke("deploy", method=first)
        database = project.kubectl_json("pod", f"{DATABASE}-0")["metadata"]["uid"]
        switched = project.invoke("deploy", method=then)
        project.invoke("validate", method=then)
        assert project.kubectl_json("pod", f"{DATABASE}-0")["metadata"]["uid"] == database, switched.output
        records = project.kubectl("get", "secrets", "-l", f"owner=helm,name={RELEASE}", "-o", "name").split()
        # helm owns the release after a switch to it; after one away from it, helm has no release left to revert.
        assert bool(records) == (then == "helm"), records
    finally:
        project.remove()
