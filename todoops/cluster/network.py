"""Pod networking for clusters on our own node image, where kind's kindnetd cannot be had.

The docker side: kind's ``kind`` network, pre-created with an explicit /24 that
overlaps nothing on the machine. The pod side, what kindnetd would do: each
node gets a bridge conflist with host-local IPAM on its own ``spec.podCIDR``
(containerd picks it up and the node turns Ready), a route to every other
node's pod CIDR via that node's address (the nodes share one docker bridge, so
one hop), and a masquerade rule for pod traffic leaving the pod network. The
plan is a pure function of the nodes; applying it is idempotent, so
`cluster.up` re-applies it on every run (routes do not survive a node restart).

Guards, on every node: traffic for the pod or Service ranges must never leave
through the docker gateway. On our machines a TLS-intercepting proxy accepts
any connection to port 443 out there and answers 404; an API server that
reached a new Service's IP before kube-proxy wrote its rule kept that
keep-alive connection and marked metrics-server unavailable for good. An
unreachable route covers the pod range (more specific routes win); a REJECT
rule covers the Service range, whose packets kube-proxy translates before the
filter table sees them (a route would refuse them before translation).
"""
import ipaddress
import json
from dataclasses import dataclass

from invoke import Context

from ..commands import probe, run
from ..errors import fail

DOCKER_NETWORK = "kind"
# /24s tried in order for the kind network; the first that overlaps nothing wins.
SUBNET_POOL = ipaddress.ip_network("172.30.0.0/16")
CONFLIST = "/etc/cni/net.d/10-todoops.conflist"
BRIDGE = "cni0"


@dataclass(frozen=True)
class Node:
    name: str
    address: str
    pod_cidr: str


@dataclass(frozen=True)
class NodeNetwork:
    node: Node
    conflist: str
    # (destination pod CIDR, via node address)
    routes: tuple[tuple[str, str], ...]


def free_subnet(taken: list[str]) -> str:
    """The first /24 of the pool that overlaps none of ``taken`` (docker subnets, host routes)."""
    used = [ipaddress.ip_network(cidr, strict=False) for cidr in taken if ":" not in cidr]
    for candidate in SUBNET_POOL.subnets(new_prefix=24):
        if not any(candidate.overlaps(network) for network in used):
            return str(candidate)
    fail(f"every /24 of {SUBNET_POOL} overlaps a network on this machine",
         f"remove unused docker networks (`docker network prune`) or create the `{DOCKER_NETWORK}` network yourself")


def route_cidrs(text: str) -> list[str]:
    """Destinations of `ip -4 route show` lines (``default`` has none)."""
    return [line.split()[0] for line in text.splitlines() if line.strip() and "/" in line.split()[0]]


def ensure_docker_network(c: Context, dry_run: bool) -> str:
    """The kind network's subnet; created first with a free /24 so kind cannot pick an overlapping one."""
    subnets = "{{range .IPAM.Config}}{{.Subnet}} {{end}}"
    existing = probe(c, ["docker", "network", "inspect", "--format", subnets, DOCKER_NETWORK])
    if existing.ok:
        return existing.stdout.strip()
    ids = run(c, ["docker", "network", "ls", "-q"], hide=True).stdout.split()
    taken = run(c, ["docker", "network", "inspect", "--format", subnets, *ids], hide=True).stdout.split()
    taken += route_cidrs(probe(c, ["ip", "-4", "route", "show"]).stdout)
    subnet = free_subnet(taken)
    run(c, ["docker", "network", "create", "--driver", "bridge", "--subnet", subnet,
            "--opt", "com.docker.network.bridge.enable_ip_masquerade=true", DOCKER_NETWORK],
        mutates=True, dry_run=dry_run)
    return subnet


def container_addresses(c: Context, containers: list[str]) -> dict[str, str]:
    """Each node container's current address on the kind network (docker may change it at every start)."""
    address = f'{{{{with index .NetworkSettings.Networks "{DOCKER_NETWORK}"}}}}{{{{.IPAddress}}}}{{{{end}}}}'
    found = run(c, ["docker", "inspect", "--format", address, *containers], hide=True).stdout.splitlines()
    return dict(zip(containers, (value.strip() for value in found)))


def parse_nodes(nodes_json: str) -> list[Node]:
    """Name, InternalIP and podCIDR of each node in `kubectl get nodes -o json` ("" when not yet set)."""
    nodes = []
    for item in json.loads(nodes_json).get("items", []):
        addresses = {a["type"]: a["address"] for a in item.get("status", {}).get("addresses", [])}
        nodes.append(Node(item["metadata"]["name"], addresses.get("InternalIP", ""),
                          item.get("spec", {}).get("podCIDR", "")))
    return nodes


def conflist(pod_cidr: str) -> str:
    """A bridge with host-local addresses from the node's pod CIDR; portmap for hostPorts."""
    return json.dumps({
        "cniVersion": "1.0.0",
        "name": "todoops",
        "plugins": [
            # hairpinMode: a pod reaches itself through its own Service.
            {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": pod_cidr}]], "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }, indent=2) + "\n"


def plan(nodes: list[Node]) -> list[NodeNetwork]:
    """Per node: its conflist and a route to every other node's pods."""
    missing = [node.name for node in nodes if not node.pod_cidr or not node.address]
    if missing:
        fail(f"node(s) without a pod CIDR or address yet: {', '.join(missing)}",
             "the controller manager assigns pod CIDRs; re-run `invoke cluster.up` in a few seconds")
    return [NodeNetwork(node, conflist(node.pod_cidr),
                        tuple((other.pod_cidr, other.address) for other in nodes if other != node))
            for node in nodes]


def masquerade_rule(pod_subnet: str) -> list[str]:
    return ["-t", "nat", "POSTROUTING", "-s", pod_subnet, "!", "-d", pod_subnet, "-m", "comment",
            "--comment", "todoops: pod traffic leaving the pod network", "-j", "MASQUERADE"]


def service_guard_rules(service_subnet: str) -> list[list[str]]:
    """Reject what is still addressed to a Service IP after kube-proxy's translation (see the module doc)."""
    return [[chain, "-d", service_subnet, "-m", "comment", "--comment",
             "todoops: Service IPs not translated by kube-proxy", "-j", "REJECT"] for chain in ("OUTPUT", "FORWARD")]


def ensure_rule(c: Context, node: str, rule: list[str], dry_run: bool) -> None:
    """Append the iptables rule unless it is there (``rule`` may start with ``-t TABLE``)."""
    table, spec = (rule[:2], rule[2:]) if rule[0] == "-t" else ([], rule)
    if not probe(c, ["docker", "exec", node, "iptables", *table, "-C", *spec]).ok:
        run(c, ["docker", "exec", node, "iptables", *table, "-A", *spec], mutates=True, dry_run=dry_run)


def guard_services(c: Context, nodes: list[str], service_subnet: str, dry_run: bool) -> None:
    for node in nodes:
        for rule in service_guard_rules(service_subnet):
            ensure_rule(c, node, rule, dry_run)


def apply(c: Context, networks: list[NodeNetwork], pod_subnet: str, dry_run: bool) -> None:
    """Routes, masquerade rule, then the conflist (pods start only once their routes exist); idempotent."""
    mutate = dict(mutates=True, dry_run=dry_run)
    for network in networks:
        node = ["docker", "exec", network.node.name]
        run(c, [*node, "ip", "route", "replace", "unreachable", pod_subnet], **mutate)
        for destination, via in network.routes:
            run(c, [*node, "ip", "route", "replace", destination, "via", via], **mutate)
        ensure_rule(c, network.node.name, masquerade_rule(pod_subnet), dry_run)
        run(c, ["docker", "exec", "-i", network.node.name, "tee", CONFLIST], stdin=network.conflist,
            hide=True, **mutate)
