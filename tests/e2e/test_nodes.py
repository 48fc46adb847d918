"""The app on several nodes: each Deployment spread over them, and a worker drained under load.

Needs two schedulable nodes (kind's control plane is tainted once it has
workers): `invoke cluster.up --nodes 3`, which .ci/run and the session fixture
use. The drain is a real `kubectl drain` of the worker that does not hold the
database: PostgreSQL is one pod on a node-local volume (the local-path
StorageClass), which cannot move to another node, so draining its node stops
the database by design, with or without this suite. The requests come from a
pod on the control plane, to the frontend Service's ClusterIP, a new
connection each (what kube-proxy balances), so a Service that routed one to a
pod on its way out would show as a failed request.
"""

import json
import time
from dataclasses import dataclass, field

import pytest

from tests.e2e.todoapp import (BACKEND, FRONTEND, FRONTEND_PORT, Background, Project, TodoClient, new_namespace,
                               port_forward, ready)

pytestmark = pytest.mark.e2e

RATE = 20
# Seconds after which a request counts as hung: well above a loaded machine's answers, below the client's timeout.
HUNG = 3.0
DATA = ("written before the drain", "read after it")
# The client in the cluster: GET at a fixed rate, a new connection each, until /tmp/stop exists;
# then one JSON line with the counts and how long it sent.
CLIENT = """
import json, os, sys, time, urllib.error, urllib.request
url, rate = sys.argv[1], float(sys.argv[2])
request = urllib.request.Request(url, headers={"cookie": os.environ["COOKIE"]})
ok, failures, slowest, started = 0, [], 0.0, time.monotonic()
next_at = started
print("sending", flush=True)
while not os.path.exists("/tmp/stop"):
    sent = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
            ok += 1
            slowest = max(slowest, time.monotonic() - sent)
    except urllib.error.HTTPError as error:
        failures.append(f"{time.monotonic() - started:.1f}s HTTP {error.code} {error.read()[:120]!r}")
    except OSError as error:
        failures.append(f"{time.monotonic() - started:.1f}s {error!r}")
    next_at += 1 / rate
    time.sleep(max(0.0, next_at - time.monotonic()))
print(json.dumps({"ok": ok, "failures": failures, "slowest": slowest, "seconds": time.monotonic() - started}),
      flush=True)
"""
# What the suite's namespace enforces (Pod Security "restricted").
RESTRICTED = {"runAsNonRoot": True, "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}}


def schedulable(nodes: list[dict]) -> list[str]:
    return [node["metadata"]["name"] for node in nodes
            if not any(taint["effect"] == "NoSchedule" for taint in node["spec"].get("taints") or [])]


@pytest.fixture(scope="module")
def nodes(e2e_cluster) -> list[dict]:
    found = json.loads(e2e_cluster.kubectl("get", "nodes", "-o", "json"))["items"]
    if len(schedulable(found)) < 2:
        pytest.fail(f"kind cluster {e2e_cluster.name} has {len(found)} node(s), fewer than two of them schedulable: "
                    "recreate it with `invoke cluster.down` and `invoke cluster.up --nodes 3`", pytrace=False)
    return found


@pytest.fixture(scope="module")
def spread(e2e_cluster, nodes, pristine, tmp_path_factory, test_images) -> Project:
    """The app deployed by the real CLI into a namespace of its own, on a cluster of several nodes."""
    project = Project.create(tmp_path_factory.mktemp("nodes"), new_namespace("e2e-nodes"), e2e_cluster,
                             source=pristine)
    project.invoke("prepare-secrets")
    project.invoke("deploy")
    yield project
    project.remove()


def nodes_of(project: Project, component: str) -> list[str]:
    return sorted(pod["spec"]["nodeName"] for pod in project.component_pods(component) if ready(pod))


def test_pods_of_each_deployment_spread_across_nodes(spread):
    for component in ("backend", "frontend"):
        placed = nodes_of(spread, component)
        assert len(placed) == 2 and len(set(placed)) == 2, f"{component} pods on {placed}"
        print(f"{component}: one pod on each of {', '.join(placed)}")


@dataclass
class Budgets(Background):
    """Samples the namespace's PodDisruptionBudgets until stopped: the fewest healthy pods each ever had."""

    project: Project
    fewest: dict[str, int] = field(default_factory=dict)
    desired: dict[str, int] = field(default_factory=dict)
    samples: int = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            for budget in self.project.kubectl_json("poddisruptionbudgets")["items"]:
                name, status = budget["metadata"]["name"], budget.get("status", {})
                self.fewest[name] = min(self.fewest.get(name, status["currentHealthy"]), status["currentHealthy"])
                self.desired[name] = status["desiredHealthy"]
            self.samples += 1
            self._stop.wait(0.5)


def client_pod(node: str, url: str, cookie: str) -> dict:
    container = {"name": "client", "image": "python:3.11-slim", "imagePullPolicy": "Never",
                 "command": ["python", "-c", CLIENT, url, str(RATE)], "env": [{"name": "COOKIE", "value": cookie}],
                 "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "e2e-client"},
            "spec": {"nodeName": node, "restartPolicy": "Never", "securityContext": RESTRICTED,
                     "terminationGracePeriodSeconds": 1, "containers": [container]}}


class ClientInCluster:
    """A pod on ``node`` sending requests through the frontend Service while the block runs."""

    def __init__(self, project: Project, node: str, cookie: str):
        address = project.kubectl("get", "service", FRONTEND, "-o", "jsonpath={.spec.clusterIP}")
        self.project, self.pod = project, client_pod(node, f"http://{address}:{FRONTEND_PORT}/api/tasks", cookie)
        self.ok, self.failures, self.slowest, self.seconds = 0, [], 0.0, 0.0

    def __enter__(self) -> "ClientInCluster":
        self.project.kubectl("apply", "-f", "-", stdin=json.dumps(self.pod))
        self.project.kubectl("wait", "--for=condition=Ready", "pod/e2e-client", "--timeout=120s", timeout=180)
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.project.kubectl("exec", "e2e-client", "--", "touch", "/tmp/stop")
            self.project.kubectl("wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/e2e-client",
                                 "--timeout=60s", timeout=90)
            counts = json.loads(self.project.kubectl("logs", "e2e-client").splitlines()[-1])
            self.ok, self.failures, self.slowest, self.seconds = (counts["ok"], counts["failures"], counts["slowest"],
                                                                  counts["seconds"])
        finally:
            self.project.kubectl("delete", "pod", "e2e-client", "--ignore-not-found", "--wait=false")

    @property
    def total(self) -> int:
        return self.ok + len(self.failures)


@dataclass
class Drain:
    node: str
    output: str
    client: ClientInCluster
    budgets: Budgets
    seconds: float


def drain_under_traffic(project: Project, nodes: list[dict], cluster, cookie: str) -> Drain:
    """`kubectl drain` of a worker holding app pods but not the database, a client sending meanwhile."""
    [database] = project.component_pods("postgresql")
    target = next(node for node in schedulable(nodes) if node != database["spec"]["nodeName"]
                  and node in nodes_of(project, "backend") and node in nodes_of(project, "frontend"))
    # The client runs where the drain cannot reach it, on the control plane when it is tainted.
    names = sorted((node["metadata"]["name"] for node in nodes), key=lambda name: name in schedulable(nodes))
    started = time.monotonic()
    try:
        with (ClientInCluster(project, next(name for name in names if name != target), cookie) as client,
              Budgets(project) as budgets):
            # drain returns once every evicted pod is gone (its preStop drain and shutdown done, under traffic).
            output = cluster.kubectl("drain", target, "--ignore-daemonsets", "--delete-emptydir-data",
                                     "--timeout=300s", timeout=360)
            for deployment in (BACKEND, FRONTEND):
                project.kubectl("rollout", "status", f"deployment/{deployment}", "--timeout=180s", timeout=240)
    finally:
        cluster.kubectl("uncordon", target)
    return Drain(target, output, client, budgets, time.monotonic() - started)


def test_a_drained_worker_fails_no_request_the_budgets_hold_and_the_data_stays(spread, nodes, e2e_cluster):
    with port_forward(spread, f"service/{FRONTEND}", FRONTEND_PORT) as base:
        user = TodoClient(base)
        user.register_and_log_in()
        for title in DATA:
            user.add_task(title)
    [database] = spread.component_pods("postgresql")
    drain = drain_under_traffic(spread, nodes, e2e_cluster, user.cookie)
    client, budgets = drain.client, drain.budgets
    print(f"drain of {drain.node} under {RATE} requests/s: {client.total} requests in {client.seconds:.0f} s, "
          f"{len(client.failures)} failed, slowest {client.slowest:.2f} s; fewest healthy pods per budget "
          f"{budgets.fewest}, desired {budgets.desired} ({budgets.samples} samples); {drain.seconds:.0f} s in all")
    assert f"node/{drain.node} drained" in drain.output, drain.output
    assert client.failures == [], client.failures[:20]
    # It sent all through the drain, and no request waited on a pod that had gone (a connection to an address
    # no pod has any more takes seconds; on this 2-core machine the pods the drain moves only slow the rest).
    assert client.seconds >= drain.seconds / 2 and client.slowest < HUNG, (client.slowest, client.total)
    # Observed all along the drain: one sample per 4 s at least (each is a kubectl call, slower under load).
    assert set(budgets.fewest) == {BACKEND, FRONTEND} and budgets.samples >= max(3, drain.seconds / 4), \
        (budgets.samples, drain.seconds)
    assert all(budgets.fewest[name] >= budgets.desired[name] for name in budgets.fewest), budgets.fewest
    for component in ("backend", "frontend"):
        assert drain.node not in nodes_of(spread, component) and len(nodes_of(spread, component)) == 2
    # The database pod never moved, and what was written before the drain is still there.
    assert spread.component_pods("postgresql")[0]["metadata"]["uid"] == database["metadata"]["uid"]
    with port_forward(spread, f"service/{FRONTEND}", FRONTEND_PORT) as base:
        again = TodoClient(base)
        again.email, again.password = user.email, user.password
        again.log_in()
        assert set(DATA) <= set(again.titles())
