"""`invoke deploy --provider registry` on the kind cluster: the path to real clusters (EKS, GKE, AKS, kubeadm).

The registry is kind's local-registry pattern that `invoke cluster.up
--registry` runs: pushes go to localhost:5001, every node's containerd pulls
from it. The tests run in order on one namespace: the first deploy pushes each
image once and every node that runs it pulls it; a no-change re-deploy pushes
and pulls nothing; validate proves the pods run the pushed digests.
"""

import json
import urllib.request
import uuid

import pytest

from tests.e2e.todoapp import Cluster, Project, cli, command_lines, new_namespace, sh

pytestmark = pytest.mark.e2e

REGISTRY = "localhost:5001"
IMAGES = ("backend", "frontend")
PUSH = "docker push"


def registry_answers() -> bool:
    try:
        with urllib.request.urlopen("http://127.0.0.1:5001/v2/", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def registry(e2e_cluster: Cluster) -> str:
    """The cluster's local registry, started (with the cluster as it is) when it does not answer."""
    if not registry_answers():
        up = cli("cluster.up", "--nodes", str(len(e2e_cluster.nodes())), "--registry")
        if up.returncode != 0 or not registry_answers():
            pytest.fail(f"the local registry did not start:\n{up.stdout[-3000:]}{up.stderr[-3000:]}", pytrace=False)
    return REGISTRY


@pytest.fixture(scope="module")
def pushed(e2e_cluster, registry, pristine, tmp_path_factory) -> Project:
    """A project copy whose images have content tags no registry or node has seen."""
    project = Project.create(tmp_path_factory.mktemp("registry"), new_namespace("e2e-registry"), e2e_cluster,
                             source=pristine, provider="registry", registry=registry)
    for name in IMAGES:
        project.append(f"{name}/Dockerfile", f"# e2e registry test {uuid.uuid4()}\n")
    # A real cluster pulls PostgreSQL from Docker Hub, which no node reaches here: they get it from this docker.
    e2e_cluster.load("postgres:15")
    project.invoke("prepare-secrets")
    yield project
    project.remove()


def pulls(project: Project) -> dict[str, list[str]]:
    """Image ref -> the nodes that pulled it from the registry (kubelet's "Successfully pulled" events)."""
    events = project.kubectl_json("events", "--field-selector", "reason=Pulled")["items"]
    pods = {pod["metadata"]["name"]: pod["spec"].get("nodeName", "") for pod in project.pods()}
    found: dict[str, list[str]] = {}
    for event in events:
        message, pod = event.get("message", ""), event["involvedObject"]["name"]
        if message.startswith("Successfully pulled image"):
            ref = message.split('"')[1]
            found.setdefault(ref, []).append(event.get("source", {}).get("host") or pods.get(pod, "?"))
    return found


def running(project: Project, component: str) -> list[dict]:
    return [status for pod in project.component_pods(component) if "deletionTimestamp" not in pod["metadata"]
            for status in pod["status"].get("containerStatuses", []) if status["name"] == component]


def node_image_ids(project: Project, component: str) -> set[str]:
    """The image ID each running container of ``component`` has in its node's image store."""
    return {sh(["docker", "exec", pod["spec"]["nodeName"], "crictl", "inspecti", "-o", "go-template",
                "--template", "{{.status.id}}", status["image"]]).stdout.strip()
            for pod in project.component_pods(component) if "deletionTimestamp" not in pod["metadata"]
            for status in pod["status"].get("containerStatuses", []) if status["name"] == component}


def test_1_first_deploy_pushes_each_image_once_and_every_node_running_it_pulls_it(pushed):
    deployed = pushed.invoke("deploy")
    pushes = command_lines(deployed.output, PUSH)
    assert sorted(line.split(f"{REGISTRY}/")[1].split(":")[0] for line in pushes) == ["todo-backend", "todo-frontend"]
    pulled = pulls(pushed)
    for component in IMAGES:
        # The ref the pods asked for: the runtime may report the same image by another name it knows it by.
        refs = {container["image"] for pod in pushed.component_pods(component) if "deletionTimestamp" not in
                pod["metadata"] for container in pod["spec"]["containers"] if container["name"] == component}
        assert len(refs) == 1 and next(iter(refs)).startswith(f"{REGISTRY}/todo-{component}:"), refs
        ref = refs.pop()
        nodes = {pod["spec"]["nodeName"] for pod in pushed.component_pods(component)}
        assert sorted(pulled.get(ref, [])) == sorted(nodes), (ref, pulled, nodes)
        assert all(ref in pushed.cluster.images()[node] for node in nodes)
    print(f"first deploy: {len(pushes)} push(es); pulls per image: "
          f"{ {ref.split('/')[-1]: len(nodes) for ref, nodes in pulled.items()} }")


def test_2_a_no_change_redeploy_pushes_and_pulls_nothing(pushed):
    before, uids = pulls(pushed), pushed.pod_uids()
    again = pushed.invoke("deploy")
    assert command_lines(again.output, PUSH) == [], again.output
    assert pulls(pushed) == before and pushed.pod_uids() == uids
    print(f"no-change re-deploy: 0 pushes, 0 pulls, {again.seconds:.1f} s")


def test_3_validate_proves_the_pods_run_the_pushed_digests(pushed):
    result = pushed.invoke("validate", "--json")
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    for component in IMAGES:
        ref = running(pushed, component)[0]["image"]
        digests = json.loads(sh(["docker", "image", "inspect", "--format", "{{json .RepoDigests}}", ref]).stdout)
        pushed_digest = next(d for d in digests if d.startswith(f"{REGISTRY}/todo-{component}@"))
        # By image ID: a node that already held this build under another name (an earlier `kind load`)
        # reports that name and its digest for the pulled copy.
        pushed_id = sh(["docker", "image", "inspect", "--format", "{{.Id}}", pushed_digest]).stdout.strip()
        assert node_image_ids(pushed, component) == {pushed_id}
        row = rows[f"image {component}"]
        assert row["status"] == "ok" and pushed_digest.split("@")[1][:19] in row["detail"], row
