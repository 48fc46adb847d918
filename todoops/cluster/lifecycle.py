"""`cluster.up`, `cluster.down`, `cluster.status`: the kind cluster's life, as ordered steps.

`up` converges: a running cluster with the asked node count is reused (its
stopped nodes started, its kube context restored, its pod network re-applied),
a missing one is created; then it waits until the cluster is ready for the
suite. Each phase prints its time.
"""
import json
from dataclasses import replace

from invoke import Context

from ..bases import docker_problems
from ..commands import probe, run
from ..config import Settings
from ..errors import ExitCode, fail
from ..preflight import looks_local
from ..report import Report
from . import addons, kind, network, node_image, registry

INTERNAL_IP = '{.status.addresses[?(@.type=="InternalIP")].address}'
READY_STEPS = ("nodes Ready", "CoreDNS", "default StorageClass", "metrics-server")


def preflight(c: Context, cfg: Settings) -> None:
    kind.check_settings(cfg.cluster)
    problems = docker_problems(c)
    if problems:
        fail("; ".join(problems), "nothing was changed; fix the above and re-run", ExitCode.PREFLIGHT)
    kind.check_kind(c)
    bounding = probe(c, ["grep", "^CapBnd:", "/proc/self/status"]).stdout.split()[-1:]
    runtime = probe(c, ["docker", "info", "--format", "{{.DefaultRuntime}}"]).stdout.strip()
    if bounding and kind.privileged_fails(bounding[0], runtime):
        fail("this host cannot run privileged containers (no CAP_SYS_RESOURCE in the bounding set), "
             f"and docker's default runtime is {runtime!r}, so every kind node would fail to start",
             f"start dockerd with `--add-runtime shim={kind.RUNC_SHIM} --default-runtime shim`", ExitCode.PREFLIGHT)


def choose_image(c: Context, cfg: Settings, report: Report) -> str:
    """The configured image, else the official one when it can be had, else one built here."""
    if cfg.cluster.node_image:
        report.line("info", f"node image {cfg.cluster.node_image} (configured: cluster.node_image)")
        return cfg.cluster.node_image
    ref, how = kind.official_image(c, cfg.cluster.kubernetes_version)
    if how:
        report.line("info", f"node image {ref} ({how})")
        return ref
    report.line("info", f"node image: {ref} is neither local nor pullable; using one built here (cluster.image)")
    return node_image.build_node_image(c, cfg, report)


def reuse(c: Context, cfg: Settings, containers: list[str], report: Report) -> None:
    cluster = cfg.cluster
    if len(containers) != cluster.nodes:
        fail(f"kind cluster {cluster.name} has {len(containers)} node(s), not {cluster.nodes}",
             f"use it as it is (--nodes {len(containers)}), or recreate it: `invoke cluster.down` then "
             f"`invoke cluster.up --nodes {cluster.nodes}`", ExitCode.BAD_INPUT)
    report.line("ok", f"kind cluster {cluster.name} exists with {len(containers)} node(s): reused")
    for node in kind.stopped(c, containers):
        run(c, ["docker", "start", node], mutates=True, dry_run=cfg.dry_run)
    # One name per line: a context name may hold spaces.
    contexts = probe(c, ["kubectl", "config", "get-contexts", "-o", "name"]).stdout.splitlines()
    if cluster.context not in contexts:
        run(c, ["kind", "export", "kubeconfig", "--name", cluster.name], mutates=True, dry_run=cfg.dry_run)


def follow_addresses(c: Context, cfg: Settings, addresses: dict[str, str]) -> None:
    """Wait until each Node reports its container's address: after a restart docker may have
    handed the nodes other ones, which the node image's entrypoint follows at boot."""
    context = cfg.cluster.context
    for node, address in addresses.items():
        addons.wait(c, addons.kubectl(context, "wait", f"--for=jsonpath={INTERNAL_IP}={address}", f"node/{node}",
                                      f"--timeout={addons.WAIT}"),
                    f"node {node} at its address {address}",
                    f"its kubelet still reports an older address (`kubectl --context {context} get nodes -o wide`); "
                    f"a node image that does not follow address changes needs the cluster made again: "
                    f"`invoke cluster.down` then `invoke cluster.up`", cfg.dry_run)


def wire_pods(c: Context, cfg: Settings, addresses: dict[str, str]) -> None:
    context = cfg.cluster.context
    # The controller manager assigns each node its pod CIDR moments after the node joins.
    addons.wait(c, addons.kubectl(context, "wait", "--for=jsonpath={.spec.podCIDR}", "node", "--all",
                                  f"--timeout={addons.WAIT}"),
                "pod CIDRs of the nodes", f"`kubectl --context {context} get nodes -o wide`; the controller "
                "manager logs say why", cfg.dry_run)
    nodes_json = run(c, addons.kubectl(context, "get", "nodes", "-o", "json"), hide=True).stdout
    # Routes go via the containers' addresses: the truth, even while a Node still reports an old one.
    nodes = [replace(node, address=addresses.get(node.name, node.address))
             for node in network.parse_nodes(nodes_json)]
    network.apply(c, network.plan(nodes), kind.POD_SUBNET, cfg.dry_run)


def make_ready(c: Context, cfg: Settings, report: Report) -> None:
    context, dry_run = cfg.cluster.context, cfg.dry_run
    with report.step("nodes Ready"):
        addons.wait_nodes(c, context, dry_run)
    with report.step("CoreDNS"):
        addons.rollout(c, context, "kube-system", "coredns", dry_run)
    with report.step("default StorageClass"):
        addons.rollout(c, context, "local-path-storage", "local-path-provisioner", dry_run)
        addons.check_default_storage(c, context, dry_run)
    with report.step("metrics-server"):
        addons.install_metrics_server(c, context, dry_run)


def other_local_cluster(c: Context, cfg: Settings) -> str | None:
    """The kubeconfig's current context when it is another local cluster that answers (a running minikube)."""
    current = probe(c, ["kubectl", "config", "current-context"]).stdout.strip()
    if not current or current == cfg.cluster.context or not looks_local(replace(cfg, context=current)):
        return None
    ready = probe(c, ["kubectl", "--context", current, "get", "--raw", "/readyz", "--request-timeout", "5s"])
    return current if ready.ok else None


def up(c: Context, cfg: Settings, report: Report, with_registry: bool = False, keep_current: bool = False) -> None:
    kept = other_local_cluster(c, cfg) if keep_current else None
    if kept:
        report.line("ok", f"current context {kept} is a local cluster that answers: kept, no kind cluster made "
                          "(without --keep-current, cluster.up makes it)")
        return
    preflight(c, cfg)
    cluster = cfg.cluster
    exists = cluster.name in kind.clusters(c)
    if exists:
        reuse(c, cfg, kind.node_containers(c, cluster.name), report)
    else:
        image = choose_image(c, cfg, report)
        with report.step(f"docker network {network.DOCKER_NETWORK}"):
            network.ensure_docker_network(c, cfg.dry_run)
        with report.step(f"kind create cluster {cluster.name} ({cluster.nodes} node(s))"):
            kind.create(c, cluster, image, kind.own_cni(c, image), cfg.dry_run)
    if cfg.dry_run and not exists:
        report.line("info", f"then: pod network (own node images), {', '.join(READY_STEPS)}")
        return
    containers = kind.node_containers(c, cluster.name)
    addresses = network.container_addresses(c, containers)
    if exists:
        with report.step("API server ready"):
            addons.wait_api(c, cluster.context, cfg.dry_run)
        with report.step("node addresses"):
            follow_addresses(c, cfg, addresses)
    network.guard_services(c, containers, kind.SERVICE_SUBNET, cfg.dry_run)
    if kind.own_cni(c, containers[0]):
        with report.step("pod network (bridge + routes between nodes)"):
            wire_pods(c, cfg, addresses)
    make_ready(c, cfg, report)
    if with_registry:
        with report.step(f"registry {registry.HOST_ADDRESS}"):
            registry.ensure(c, cluster.context, containers, cfg.dry_run)
    report.line("ok", f"cluster {cluster.name} ready: context {cluster.context}, {len(containers)} node(s); "
                      f"use it with --context {cluster.context} --provider kind{registry_use(with_registry)}")


def registry_use(with_registry: bool) -> str:
    if not with_registry:
        return ""
    return f" (each image copied whole into every node), or faster {registry.DEPLOY_THROUGH}"


def down(c: Context, cfg: Settings, report: Report, with_registry: bool = False) -> None:
    kind.check_settings(cfg.cluster)
    kind.check_kind(c)
    if cfg.cluster.name in kind.clusters(c):
        with report.step(f"kind delete cluster {cfg.cluster.name}"):
            kind.delete(c, cfg.cluster.name, cfg.dry_run)
    else:
        report.line("ok", f"nothing to delete: no kind cluster {cfg.cluster.name}")
    if with_registry and registry.remove(c, cfg.dry_run):
        report.line("ok", f"registry container {registry.CONTAINER} removed")


def node_rows(nodes_json: str) -> list[list[str]]:
    """One row per node: name, roles, Ready, kubelet version, address, pod CIDR."""
    rows = []
    for item in json.loads(nodes_json).get("items", []):
        labels = item["metadata"].get("labels", {})
        roles = ",".join(sorted(key.rsplit("/", 1)[1] for key in labels
                                if key.startswith("node-role.kubernetes.io/"))) or "worker"
        ready = next((cond["status"] for cond in item.get("status", {}).get("conditions", [])
                      if cond["type"] == "Ready"), "Unknown")
        addresses = {a["type"]: a["address"] for a in item.get("status", {}).get("addresses", [])}
        rows.append([item["metadata"]["name"], roles, ready,
                     item.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "?"),
                     addresses.get("InternalIP", "?"), item.get("spec", {}).get("podCIDR", "-")])
    return rows


def status(c: Context, cfg: Settings, report: Report) -> None:
    """Nodes, readiness, versions, node image and context; fails unless every node is Ready."""
    kind.check_settings(cfg.cluster)
    kind.check_kind(c)
    cluster = cfg.cluster
    if cluster.name not in kind.clusters(c):
        fail(f"no kind cluster {cluster.name}", "create it: `invoke cluster.up`", ExitCode.UNREACHABLE)
    containers = kind.node_containers(c, cluster.name)
    image = probe(c, ["docker", "inspect", "--format", "{{.Config.Image}}", containers[0]]).stdout.strip()
    report.line("info", f"cluster {cluster.name}: context {cluster.context}, node image {image}")
    nodes = probe(c, addons.kubectl(cluster.context, "get", "nodes", "-o", "json", "--request-timeout", "10s"))
    if not nodes.ok:
        fail(f"the API server of {cluster.name} does not answer",
             f"node containers: {', '.join(containers)}; start them with `invoke cluster.up`", ExitCode.UNREACHABLE)
    rows = node_rows(nodes.stdout)
    report.table(["node", "roles", "ready", "version", "address", "pod CIDR"], rows)
    not_ready = [row[0] for row in rows if row[2] != "True"]
    if not_ready:
        fail(f"node(s) not Ready: {', '.join(not_ready)}", "`invoke cluster.up` waits for them and says why",
             ExitCode.UNREACHABLE)
