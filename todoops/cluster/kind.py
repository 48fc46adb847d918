"""What the suite asks of kind: which clusters exist, their nodes, the config it creates them from.

Assumptions: kind (v0.33, the docker provider) names a cluster's node
containers ``NAME-control-plane``, ``NAME-worker``, ``NAME-worker2``... and its
kube context ``kind-NAME``. A node image built by `invoke cluster.image`
carries the ``io.todoops.cni`` label: kind then gets no default CNI (kindnetd
cannot be had here) and network.py wires the pods instead.
"""
import re
from pathlib import Path

import yaml
from invoke import Context

from ..commands import probe, run
from ..config import ClusterSettings
from ..errors import ExitCode, fail
from ..tools import TOOLS
from .node_image import CNI_LABEL

INSTALL_HINT = f"install kind: {TOOLS['kind'].hint}"
OFFICIAL_REPOSITORY = "kindest/node"
POD_SUBNET = "10.244.0.0/16"
SERVICE_SUBNET = "10.96.0.0/16"
# kind validates names with this pattern; a node name adds at most "-control-plane".
NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,40}[a-z0-9])?$")
VERSION = re.compile(r"^v\d+\.\d+\.\d+$")
MAX_NODES = 10
SYS_RESOURCE = 24  # capability number
# The OCI runtime wrapper for hosts without CAP_SYS_RESOURCE (dockerd's default runtime there).
RUNC_SHIM = Path(__file__).parent / "node" / "runc-shim"
# Registry mirrors per host, from /etc/containerd/certs.d/<host>/hosts.toml (see registry.py).
CONTAINERD_PATCH = '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n'


def check_settings(cluster: ClusterSettings) -> None:
    """Refuse values kind or kubeadm would reject later, before anything runs."""
    if not NAME.match(cluster.name):
        fail(f"cluster name {cluster.name!r} is not valid for kind",
             "use lowercase letters, digits, '-' and '.', at most 42 characters", ExitCode.BAD_INPUT)
    if not isinstance(cluster.nodes, int) or isinstance(cluster.nodes, bool) or not 1 <= cluster.nodes <= MAX_NODES:
        fail(f"node count {cluster.nodes!r} is not a number from 1 to {MAX_NODES}",
             "pass --nodes 1 (one control plane) or --nodes 3 (control plane and two workers)", ExitCode.BAD_INPUT)
    if not VERSION.match(cluster.kubernetes_version):
        fail(f"kubernetes_version {cluster.kubernetes_version!r} is not a release version",
             "set todoops.cluster.kubernetes_version to e.g. v1.34.4", ExitCode.BAD_INPUT)


def check_kind(c: Context) -> str:
    """kind's version line; fails with the install command when kind is missing."""
    version = probe(c, ["kind", "version"])
    if not version.ok:
        fail("kind is not installed" if version.exited == 127 else "kind does not run",
             INSTALL_HINT, ExitCode.PREFLIGHT)
    return version.stdout.strip()


def privileged_fails(cap_bounding_hex: str, default_runtime: str) -> bool:
    """kind nodes run --privileged: plain runc asks for every capability, CAP_SYS_RESOURCE included."""
    try:
        bounding = int(cap_bounding_hex, 16)
    except ValueError:
        return False
    return not bounding >> SYS_RESOURCE & 1 and default_runtime in ("runc", "io.containerd.runc.v2", "")


def render_config(name: str, nodes: int, own_cni: bool) -> str:
    """The kind config: one control plane, ``nodes - 1`` workers, our subnets, registry mirrors enabled."""
    config = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": name,
        "networking": {"podSubnet": POD_SUBNET, "serviceSubnet": SERVICE_SUBNET,
                       "disableDefaultCNI": own_cni},
        "nodes": [{"role": "control-plane"}] + [{"role": "worker"} for _ in range(nodes - 1)],
        "containerdConfigPatches": [CONTAINERD_PATCH],
    }
    return yaml.safe_dump(config, sort_keys=False)


def kind_lines(c: Context, *args: str) -> list[str]:
    listing = probe(c, ["kind", "get", *args])
    if not listing.ok:
        fail(f"`kind get {' '.join(args)}` failed: {listing.stderr.strip()}",
             "check that the Docker daemon answers (`docker info`)", ExitCode.PREFLIGHT)
    return [line.strip() for line in listing.stdout.splitlines() if line.strip()]


def clusters(c: Context) -> set[str]:
    return set(kind_lines(c, "clusters"))


def node_containers(c: Context, name: str) -> list[str]:
    """The cluster's node containers, control plane first."""
    names = sorted(kind_lines(c, "nodes", "--name", name))
    return sorted(names, key=lambda node: not node.endswith("-control-plane"))


def stopped(c: Context, containers: list[str]) -> list[str]:
    states = run(c, ["docker", "inspect", "--format", "{{.State.Running}}", *containers], hide=True)
    return [name for name, state in zip(containers, states.stdout.split()) if state != "true"]


def own_cni(c: Context, ref: str) -> bool:
    """Whether the image (or node container) is ours, whose pods network.py wires."""
    label = probe(c, ["docker", "inspect", "--format", f'{{{{index .Config.Labels "{CNI_LABEL}"}}}}', ref])
    return label.ok and label.stdout.strip() not in ("", "<no value>")


def official_image(c: Context, version: str) -> tuple[str, str]:
    """``kindest/node:<version>`` and how it is had ("" when neither local nor pullable)."""
    ref = f"{OFFICIAL_REPOSITORY}:{version}"
    if probe(c, ["docker", "image", "inspect", "--format", "{{.Id}}", ref]).ok:
        return ref, "official image, present locally"
    if probe(c, ["docker", "manifest", "inspect", ref]).ok:
        return ref, "official image, kind pulls it"
    return ref, ""


def create(c: Context, cluster: ClusterSettings, image: str, own: bool, dry_run: bool) -> None:
    run(c, ["kind", "create", "cluster", "--name", cluster.name, "--image", image, "--config", "-"],
        stdin=render_config(cluster.name, cluster.nodes, own), mutates=True, dry_run=dry_run)


def delete(c: Context, name: str, dry_run: bool) -> None:
    run(c, ["kind", "delete", "cluster", "--name", name], mutates=True, dry_run=dry_run)
