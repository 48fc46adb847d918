"""Smoke test of the e2e cluster itself: what the suite's end-to-end tests rely on.

Local images run, Deployments roll out behind Services, DNS answers inside
pods, logs/exec/port-forward reach the kubelet, and claims get volumes.
"""

import re
import subprocess
import time
import urllib.request

import pytest

from tests.e2e.conftest import TEST_LABEL, Kube

pytestmark = pytest.mark.e2e

HTTP_PORT = 8080


def pod(name: str, image: str, command: list[str], **spec) -> dict:
    """A pod that never pulls: its image must have been loaded into the cluster."""
    container = {"name": name, "image": image, "imagePullPolicy": "Never", "command": command}
    container.update(spec.pop("container", {}))
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


def wait_ready(kube: Kube, *objects: str, timeout: str = "90s") -> None:
    kube.run("wait", "--for=condition=Ready", *objects, f"--timeout={timeout}")


def start_web(kube: Kube) -> None:
    kube.apply(*web_deployment_and_service())
    kube.run("rollout", "status", "deployment/web", "--timeout=120s")


def test_pod_from_local_image_runs_and_logs(namespace: Kube, test_images):
    command = ["sh", "-c", "echo hello-from-e2e; exec sleep 3600"]
    namespace.apply(pod("hello", "debian:bookworm-slim", command))
    wait_ready(namespace, "pod/hello")
    assert "hello-from-e2e" in namespace.run("logs", "pod/hello")


def test_service_reachable_by_dns_name_from_a_pod(namespace: Kube, test_images):
    start_web(namespace)
    namespace.apply(pod("client", "python:3.11-slim", ["sleep", "3600"]))
    wait_ready(namespace, "pod/client")
    resolved = namespace.run("exec", "client", "--", "getent", "hosts", "kubernetes.default")
    assert resolved.split()[0] == "10.96.0.1"
    fetch = f"import urllib.request; print(urllib.request.urlopen('http://web:{HTTP_PORT}/').status)"
    assert namespace.run("exec", "client", "--", "python", "-c", fetch).strip() == "200"


def forwarded_port(process: subprocess.Popen) -> int:
    """The local port kubectl chose, from its "Forwarding from 127.0.0.1:PORT -> ..." line."""
    line = process.stdout.readline()
    match = re.search(r"127\.0\.0\.1:(\d+)", line)
    assert match, f"unexpected port-forward output: {line!r}"
    return int(match.group(1))


def get_with_retry(url: str, attempts: int = 20) -> int:
    """The first connection through a fresh port-forward can race its setup."""
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def test_port_forward_reaches_http_server_in_pod(namespace: Kube, test_images):
    start_web(namespace)
    argv = ["kubectl", "--kubeconfig", namespace.kubeconfig, "--namespace", namespace.namespace,
            "port-forward", "--address", "127.0.0.1", "service/web", f":{HTTP_PORT}"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as forward:
        try:
            port = forwarded_port(forward)
            assert get_with_retry(f"http://127.0.0.1:{port}/") == 200
        finally:
            forward.terminate()


def test_claim_binds_and_pod_writes_to_it(namespace: Kube, test_images):
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "labels": TEST_LABEL},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    writer = pod(
        "writer", "debian:bookworm-slim", ["sh", "-c", "echo persisted > /data/proof; exec sleep 3600"],
        container={"volumeMounts": [{"name": "data", "mountPath": "/data"}]},
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
    )
    namespace.apply(claim, writer)
    namespace.run("wait", "--for=jsonpath={.status.phase}=Bound", "pvc/data", "--timeout=60s")
    wait_ready(namespace, "pod/writer")
    assert namespace.run("exec", "writer", "--", "cat", "/data/proof").strip() == "persisted"
