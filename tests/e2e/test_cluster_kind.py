"""The kind cluster of `invoke cluster.up`, for real: nodes, DNS, storage, pods across nodes, metrics.

Runs against the cluster ``cluster.name`` (context ``kind-todo`` by default),
brought up beforehand with `invoke cluster.up [--nodes 3]` (.ci/run does it).
A missing cluster fails the tests; the cross-node test needs two nodes or
more and says so when the cluster has one. Every test works in its own
uuid-named, labelled namespace, deleted afterwards.
"""
import json
import subprocess
import time
import uuid

import pytest

from todoops.config import DEFAULTS

pytestmark = pytest.mark.e2e

CLUSTER = DEFAULTS["todoops"]["cluster"]["name"]
CONTEXT = f"kind-{CLUSTER}"
LABEL = {"app.kubernetes.io/managed-by": "todoops-cluster-tests"}
# Built by `invoke images.bases`; loaded into the nodes once per session.
IMAGES = ("debian:bookworm-slim", "python:3.11-slim")
TIMEOUT = 120


def kubectl(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    completed = subprocess.run(["kubectl", "--context", CONTEXT, *args], input=stdin, capture_output=True,
                               text=True, timeout=TIMEOUT + 60)
    if check and completed.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed:\n{completed.stderr}")
    return completed


@pytest.fixture(scope="module")
def nodes() -> list[dict]:
    """The cluster's nodes; the images the tests run are loaded into every node first."""
    found = subprocess.run(["kubectl", "--context", CONTEXT, "get", "nodes", "-o", "json"], capture_output=True,
                           text=True, timeout=30)
    if found.returncode != 0:
        pytest.fail(f"no reachable kind cluster {CLUSTER} ({found.stderr.strip()}): run `invoke cluster.up`")
    for image in IMAGES:
        subprocess.run(["kind", "load", "docker-image", image, "--name", CLUSTER], check=True, capture_output=True)
    return json.loads(found.stdout)["items"]


@pytest.fixture
def namespace(nodes):
    name = f"cluster-test-{uuid.uuid4().hex[:8]}"
    kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": name, "labels": LABEL}}))
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def pod(name: str, image: str, command: list[str], node: str | None = None, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {**LABEL, "app": name}},
            "spec": {"restartPolicy": "Never", **({"nodeName": node} if node else {}),
                     "containers": [{"name": "main", "image": image, "imagePullPolicy": "Never",
                                     "command": command, **spec.pop("container", {})}], **spec}}


def apply(namespace: str, *objects: dict) -> None:
    kubectl("-n", namespace, "apply", "-f", "-",
            stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


def finished_logs(namespace: str, name: str) -> str:
    """Wait for the pod to succeed and return its output (its events when it does not)."""
    waited = kubectl("-n", namespace, "wait", f"pod/{name}", "--for=jsonpath={.status.phase}=Succeeded",
                     f"--timeout={TIMEOUT}s", check=False)
    logs = kubectl("-n", namespace, "logs", name, check=False).stdout
    if waited.returncode != 0:
        described = kubectl("-n", namespace, "describe", "pod", name, check=False).stdout
        raise AssertionError(f"pod {name} did not succeed:\n{logs}\n{described[-2000:]}")
    return logs


def test_every_node_is_ready(nodes):
    ready = {node["metadata"]["name"]: next(cond["status"] for cond in node["status"]["conditions"]
                                            if cond["type"] == "Ready") for node in nodes}
    assert set(ready.values()) == {"True"}, ready


def test_cluster_dns_resolves_a_service(namespace):
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "target", "labels": LABEL},
               "spec": {"selector": {"app": "nothing"}, "ports": [{"port": 80}]}}
    apply(namespace, service)
    cluster_ip = kubectl("-n", namespace, "get", "service", "target", "-o", "jsonpath={.spec.clusterIP}").stdout
    apply(namespace, pod("resolver", "debian:bookworm-slim", ["getent", "hosts", "target"]))
    assert finished_logs(namespace, "resolver").split()[0] == cluster_ip


def test_a_claim_binds_on_the_default_storage_class(namespace):
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "labels": LABEL},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}}}
    writer = pod("writer", "debian:bookworm-slim", ["sh", "-c", "echo kept >/data/file && cat /data/file"],
                 container={"volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                 volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}])
    apply(namespace, claim, writer)
    assert finished_logs(namespace, "writer").strip() == "kept"
    claimed = json.loads(kubectl("-n", namespace, "get", "pvc", "data", "-o", "json").stdout)
    assert claimed["status"]["phase"] == "Bound" and claimed["spec"]["storageClassName"] == "standard"


def test_pods_on_different_nodes_reach_each_other_directly_and_through_a_service(nodes, namespace):
    if len(nodes) < 2:
        pytest.skip(f"kind cluster {CLUSTER} has one node: `invoke cluster.up --nodes 3` for this test")
    server_node, client_node = nodes[-1]["metadata"]["name"], nodes[0]["metadata"]["name"]
    server = pod("server", "python:3.11-slim", ["python", "-m", "http.server", "8080"], node=server_node,
                 container={"readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}})
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "server", "labels": LABEL},
               "spec": {"selector": {"app": "server"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    apply(namespace, server, service)
    kubectl("-n", namespace, "wait", "pod/server", "--for=condition=Ready", f"--timeout={TIMEOUT}s")
    server_ip = kubectl("-n", namespace, "get", "pod", "server", "-o", "jsonpath={.status.podIP}").stdout
    # kube-proxy programs a new Service on each node a moment after it is created (longer on a loaded
    # machine); until then its IP is refused (network.py's guard), so each URL is tried for up to 60 s.
    fetch = ("import sys, time, urllib.request\n"
             "for url in sys.argv[1:]:\n"
             "    deadline = time.monotonic() + 60\n"
             "    while True:\n"
             "        try:\n"
             "            print(url, urllib.request.urlopen(url, timeout=10).status)\n"
             "            break\n"
             "        except OSError:\n"
             "            if time.monotonic() > deadline:\n"
             "                raise\n"
             "            time.sleep(1)\n")
    apply(namespace, pod("client", "python:3.11-slim",
                         ["python", "-c", fetch, f"http://{server_ip}:8080/", "http://server/"], node=client_node))
    assert finished_logs(namespace, "client").split() == [f"http://{server_ip}:8080/", "200", "http://server/", "200"]


def test_every_node_pulls_from_the_local_registry(nodes, namespace):
    if subprocess.run(["docker", "inspect", "kind-registry"], capture_output=True).returncode != 0:
        pytest.skip("no local registry: `invoke cluster.up --registry` starts it")
    ref = f"localhost:5001/cluster-test:{namespace}"
    subprocess.run(["docker", "tag", "debian:bookworm-slim", ref], check=True)
    try:
        subprocess.run(["docker", "push", "-q", ref], check=True, capture_output=True, timeout=TIMEOUT)
        names = [node["metadata"]["name"] for node in nodes]
        pods = [pod(f"pull-{index}", ref, ["echo", "pulled"], node=name, container={"imagePullPolicy": "Always"})
                for index, name in enumerate(names)]
        apply(namespace, *pods)
        assert [finished_logs(namespace, p["metadata"]["name"]).strip() for p in pods] == ["pulled"] * len(names)
    finally:
        subprocess.run(["docker", "rmi", ref], capture_output=True)


def test_kubectl_top_reports_every_node(nodes):
    # metrics-server needs a scrape or two after start: wait for the condition, bounded.
    deadline, top = time.monotonic() + TIMEOUT, None
    while time.monotonic() < deadline:
        top = kubectl("top", "nodes", "--no-headers", check=False)
        if top.returncode == 0 and len(top.stdout.splitlines()) == len(nodes):
            break
        time.sleep(5)
    assert top is not None and top.returncode == 0, top.stderr if top else "no attempt"
    assert {line.split()[0] for line in top.stdout.splitlines()} == {node["metadata"]["name"] for node in nodes}
