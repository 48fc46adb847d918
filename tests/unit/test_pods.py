"""The pods Kubernetes objects describe: pod spec, labels, containers (init first) and ports."""
import pytest

from todoops.pods import container_ports, containers, pod_labels, pod_spec, probe_ports, resolve_port, selects

SPEC = {"initContainers": [{"name": "wait"}], "containers": [{"name": "app"}, {"name": "sidecar"}]}
LABELS = {"app.kubernetes.io/component": "backend"}
DEPLOYMENT = {"kind": "Deployment", "spec": {"template": {"metadata": {"labels": LABELS}, "spec": SPEC}}}
POD = {"kind": "Pod", "metadata": {"labels": LABELS}, "spec": SPEC}


@pytest.mark.parametrize(("obj", "spec"), [
    (DEPLOYMENT, SPEC), (POD, SPEC), ({"kind": "StatefulSet", "spec": {"template": {"spec": SPEC}}}, SPEC),
    ({"kind": "Service", "spec": {"ports": []}}, None),
])
def test_pod_spec_of_workloads_and_pods_only(obj, spec):
    assert pod_spec(obj) == spec


@pytest.mark.parametrize("obj", [DEPLOYMENT, POD])
def test_pod_labels_and_containers_init_first_the_order_they_start_in(obj):
    assert pod_labels(obj) == LABELS
    assert [container["name"] for container in containers(obj)] == ["wait", "app", "sidecar"]


@pytest.mark.parametrize("obj", [{"kind": "Service", "spec": {}}, {"kind": "Deployment", "spec": {"template": {
    "spec": {"containers": None}}}}])
def test_containers_of_what_runs_no_pod_are_none(obj):
    assert containers(obj) == []


@pytest.mark.parametrize(("selector", "labels", "selected"), [
    (LABELS, {**LABELS, "extra": "x"}, True), (LABELS, {}, False), ({}, LABELS, False),
])
def test_selects_needs_every_label_and_a_selector(selector, labels, selected):
    assert selects(selector, labels) is selected


CONTAINER = {"ports": [{"name": "http", "containerPort": 8000}, {"containerPort": 9090}],
             "readinessProbe": {"httpGet": {"port": "http"}}, "livenessProbe": {"tcpSocket": {"port": 8000}}}


@pytest.mark.parametrize(("port", "number"), [("http", 8000), (8000, 8000), ("9090", 9090), ("web", None)])
def test_resolve_port_by_name_or_number(port, number):
    assert resolve_port(port, container_ports(CONTAINER)) == number


def test_probe_ports_in_probe_order():
    assert container_ports(CONTAINER) == {"http": 8000, "9090": 9090}
    assert probe_ports(CONTAINER) == [("readinessProbe", "http"), ("livenessProbe", 8000)]
