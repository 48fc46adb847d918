import json

import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import failed, line, ok
from todoops.cluster import network

SUBNETS = "{{range .IPAM.Config}}{{.Subnet}} {{end}}"
POD_SUBNET = "10.244.0.0/16"


def nodes_json(*nodes: tuple[str, str, str]) -> str:
    return json.dumps({"items": [
        {"metadata": {"name": name}, "spec": {"podCIDR": cidr} if cidr else {},
         "status": {"addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}]}}
        for name, address, cidr in nodes]})


THREE = [("todo-control-plane", "172.30.0.2", "10.244.0.0/24"), ("todo-worker", "172.30.0.3", "10.244.1.0/24"),
         ("todo-worker2", "172.30.0.4", "10.244.2.0/24")]


def test_parse_nodes_reads_name_address_and_pod_cidr():
    parsed = network.parse_nodes(nodes_json(*THREE[:1], ("new-node", "172.30.0.9", "")))
    assert parsed == [network.Node("todo-control-plane", "172.30.0.2", "10.244.0.0/24"),
                      network.Node("new-node", "172.30.0.9", "")]


def test_plan_routes_every_node_to_every_other_nodes_pods():
    plans = network.plan(network.parse_nodes(nodes_json(*THREE)))
    assert [plan.routes for plan in plans] == [
        (("10.244.1.0/24", "172.30.0.3"), ("10.244.2.0/24", "172.30.0.4")),
        (("10.244.0.0/24", "172.30.0.2"), ("10.244.2.0/24", "172.30.0.4")),
        (("10.244.0.0/24", "172.30.0.2"), ("10.244.1.0/24", "172.30.0.3")),
    ]
    bridge = json.loads(plans[1].conflist)["plugins"][0]
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.244.1.0/24"}]]
    # The pod source address survives between nodes: masquerading is only for traffic leaving the pod network.
    assert bridge["type"] == "bridge" and bridge["isGateway"] and not bridge["ipMasq"] and bridge["hairpinMode"]


def test_a_single_node_gets_its_bridge_and_no_routes():
    (plan,) = network.plan(network.parse_nodes(nodes_json(THREE[0])))
    assert plan.routes == () and "10.244.0.0/24" in plan.conflist


def test_a_node_without_pod_cidr_stops_the_plan_with_a_hint():
    with pytest.raises(Exit) as error:
        network.plan(network.parse_nodes(nodes_json(THREE[0], ("todo-worker", "172.30.0.3", ""))))
    assert "todo-worker" in error.value.message and "re-run" in error.value.message


def masquerade(name: str, action: str) -> str:
    return line(["docker", "exec", name, "iptables", "-t", "nat", action, *network.masquerade_rule(POD_SUBNET)[2:]])


def node_commands(name: str, routes: list[tuple[str, str]], masquerade_missing: bool = False) -> list[str]:
    """Routes first, the conflist last: a pod can only start once its node routes to the others."""
    return [line(["docker", "exec", name, "ip", "route", "replace", "unreachable", POD_SUBNET]),
            *[line(["docker", "exec", name, "ip", "route", "replace", cidr, "via", via]) for cidr, via in routes],
            masquerade(name, "-C"), *([masquerade(name, "-A")] if masquerade_missing else []),
            line(["docker", "exec", "-i", name, "tee", network.CONFLIST])]


def test_apply_routes_then_writes_the_conflist_and_adds_the_masquerade_rule_once(make_context):
    plans = network.plan(network.parse_nodes(nodes_json(*THREE[:2])))
    expected = [*node_commands("todo-control-plane", [("10.244.1.0/24", "172.30.0.3")]),
                *node_commands("todo-worker", [("10.244.0.0/24", "172.30.0.2")], masquerade_missing=True)]
    answers = {command: ok() for command in expected}
    answers[masquerade("todo-worker", "-C")] = failed()
    c = make_context(answers)
    network.apply(c, plans, POD_SUBNET, dry_run=False)
    assert commands_run(c) == expected


def test_apply_in_a_dry_run_only_checks(make_context, capsys):
    plans = network.plan(network.parse_nodes(nodes_json(THREE[0])))
    c = make_context({masquerade("todo-control-plane", "-C"): failed()})
    network.apply(c, plans, POD_SUBNET, dry_run=True)
    assert commands_run(c) == [masquerade("todo-control-plane", "-C")]
    assert "[dry-run] docker exec todo-control-plane iptables -t nat -A POSTROUTING" in capsys.readouterr().err


def test_service_ips_kube_proxy_did_not_translate_are_rejected_on_every_node(make_context):
    rule = ["-d", "10.96.0.0/16", "-m", "comment", "--comment", "todoops: Service IPs not translated by kube-proxy",
            "-j", "REJECT"]
    checks = [line(["docker", "exec", node, "iptables", "-C", chain, *rule])
              for node in ("a", "b") for chain in ("OUTPUT", "FORWARD")]
    added = line(["docker", "exec", "b", "iptables", "-A", "FORWARD", *rule])
    c = make_context({**{check: ok() for check in checks}, checks[3]: failed(), added: ok()})
    network.guard_services(c, ["a", "b"], "10.96.0.0/16", dry_run=False)
    assert commands_run(c) == [*checks, added]


@pytest.mark.parametrize("taken, expected", [
    ([], "172.30.0.0/24"),
    (["172.17.0.0/16", "172.30.0.0/24", "fd00::/64"], "172.30.1.0/24"),
    (["172.30.0.0/23", "10.0.0.0/8"], "172.30.2.0/24"),
])
def test_free_subnet_skips_every_overlap(taken, expected):
    assert network.free_subnet(taken) == expected


def test_no_free_subnet_is_an_error_with_a_hint():
    with pytest.raises(Exit) as error:
        network.free_subnet(["172.16.0.0/12"])
    assert "docker network prune" in error.value.message


def test_route_cidrs_skip_the_default_route():
    routes = "default via 10.0.0.1 dev eth0\n10.0.0.0/24 dev eth0 proto kernel\n172.17.0.0/16 dev docker0\n"
    assert network.route_cidrs(routes) == ["10.0.0.0/24", "172.17.0.0/16"]


def test_an_existing_kind_network_is_kept(make_context):
    inspect = line(["docker", "network", "inspect", "--format", SUBNETS, "kind"])
    c = make_context({inspect: ok("172.18.0.0/16 ")})
    assert network.ensure_docker_network(c, dry_run=False) == "172.18.0.0/16"
    assert commands_run(c) == [inspect]


def test_the_kind_network_is_created_on_a_free_24(make_context):
    expected = [
        line(["docker", "network", "inspect", "--format", SUBNETS, "kind"]),
        line(["docker", "network", "ls", "-q"]),
        line(["docker", "network", "inspect", "--format", SUBNETS, "a1", "b2"]),
        line(["ip", "-4", "route", "show"]),
        line(["docker", "network", "create", "--driver", "bridge", "--subnet", "172.30.1.0/24",
              "--opt", "com.docker.network.bridge.enable_ip_masquerade=true", "kind"]),
    ]
    c = make_context({expected[0]: failed(), expected[1]: ok("a1\nb2\n"), expected[2]: ok("172.17.0.0/16 \n\n"),
                      expected[3]: ok("default via 10.0.2.2 dev eth0\n172.30.0.0/24 dev vpn0\n"), expected[4]: ok()})
    assert network.ensure_docker_network(c, dry_run=False) == "172.30.1.0/24"
    assert commands_run(c) == expected
