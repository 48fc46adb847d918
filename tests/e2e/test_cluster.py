"""What the suite's end-to-end tests ask of the kind cluster beyond test_cluster_kind.py.

That module proves nodes, DNS, storage, cross-node pods and metrics; this one
the paths the suite and its tests use to look at workloads: images loaded with
`kind load docker-image` on every node run without a pull, logs and exec reach
the kubelet, and a port-forward to a Service answers on 127.0.0.1.
"""

import pytest

from tests.e2e.conftest import TEST_LABEL, Kube
from tests.e2e.todoapp import http, port_forward

pytestmark = pytest.mark.e2e

HTTP_PORT = 8080


def pod(name: str, image: str, command: list[str], **spec) -> dict:
    """A pod that never pulls: its image must have been loaded into the cluster."""
    container = {"name": name, "image": image, "imagePullPolicy": "Never", "command": command}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": TEST_LABEL},
        "spec": {"containers": [container], "terminationGracePeriodSeconds": 1, **spec},
    }


def web_deployment_and_service() -> list[dict]:
    """python:3.11-slim serving files over HTTP, behind a ClusterIP Service named `web`."""
    selector = {"app.kubernetes.io/name": "web"}
    container = {
        "name": "web",
        "image": "python:3.11-slim",
        "imagePullPolicy": "Never",
        "command": ["python", "-m", "http.server", str(HTTP_PORT)],
        "ports": [{"containerPort": HTTP_PORT}],
        "readinessProbe": {"tcpSocket": {"port": HTTP_PORT}, "periodSeconds": 1},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": TEST_LABEL},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": {**selector, **TEST_LABEL}},
                "spec": {"containers": [container], "terminationGracePeriodSeconds": 1},
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "labels": TEST_LABEL},
        "spec": {"selector": selector, "ports": [{"port": HTTP_PORT, "targetPort": HTTP_PORT}]},
    }
    return [deployment, service]


def test_loaded_images_run_on_every_node_and_logs_and_exec_work(namespace: Kube, test_images):
    nodes = namespace.cluster.nodes()
    for node in nodes:
        assert set(test_images) <= {ref.removeprefix("docker.io/library/")
                                    for ref in namespace.cluster.images()[node]}, node
    # nodeName places one pod on each node, the control plane included (it ignores NoSchedule taints).
    pods = [pod(f"hello-{index}", "debian:bookworm-slim", ["sh", "-c", "echo hello-from-e2e; exec sleep 3600"],
                nodeName=node) for index, node in enumerate(nodes)]
    namespace.apply(*pods)
    names = [f"pod/{p['metadata']['name']}" for p in pods]
    namespace.run("wait", "--for=condition=Ready", *names, "--timeout=120s", timeout=180)
    for name in names:
        assert "hello-from-e2e" in namespace.run("logs", name)
        assert namespace.run("exec", name, "--", "cat", "/etc/debian_version").strip()


def test_port_forward_to_a_service_answers_on_loopback(namespace: Kube, test_images):
    namespace.apply(*web_deployment_and_service())
    namespace.run("rollout", "status", "deployment/web", "--timeout=120s", timeout=180)
    with port_forward(namespace, "service/web", HTTP_PORT) as base:
        assert http("GET", f"{base}/")[0] == 200
