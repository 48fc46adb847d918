"""The pods that Kubernetes objects describe: which objects are workloads, their pod template's spec and
labels, their containers and ports, and what a label selector selects.

Pure functions over objects as helm renders them and ``kubectl get -o json`` returns
them (plain dicts). A workload's pods come from its ``spec.template``; a Pod is its own.
"""
from collections.abc import Mapping

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


def pod_spec(obj: Mapping) -> dict | None:
    """The pod spec of a workload or Pod; None for any other object."""
    if obj.get("kind") in WORKLOAD_KINDS:
        return obj.get("spec", {}).get("template", {}).get("spec", {})
    return obj.get("spec", {}) if obj.get("kind") == "Pod" else None


def pod_labels(obj: Mapping) -> dict:
    if obj.get("kind") == "Pod":
        return obj.get("metadata", {}).get("labels") or {}
    return obj.get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}


def containers(obj: Mapping) -> list[dict]:
    """Every container of the object's pods, init containers first (the order they start in); [] if it has none."""
    spec = pod_spec(obj) or {}
    return (spec.get("initContainers") or []) + (spec.get("containers") or [])


def selects(selector: Mapping, labels: Mapping) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def resolve_port(port: object, ports: Mapping[str, int]) -> int | None:
    """A port given by name or number, as a number; None when the name is unknown."""
    if isinstance(port, int):
        return port
    return ports.get(str(port)) if not str(port).isdigit() else int(str(port))


def container_ports(container: Mapping) -> dict[str, int]:
    return {p.get("name", str(p["containerPort"])): p["containerPort"] for p in container.get("ports", [])}


def probe_ports(container: Mapping) -> list[tuple[str, object]]:
    found = []
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        handler = container.get(kind) or {}
        for action in ("httpGet", "tcpSocket", "grpc"):
            if action in handler:
                found.append((kind, handler[action].get("port")))
    return found
