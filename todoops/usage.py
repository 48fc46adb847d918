"""Resource use of the release's workloads against their requests and limits (validate's `resources` rows).

Usage comes from the metrics API (metrics-server; `invoke cluster.up` installs
it) through `kubectl top pods --containers`, requests and limits from the pods'
own specs. Each workload (component) gets one row: its CPU and memory summed
over its pods, with the share of the summed requests and limits. A container
above WARN_SHARE of a limit (or, without one, of its request) makes the row a
warning: it is close to being throttled (CPU) or OOM-killed (memory). No
metrics API is a warning too, never a pass: the row says what to install.
"""
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence

from invoke import Context

from .checks import Check
from .commands import probe
from .config import Settings
from .kubectl import component, kubectl, said, selector

WARN_SHARE = 0.8
RESOURCES = ("cpu", "memory")
# Kubernetes quantity suffixes (binary and decimal); CPU in cores, memory in bytes.
UNITS = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
         "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")


def quantity(text: str) -> float:
    """A Kubernetes quantity (``250m``, ``1``, ``64Mi``, ``1.5Gi``) as a number; ValueError when it is none."""
    match = QUANTITY.match(text.strip())
    if not match or match.group(2) not in UNITS:
        raise ValueError(f"not a quantity: {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def parse_top(text: str) -> dict[tuple[str, str], dict[str, float]]:
    """``kubectl top pods --containers --no-headers`` -> {(pod, container): {cpu, memory}}."""
    usage = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 4:
            pod, container, cpu, memory = fields
            usage[(pod, container)] = {"cpu": quantity(cpu), "memory": quantity(memory)}
    return usage


def declared(pods: Sequence[Mapping]) -> dict[tuple[str, str], dict[str, dict[str, float]]]:
    """{(pod, container): {"requests": {...}, "limits": {...}}} from the pods' specs."""
    found = {}
    for pod in pods:
        for container in pod.get("spec", {}).get("containers", []):
            resources = container.get("resources", {})
            found[(pod["metadata"]["name"], container["name"])] = {
                kind: {name: quantity(str(value)) for name, value in resources.get(kind, {}).items()
                       if name in RESOURCES}
                for kind in ("requests", "limits")}
    return found


def show(resource: str, value: float) -> str:
    return f"{value * 1000:.0f}m" if resource == "cpu" else f"{value / 2**20:.0f}Mi"


def share(used: float, of: float) -> str:
    return f"{used / of:.0%}" if of else "-"


def component_row(name: str, keys: Sequence[tuple[str, str]], usage: Mapping, specs: Mapping) -> Check:
    """One workload's row: summed use against summed request and limit; warn when a container nears its cap."""
    parts, hot = [], []
    for resource in RESOURCES:
        used = sum(usage[key][resource] for key in keys)
        request = sum(specs[key]["requests"].get(resource, 0) for key in keys)
        limit = sum(specs[key]["limits"].get(resource, 0) for key in keys)
        parts.append(f"{resource} {show(resource, used)} ({share(used, request)} of request "
                     f"{show(resource, request)}, {share(used, limit)} of limit {show(resource, limit)})")
        for key in keys:
            cap = specs[key]["limits"].get(resource) or specs[key]["requests"].get(resource)
            if cap and usage[key][resource] > WARN_SHARE * cap:
                hot.append(f"{key[0]}/{key[1]} {resource} {share(usage[key][resource], cap)}")
    if hot:
        return Check(f"resources {name}", "warn", "; ".join(parts) + f"; above {WARN_SHARE:.0%}: {', '.join(hot)}",
                     "raise the requests/limits in the chart values, or find what uses them (`invoke app.logs`)")
    return Check(f"resources {name}", "ok", "; ".join(parts))


def usage_checks_from(top: str, pods: Sequence[Mapping]) -> list[Check]:
    """Rows for every component whose running containers the metrics API reported."""
    usage, specs = parse_top(top), declared(pods)
    by_component = defaultdict(list)
    for pod in pods:
        label = component(pod) or pod["metadata"]["name"]
        by_component[label] += [key for key in specs if key[0] == pod["metadata"]["name"] and key in usage]
    return [component_row(name, keys, usage, specs) for name, keys in sorted(by_component.items()) if keys] or [
        Check("resources", "warn", "the metrics API reported no container of the release yet",
              "metrics-server reports a pod about a minute after it starts: run validate again")]


def usage_checks(c: Context, cfg: Settings, pods: Sequence[Mapping]) -> list[Check]:
    """CPU and memory of each workload against its requests and limits (a warning when no metrics API answers)."""
    command = kubectl(cfg, "top", "pods", "-l", selector(cfg), "--containers", "--no-headers")
    top = probe(c, command)
    if not top.ok:
        return [Check("resources", "warn", f"no metrics: {said(top)}",
                      "install metrics-server (`invoke cluster.up` does on kind; minikube: "
                      "`minikube addons enable metrics-server`)")]
    try:
        return usage_checks_from(top.stdout, pods)
    except ValueError as error:
        return [Check("resources", "warn", f"unreadable metrics or resources: {error}", "run `kubectl top pods`")]
