"""`invoke app.port-forward` and `invoke status` on the real cluster, in a uuid-named namespace.

`port-forward`: the kubectl it starts dies with it, whatever stops it.

A background ``invoke app.port-forward`` stopped by ``kill`` (SIGTERM), a closed
terminal (SIGHUP) or Ctrl-C (SIGINT) left ``kubectl port-forward`` running,
re-parented to PID 1 and still holding the port. Here the real CLI forwards to
a Service in a uuid-named namespace (one pod of ``python:3.11-slim`` serving
``http.server``), answers through the forward, and is sent each signal alone,
as ``kill PID`` sends it: afterwards no kubectl port-forward of that namespace
runs and the port can be bound again.

`status`: what kubectl really answers (the revisions carry the release's labels)
reads as replicas, tags, restarts and the age of the last rollout.
"""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest

from tests.e2e.todoapp import INVOKE, REPO, Cluster
from todoops.processes import STOP_SIGNALS, process_tree
from todoops.config import DEFAULTS

pytestmark = pytest.mark.e2e

CLUSTER = Cluster(DEFAULTS["todoops"]["cluster"]["name"])
IMAGE = "python:3.11-slim"
SELECTOR = {"app.kubernetes.io/part-of": "todo-app", "app.kubernetes.io/instance": "todo-app",
            "app.kubernetes.io/component": "frontend"}


def served(namespace: str) -> list[dict]:
    """A frontend Service of release todo-app in front of one pod that answers HTTP on 3000."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": SELECTOR},
           "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
               "name": "web", "image": IMAGE, "imagePullPolicy": "Never",
               "command": ["python", "-m", "http.server", "3000"],
               "readinessProbe": {"tcpSocket": {"port": 3000}, "periodSeconds": 1}}]}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "todo-app-frontend", "labels": SELECTOR},
               "spec": {"selector": SELECTOR, "ports": [{"port": 3000, "targetPort": 3000}]}}
    return [pod, service, workload("Deployment", "backend"), workload("StatefulSet", "postgresql")]


def workload(kind: str, component: str) -> dict:
    """One replica of ``component`` running the python image (so never the sources' content tag)."""
    labels = {**SELECTOR, "app.kubernetes.io/component": component}
    container = {"name": component, "image": IMAGE, "imagePullPolicy": "Never", "command": ["sleep", "3600"]}
    spec = {"replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"terminationGracePeriodSeconds": 1, "containers": [container]}}}
    if kind == "StatefulSet":
        spec["serviceName"] = f"todo-app-{component}"
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": f"todo-app-{component}", "labels": labels},
            "spec": spec}


@pytest.fixture(scope="module")
def namespace():
    name = f"e2e-pf-{uuid.uuid4().hex[:10]}"
    CLUSTER.kubectl("create", "namespace", name)
    try:
        if IMAGE not in " ".join(ref for refs in CLUSTER.images().values() for ref in refs):
            CLUSTER.load(IMAGE)
        CLUSTER.kubectl("apply", "-f", "-", namespace=name,
                        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": served(name)}))
        CLUSTER.kubectl("wait", "--for=condition=Ready", "pod", "--all", "--timeout=90s", namespace=name, timeout=120)
        yield name
    finally:
        CLUSTER.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def suite_env(namespace: str) -> dict[str, str]:
    return {**CLUSTER.env(), "INVOKE_TODOOPS_NAMESPACE": namespace, "INVOKE_TODOOPS_CONTEXT": CLUSTER.context}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def answered(url: str, within: float = 15.0) -> int:
    """The HTTP status of ``url``, retried while nothing listens yet (the announcement may come first)."""
    deadline = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                return answer.status
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def forwards_of(namespace: str) -> list[int]:
    """The pids of every kubectl port-forward into ``namespace`` on this machine, whoever its parent."""
    found = []
    for cmdline in os.listdir("/proc"):
        try:
            argv = open(f"/proc/{cmdline}/cmdline", "rb").read().split(b"\0")
            state = open(f"/proc/{cmdline}/stat").read().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError, IndexError):
            continue
        if state != "Z" and b"port-forward" in argv and namespace.encode() in argv:
            found.append(int(cmdline))
    return found


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=lambda signum: signal.Signals(signum).name)
def test_a_stopped_port_forward_leaves_no_kubectl_and_frees_the_port(namespace, signum):
    port = free_port()
    env = suite_env(namespace)
    # A session of its own: the signal reaches invoke alone, as `kill PID` on a background job does.
    task = subprocess.Popen([str(INVOKE), "app.port-forward", "--port", str(port)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        announced = task.stdout.readline()
        assert announced.startswith(f"{url} -> service/todo-app-frontend:3000"), task.stderr.read()
        assert answered(url + "/") == 200
        kubectl = [pid for pid in process_tree(task.pid) if pid in forwards_of(namespace)]
        assert kubectl, "the forward runs as a kubectl port-forward below invoke"
        task.send_signal(signum)
        assert task.wait(timeout=20) == 0, task.stderr.read()
        assert "port-forward stopped" in task.stderr.read()
        deadline = time.monotonic() + 5
        while forwards_of(namespace) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert forwards_of(namespace) == []
        assert port_is_free(port)
    finally:
        if task.poll() is None:
            task.kill()
        task.wait()
        for pid in forwards_of(namespace):
            os.kill(pid, signal.SIGKILL)


def test_status_reads_the_real_clusters_workloads_pods_and_revisions(namespace):
    shown = subprocess.run([str(INVOKE), "status", "--json"], cwd=REPO, env=suite_env(namespace),
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    rows = {row["component"]: row for row in json.loads(shown.stdout)}
    assert list(rows) == ["backend", "postgresql"]  # the bare frontend pod is no workload
    for row in rows.values():
        assert (row["desired"], row["ready"], row["tags"], row["restarts"]) == (1, 1, ["3.11-slim"], 0)
        assert 0 <= row["rollout_age"] < 600
    assert rows["backend"]["current"] is False and len(rows["backend"]["source_tag"]) == 12
    assert rows["postgresql"]["current"] is None
    assert "STALE (source " in shown.stderr
