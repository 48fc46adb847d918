"""The kind cluster after a Docker restart that hands its nodes other addresses.

Docker gives node containers their addresses in start order, so after a
reboot or a restart of dockerd the control plane often comes back on an
address another node had. `invoke cluster.up` must bring such a cluster back
(the node image's entrypoint follows the change; cluster.up routes via the new
addresses and waits until every Node reports its own). The test makes the
move certain: while the nodes start again (in reverse order) a placeholder
container holds the control plane's address.

It stops the shared cluster, so it is marked ``disruptive`` and runs last.
"""
import json
import time

import pytest

from tests.e2e.todoapp import cli, sh

pytestmark = [pytest.mark.e2e, pytest.mark.disruptive]
PLACEHOLDER_IMAGE = "registry.k8s.io/pause:3.10"
ADDRESS = '{{with index .NetworkSettings.Networks "kind"}}{{.IPAddress}}{{end}}'


def container_addresses(nodes: list[str]) -> dict[str, str]:
    return dict(zip(nodes, sh(["docker", "inspect", "--format", ADDRESS, *nodes]).stdout.split()))


def node_addresses(kube) -> dict[str, str]:
    items = json.loads(kube.run("get", "nodes", "-o", "json"))["items"]
    return {item["metadata"]["name"]: next(a["address"] for a in item["status"]["addresses"]
                                           if a["type"] == "InternalIP") for item in items}


def restart_with_moved_addresses(nodes: list[str], taken: str) -> None:
    """Stop the nodes, hold ``taken`` with a placeholder while they start again (in reverse order)."""
    sh(["docker", "stop", "--time", "10", *nodes], timeout=120)
    placeholder = sh(["docker", "run", "--detach", "--network", "kind", "--ip", taken,
                      PLACEHOLDER_IMAGE]).stdout.strip()
    try:
        for node in reversed(nodes):
            sh(["docker", "start", node])
    finally:
        sh(["docker", "rm", "--force", placeholder])


def test_cluster_up_brings_back_a_cluster_whose_nodes_moved_address(kube, e2e_cluster):
    nodes = e2e_cluster.nodes()
    control_plane = next(node for node in nodes if node.endswith("-control-plane"))
    before = container_addresses(nodes)
    restart_with_moved_addresses(nodes, taken=before[control_plane])
    after = container_addresses(nodes)
    assert after[control_plane] != before[control_plane], f"the addresses did not move: {before} -> {after}"

    up = cli("cluster.up", "--nodes", str(len(nodes)), timeout=900)
    assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-2000:]
    assert "[ ok ] node addresses" in up.stdout
    assert node_addresses(kube) == after
    assert cli("cluster.status").returncode == 0
    # The API server reaches metrics-server's pod (pod network routes), which scrapes every kubelet at its
    # new address; each node appears after metrics-server's first scrape of it (a bounded wait).
    assert measured_nodes(kube, want=nodes) == nodes


def measured_nodes(kube, want: list[str], seconds: float = 90) -> list[str]:
    deadline, found = time.monotonic() + seconds, []
    while time.monotonic() < deadline:
        metrics = json.loads(kube.run("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"))
        found = sorted(item["metadata"]["name"] for item in metrics["items"])
        if found == want:
            break
        time.sleep(5)
    return found
