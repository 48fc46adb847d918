"""Cluster providers: how built images reach the cluster, which pull policy fits, how to reach the app.

Assumptions: images are built by the local docker daemon under content-addressed
tags (minikube with ``build_in_cluster`` builds in minikube's daemon instead).
The kube context names the cluster the way each tool does: ``minikube`` is the
profile, ``kind-NAME`` and ``k3d-NAME`` carry the cluster name. A provider
reports which refs the cluster already has, so loading is skipped when it can be.
"""
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from invoke import Context

from .commands import Argv, Pipeline, pipe, probe, run
from .config import Settings
from .errors import fail
from .kubectl import get_json
from .processes import probes
from .refs import listed_refs, normalize, registry_host

# Local providers must never pull: an image missing from the node then fails at
# once (ErrImageNeverPull) instead of waiting on a registry that does not have it.
LOCAL_POLICY = "Never"
# Content-addressed tags never move, so a node that has one never needs to pull again.
REGISTRY_POLICY = "IfNotPresent"


@dataclass(frozen=True)
class Provider:
    name: str
    # The provider's own CLI (checked by preflight), if it needs one.
    tool: str | None
    pull_policy: str
    # Commands listing the refs each of the given image stores holds (the cluster has a ref when every
    # one lists it); None: see ``cluster_has``.
    listing: Callable[[Settings, Sequence[str]], Sequence[Argv]] | None
    # Commands that bring one local image (ref, cluster ref) into the given image stores.
    loading: Callable[[Settings, str, str, Sequence[str]], Sequence[Argv | Pipeline]]
    # The image stores a load must reach, asked once per load (kind: the nodes that take pods); None: the
    # cluster's one store.
    stores: Callable[[Context, Settings], Sequence[str]] | None = None


def cluster_name(cfg: Settings, prefix: str) -> str:
    return cfg.context.removeprefix(prefix)


def ctr(cfg: Settings, *args: str) -> list[str]:
    return ["ctr", "--address", cfg.containerd.address, "-n", cfg.containerd.namespace, *args]


def node_ctr(node: str) -> list[str]:
    return ["docker", "exec", node, "ctr", "-n", "k8s.io", "images", "ls", "-q"]


# A pod is never scheduled onto a node with one of these taints (the chart tolerates none).
NO_PODS = {"NoSchedule", "NoExecute"}


def pod_nodes(c: Context, cfg: Settings) -> list[str]:
    """The nodes that take the app's pods (kind names a node's container after it): a multi-node kind
    cluster's control plane is tainted, and copying an image there only costs time."""
    nodes = (get_json(c, cfg, "nodes") or {}).get("items", [])
    names = [node["metadata"]["name"] for node in nodes
             if not any(taint.get("effect") in NO_PODS for taint in node.get("spec", {}).get("taints") or [])]
    if not names:
        fail(f"no node of {cfg.context} takes pods: each has a NoSchedule or NoExecute taint",
             f"see `kubectl --context {cfg.context} describe nodes`; `invoke cluster.up` makes a cluster that does")
    return names


def minikube(cfg: Settings, *args: str) -> list[str]:
    return ["minikube", "-p", cfg.context, *args]


PROVIDERS = {
    "minikube": Provider(
        "minikube", "minikube", LOCAL_POLICY,
        lambda cfg, _: [minikube(cfg, "image", "ls")],
        lambda cfg, ref, _, __: [minikube(cfg, "image", "load", ref)]),
    "kind": Provider(
        "kind", "kind", LOCAL_POLICY,
        lambda cfg, nodes: [node_ctr(node) for node in nodes],
        lambda cfg, ref, _, nodes: [["kind", "load", "docker-image", ref, "--name", cluster_name(cfg, "kind-"),
                                     "--nodes", ",".join(nodes)]],
        pod_nodes),
    "k3d": Provider(
        "k3d", "k3d", LOCAL_POLICY,
        lambda cfg, _: [node_ctr(f"k3d-{cluster_name(cfg, 'k3d-')}-server-0")],
        lambda cfg, ref, _, __: [["k3d", "image", "import", ref, "--cluster", cluster_name(cfg, "k3d-")]]),
    # Docker Desktop's Kubernetes runs on docker's own image store: nothing to copy.
    "docker-desktop": Provider("docker-desktop", None, LOCAL_POLICY, None, lambda cfg, ref, _, __: []),
    "containerd": Provider(
        "containerd", "ctr", LOCAL_POLICY,
        lambda cfg, _: [ctr(cfg, "images", "ls", "-q")],
        lambda cfg, ref, _, __: [pipe(["docker", "save", ref], ctr(cfg, "images", "import", "-"))]),
    "registry": Provider(
        "registry", None, REGISTRY_POLICY, None,
        lambda cfg, ref, remote, _: [["docker", "tag", ref, remote], ["docker", "push", remote]]),
}


def provider_for(cfg: Settings) -> Provider:
    return PROVIDERS[cfg.provider]


def in_cluster_build(cfg: Settings) -> bool:
    """Images are built straight into minikube's docker daemon: no copy at all."""
    return cfg.provider == "minikube" and cfg.build_in_cluster


def cluster_repository(cfg: Settings, repository: str) -> str:
    """Where pods find a repository: the local one, or the registry's copy of it."""
    return f"{cfg.registry}/{repository}" if cfg.provider == "registry" else repository


def manifest_inspect(remote: str) -> list[str]:
    """Whether the registry has ``remote``. dockerd talks plain HTTP to a registry on the loopback
    (kind's local registry), but docker's manifest client must be told so or it asks for HTTPS and
    reports the image missing: every deploy would push again and then find the push missing."""
    host = registry_host(remote)
    loopback = host in ("localhost", "[::1]") or host.startswith("127.")
    return ["docker", "manifest", "inspect", *(["--insecure"] if loopback else []), remote]


def image_stores(c: Context, cfg: Settings) -> Sequence[str]:
    """Where a load must bring an image (see Provider.stores)."""
    stores = provider_for(cfg).stores
    return stores(c, cfg) if stores else ()


def cluster_has(c: Context, cfg: Settings, refs: Sequence[tuple[str, str]], stores: Sequence[str]) -> set[str]:
    """Which of ``refs`` (local ref, cluster ref) the cluster's ``stores`` (image_stores) all have, as local refs.

    Always asked, also when building in minikube's daemon: what was built there
    is listed, while an external image (postgres) may well be missing there.
    """
    provider = provider_for(cfg)
    if provider.name == "docker-desktop":
        return {ref for ref, _ in refs}
    if provider.listing is None:
        return {ref for ref, remote in refs if probe(c, manifest_inspect(remote)).ok}
    listings = [listing for listing, _ in probes(c, provider.listing(cfg, stores))]
    held = [listed_refs(listing.stdout) if listing.ok else set() for listing in listings]
    return {ref for ref, remote in refs if all(normalize(remote) in have for have in held)}


def load(c: Context, cfg: Settings, ref: str, remote: str, stores: Sequence[str]) -> None:
    for command in provider_for(cfg).loading(cfg, ref, remote, stores):
        run(c, command, mutates=True, dry_run=cfg.dry_run)


def docker_env(c: Context, cfg: Settings) -> tuple[str, ...]:
    """``KEY=VALUE`` pairs pointing docker at minikube's daemon when building in the cluster."""
    if not in_cluster_build(cfg):
        return ()
    result = run(c, minikube(cfg, "docker-env", "--shell", "none"), hide=True)
    return tuple(line.strip() for line in result.stdout.splitlines() if "=" in line)


def minikube_profile(profiles_json: str, profile: str) -> dict:
    """``profile``'s entry in ``minikube profile list -o json`` (Name, Status, Config), {} when it has none."""
    try:
        profiles = json.loads(profiles_json).get("valid") or []
    except (ValueError, AttributeError):
        return {}
    return next((p for p in profiles if isinstance(p, dict) and p.get("Name") == profile), {})


def minikube_driver(profiles_json: str, profile: str) -> str:
    """The driver of ``profile`` from ``minikube profile list -o json``, "" when unknown."""
    return (minikube_profile(profiles_json, profile).get("Config") or {}).get("Driver", "")


def access_lines(cfg: Settings, ingress_hosts: Sequence[str], frontend_port: int | None, driver: str = "",
                 platform: str = sys.platform) -> list[str]:
    """Where to open the app, for this provider and driver; port-forward (to the frontend Service's port,
    ``frontend_port``) always works."""
    opened = f"open http://127.0.0.1:{frontend_port}" if frontend_port else "open the address it prints"
    lines = [f"any cluster: `invoke app.port-forward --context {cfg.context}`, then {opened}"]
    for host in ingress_hosts:
        if cfg.provider == "minikube" and driver == "docker" and platform in ("darwin", "win32"):
            # The docker driver's node IP is not routable from macOS/Windows hosts.
            lines.append(f"ingress: run `minikube -p {cfg.context} tunnel`, map {host} to 127.0.0.1 "
                         f"in /etc/hosts, open http://{host}")
        elif cfg.provider == "minikube":
            lines.append(f"ingress: map {host} to the output of `minikube -p {cfg.context} ip` "
                         f"in /etc/hosts, open http://{host}")
        elif cfg.provider in ("kind", "k3d", "docker-desktop"):
            lines.append(f"ingress: map {host} to 127.0.0.1 in /etc/hosts (when the cluster publishes "
                         f"port 80), open http://{host}")
        else:
            lines.append(f"ingress: point {host} at the ingress controller's address, open http://{host}")
    return lines
