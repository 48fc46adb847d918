import json

import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import failed, line, ok
from todoops.cluster import addons, lifecycle, network, registry
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.report import Report

OFFICIAL = "kindest/node:v1.34.4"
OWN = "todoops/kind-node:v1.34.4-abc123"
CNI_LABEL = '{{index .Config.Labels "io.todoops.cni"}}'
SUBNETS = "{{range .IPAM.Config}}{{.Subnet}} {{end}}"
CONTEXT = "kind-todo"


def kubectl(*args: str) -> str:
    return line(["kubectl", "--context", CONTEXT, *args])


def label(ref: str) -> str:
    return line(["docker", "inspect", "--format", CNI_LABEL, ref])


DAEMON = line(["docker", "version", "--format", "{{.Server.Version}}"])
CAPS = line(["grep", "^CapBnd:", "/proc/self/status"])
RUNTIME = line(["docker", "info", "--format", "{{.DefaultRuntime}}"])
PREFLIGHT = [DAEMON, "kind version", CAPS, RUNTIME]
NETWORK = line(["docker", "network", "inspect", "--format", SUBNETS, "kind"])
INSPECT_OFFICIAL = line(["docker", "image", "inspect", "--format", "{{.Id}}", OFFICIAL])
READY = [
    kubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=180s"),
    kubectl("-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=180s"),
    kubectl("-n", "local-path-storage", "rollout", "status", "deployment/local-path-provisioner", "--timeout=180s"),
    kubectl("get", "storageclass", "standard", "-o", addons.DEFAULT_CLASS),
    kubectl("apply", "-f", "-"),
    kubectl("-n", "kube-system", "rollout", "status", "deployment/metrics-server", "--timeout=180s"),
    kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes", "--request-timeout", "10s"),
]


def answers_for(commands: list[str], **special) -> dict:
    answers = {command: ok() for command in commands}
    answers[READY[3]] = ok("true")
    answers[CAPS] = ok("CapBnd:\t000001ffffffffff\n")
    answers[RUNTIME] = ok("runc\n")
    answers.update(special)
    return answers


def nodes_json(*nodes: tuple[str, str, str], ready: str = "True") -> str:
    return json.dumps({"items": [{
        "metadata": {"name": name, "labels": {"node-role.kubernetes.io/control-plane": ""}
                     if name.endswith("control-plane") else {}},
        "spec": {"podCIDR": cidr},
        "status": {"addresses": [{"type": "InternalIP", "address": address}],
                   "conditions": [{"type": "Ready", "status": ready}], "nodeInfo": {"kubeletVersion": "v1.34.4"}},
    } for name, address, cidr in nodes]})


def addresses(*nodes: str) -> str:
    return line(["docker", "inspect", "--format",
                 '{{with index .NetworkSettings.Networks "kind"}}{{.IPAddress}}{{end}}', *nodes])


READYZ = kubectl("get", "--raw", "/readyz", "--request-timeout", "5s")


def follow(node: str, address: str) -> str:
    return kubectl("wait", f"--for=jsonpath={lifecycle.INTERNAL_IP}={address}", f"node/{node}", "--timeout=180s")


def guard(*nodes: str) -> list[str]:
    """The Service-range guard's checks on every node (rules present: nothing added)."""
    return [line(["docker", "exec", node, "iptables", "-C", *rule])
            for node in nodes for rule in network.service_guard_rules("10.96.0.0/16")]


def fresh_official() -> list[str]:
    return [*PREFLIGHT, "kind get clusters", INSPECT_OFFICIAL, NETWORK, label(OFFICIAL),
            f"kind create cluster --name todo --image {OFFICIAL} --config -",
            "kind get nodes --name todo", addresses("todo-control-plane"), *guard("todo-control-plane"),
            label("todo-control-plane"), *READY]


def test_a_fresh_cluster_on_the_official_image_keeps_kinds_own_cni(make_context, capsys):
    expected = fresh_official()
    c = make_context(answers_for(expected, **{"kind get nodes --name todo": ok("todo-control-plane\n"),
                                              label(OFFICIAL): ok("<no value>"), NETWORK: ok("172.30.0.0/24")}))
    lifecycle.up(c, resolve(c), Report())
    assert commands_run(c) == expected
    out = capsys.readouterr().out
    assert f"node image {OFFICIAL} (official image, present locally)" in out
    assert "use it with --context kind-todo --provider kind" in out
    for phase in ("kind create cluster todo (1 node(s))", "nodes Ready", "CoreDNS", "default StorageClass",
                  "metrics-server"):
        assert f"[ ok ] {phase} (" in out


def test_a_fresh_cluster_on_our_image_gets_the_bridge_network_on_every_node(make_context, monkeypatch, capsys):
    monkeypatch.setattr(lifecycle.node_image, "build_node_image", lambda c, cfg, report: OWN)
    nodes = [("todo-control-plane", "172.30.0.2", "10.244.0.0/24"), ("todo-worker", "172.30.0.3", "10.244.1.0/24")]
    plans = network.plan(network.parse_nodes(nodes_json(*nodes)))
    wiring = []
    for plan in plans:
        node = ["docker", "exec", plan.node.name]
        wiring += [line([*node, "ip", "route", "replace", "unreachable", "10.244.0.0/16"]),
                   *[line([*node, "ip", "route", "replace", cidr, "via", via]) for cidr, via in plan.routes],
                   line([*node, "iptables", "-t", "nat", "-C", *network.masquerade_rule("10.244.0.0/16")[2:]]),
                   line(["docker", "exec", "-i", plan.node.name, "tee", network.CONFLIST])]
    expected = [*PREFLIGHT, "kind get clusters", INSPECT_OFFICIAL, f"docker manifest inspect {OFFICIAL}",
                NETWORK, label(OWN),
                f"kind create cluster --name todo --image {OWN} --config -",
                "kind get nodes --name todo", addresses("todo-control-plane", "todo-worker"),
                *guard("todo-control-plane", "todo-worker"), label("todo-control-plane"),
                kubectl("wait", "--for=jsonpath={.spec.podCIDR}", "node", "--all", "--timeout=180s"),
                kubectl("get", "nodes", "-o", "json"), *wiring, *READY]
    c = make_context(answers_for(expected, **{
        INSPECT_OFFICIAL: failed(), f"docker manifest inspect {OFFICIAL}": failed(), NETWORK: ok("172.30.0.0/24"),
        label(OWN): ok("bridge"), label("todo-control-plane"): ok("bridge"),
        "kind get nodes --name todo": ok("todo-control-plane\ntodo-worker\n"),
        addresses("todo-control-plane", "todo-worker"): ok("172.30.0.2\n172.30.0.3\n"),
        kubectl("get", "nodes", "-o", "json"): ok(nodes_json(*nodes))}), cluster={"nodes": 2})
    lifecycle.up(c, resolve(c), Report())
    assert commands_run(c) == expected
    assert "neither local nor pullable; using one built here" in capsys.readouterr().out


def test_a_host_without_cap_sys_resource_needs_the_runc_shim_before_anything_runs(make_context):
    c = make_context({**answers_for(PREFLIGHT), CAPS: ok("CapBnd:\t000001fffeffffff\n")})
    with pytest.raises(Exit) as error:
        lifecycle.up(c, resolve(c), Report())
    assert error.value.code == ExitCode.PREFLIGHT and "--default-runtime shim" in error.value.message
    assert commands_run(c) == PREFLIGHT


def test_a_configured_node_image_is_used_as_it_is(make_context, capsys):
    c = make_context(cluster={"node_image": "my/node:1"})
    assert lifecycle.choose_image(c, resolve(c), Report()) == "my/node:1"
    assert commands_run(c) == []
    assert "(configured: cluster.node_image)" in capsys.readouterr().out


def existing(nodes: str, running: str = "true\n" * 3) -> dict:
    return {**answers_for(PREFLIGHT), "kind get clusters": ok("other\ntodo\n"),
            "kind get nodes --name todo": ok(nodes),
            line(["docker", "inspect", "--format", "{{.State.Running}}", *nodes.split()]): ok(running), READYZ: ok("ok")}


def test_a_running_cluster_with_the_right_node_count_is_reused(make_context, capsys):
    answers = existing("todo-control-plane\n")
    answers.update({**answers_for(guard("todo-control-plane")),
                    line(["kubectl", "config", "get-contexts", "-o", "name"]): ok("kind-todo\nminikube\n"),
                    addresses("todo-control-plane"): ok("172.30.0.2\n"),
                    follow("todo-control-plane", "172.30.0.2"): ok(),
                    label("todo-control-plane"): ok("<no value>"), **answers_for(READY)})
    c = make_context(answers)
    lifecycle.up(c, resolve(c), Report())
    ran = commands_run(c)
    assert not [command for command in ran if command.startswith(("kind create", "docker start", "docker network"))]
    assert ran[-len(READY):] == READY
    assert "kind cluster todo exists with 1 node(s): reused" in capsys.readouterr().out


def test_reuse_starts_stopped_nodes_and_restores_a_lost_context(make_context):
    nodes = "todo-control-plane\ntodo-worker\n"
    answers = existing(nodes, running="true\nfalse\n")
    answers.update({**answers_for(guard("todo-control-plane", "todo-worker")),
                    "docker start todo-worker": ok(), "kind export kubeconfig --name todo": ok(),
                    line(["kubectl", "config", "get-contexts", "-o", "name"]): ok("minikube\n"),
                    addresses("todo-control-plane", "todo-worker"): ok("172.30.0.2\n172.30.0.3\n"),
                    follow("todo-control-plane", "172.30.0.2"): ok(), follow("todo-worker", "172.30.0.3"): ok(),
                    label("todo-control-plane"): ok(""), **answers_for(READY)})
    c = make_context(answers, cluster={"nodes": 2})
    lifecycle.up(c, resolve(c), Report())
    ran = commands_run(c)
    assert ran.index("docker start todo-worker") < ran.index("kind export kubeconfig --name todo") < ran.index(READY[0])


def test_reuse_after_a_restart_waits_for_the_new_addresses_and_routes_via_them(make_context):
    """Docker handed the nodes each other's old addresses; the Nodes may still report the old ones."""
    nodes = "todo-control-plane\ntodo-worker\n"
    answers = existing(nodes, running="false\nfalse\n")
    moved = {"todo-control-plane": "172.30.0.3", "todo-worker": "172.30.0.2"}
    waits = [follow(node, address) for node, address in moved.items()]
    stale = nodes_json(("todo-control-plane", "172.30.0.2", "10.244.0.0/24"),
                       ("todo-worker", "172.30.0.3", "10.244.1.0/24"))
    answers.update({**answers_for(guard(*moved)), **answers_for(waits),
                    "docker start todo-control-plane": ok(), "docker start todo-worker": ok(),
                    line(["kubectl", "config", "get-contexts", "-o", "name"]): ok("kind-todo\n"),
                    addresses(*moved): ok("172.30.0.3\n172.30.0.2\n"), label("todo-control-plane"): ok("bridge"),
                    kubectl("wait", "--for=jsonpath={.spec.podCIDR}", "node", "--all", "--timeout=180s"): ok(),
                    kubectl("get", "nodes", "-o", "json"): ok(stale), **answers_for(READY)})
    for node in moved:
        answers.update(answers_for([line(["docker", "exec", node, "ip", "route", "replace", *args]) for args in (
            ["unreachable", "10.244.0.0/16"], ["10.244.0.0/24", "via", "172.30.0.3"],
            ["10.244.1.0/24", "via", "172.30.0.2"])]))
        answers.update(answers_for([
            line(["docker", "exec", node, "iptables", "-t", "nat", "-C", *network.masquerade_rule("10.244.0.0/16")[2:]]),
            line(["docker", "exec", "-i", node, "tee", network.CONFLIST])]))
    c = make_context(answers, cluster={"nodes": 2})
    lifecycle.up(c, resolve(c), Report())
    ran = commands_run(c)
    assert ran.index("docker start todo-worker") < ran.index(waits[0]) < ran.index(waits[1]) < ran.index(READY[0])
    assert line(["docker", "exec", "todo-worker", "ip", "route", "replace", "10.244.0.0/24", "via",
                 "172.30.0.3"]) in ran
    assert line(["docker", "exec", "todo-control-plane", "ip", "route", "replace", "10.244.1.0/24", "via",
                 "172.30.0.2"]) in ran


def test_a_node_that_keeps_its_old_address_says_to_make_the_cluster_again(make_context):
    answers = existing("todo-control-plane\n")
    waiting = follow("todo-control-plane", "172.30.0.3")
    answers.update({line(["kubectl", "config", "get-contexts", "-o", "name"]): ok("kind-todo\n"),
                    addresses("todo-control-plane"): ok("172.30.0.3\n"), waiting: failed()})
    c = make_context(answers)
    with pytest.raises(Exit) as error:
        lifecycle.up(c, resolve(c), Report())
    assert error.value.code == ExitCode.UNREACHABLE
    assert "node todo-control-plane at its address 172.30.0.3" in error.value.message
    assert "`invoke cluster.down` then `invoke cluster.up`" in error.value.message
    assert commands_run(c)[-1] == waiting


def test_another_node_count_is_refused_and_changes_nothing(make_context):
    c = make_context(existing("todo-control-plane\n"), cluster={"nodes": 3})
    with pytest.raises(Exit) as error:
        lifecycle.up(c, resolve(c), Report())
    assert error.value.code == ExitCode.BAD_INPUT
    assert "has 1 node(s), not 3" in error.value.message and "invoke cluster.down" in error.value.message
    assert commands_run(c) == [*PREFLIGHT, "kind get clusters", "kind get nodes --name todo"]


def test_dry_run_of_a_new_cluster_prints_the_plan(make_context, capsys):
    expected = fresh_official()[:7]
    c = make_context(answers_for(expected, **{NETWORK: failed(), label(OFFICIAL): ok("")}) | {
        line(["docker", "network", "ls", "-q"]): ok("n1\n"),
        line(["docker", "network", "inspect", "--format", SUBNETS, "n1"]): ok("172.17.0.0/16 "),
        line(["ip", "-4", "route", "show"]): ok("")})
    lifecycle.up(c, resolve(c, dry_run=True), Report())
    assert not [command for command in commands_run(c) if command.startswith(("kind create", "docker network create"))]
    captured = capsys.readouterr()
    assert "[dry-run] kind create cluster --name todo" in captured.err
    assert "[dry-run] docker network create --driver bridge --subnet 172.30.0.0/24" in captured.err
    assert "then: pod network (own node images), nodes Ready" in captured.out


def test_registry_is_started_connected_and_configured_on_every_node(make_context, monkeypatch):
    monkeypatch.setattr(registry, "image_tag", lambda c: "todoops/registry:1")
    running = line(["docker", "inspect", "--format", "{{.State.Running}}", registry.CONTAINER])
    networks = line(["docker", "inspect", "--format",
                     "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}", registry.CONTAINER])
    expected = [
        line(["docker", "image", "inspect", "--format", "{{.Id}}", "todoops/registry:1"]),
        running,
        line(["docker", "run", "--detach", "--restart=always", "--publish", "127.0.0.1:5001:5000",
              "--name", "kind-registry", "todoops/registry:1"]),
        networks,
        "docker network connect kind kind-registry",
        *[command for node in ("todo-control-plane", "todo-worker") for command in (
            f"docker exec {node} mkdir -p /etc/containerd/certs.d/localhost:5001",
            f"docker exec -i {node} tee /etc/containerd/certs.d/localhost:5001/hosts.toml")],
        kubectl("apply", "-f", "-"),
    ]
    c = make_context({command: ok() for command in expected} | {expected[0]: ok("sha256:r"), running: failed(),
                                                                  networks: ok("bridge ")})
    registry.ensure(c, CONTEXT, ["todo-control-plane", "todo-worker"], dry_run=False)
    assert commands_run(c) == expected
    assert c.run.call_args.kwargs["in_stream"].getvalue() == registry.HOSTING_CONFIGMAP


def test_a_running_connected_registry_is_left_alone(make_context, monkeypatch):
    monkeypatch.setattr(registry, "image_tag", lambda c: "todoops/registry:1")
    c = make_context({
        line(["docker", "image", "inspect", "--format", "{{.Id}}", "todoops/registry:1"]): ok("sha256:r"),
        line(["docker", "inspect", "--format", "{{.State.Running}}", registry.CONTAINER]): ok("true"),
        line(["docker", "inspect", "--format", "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}",
              registry.CONTAINER]): ok("bridge kind "),
    })
    registry.ensure_container(c, registry.ensure_image(c, False), dry_run=False)
    assert not [command for command in commands_run(c) if command.startswith(("docker run", "docker network", "docker start"))]


def test_down_deletes_exactly_the_named_cluster(make_context):
    c = make_context({**dict.fromkeys(PREFLIGHT[1:], ok()), "kind get clusters": ok("todo\ntodo2\n"),
                      "kind delete cluster --name todo": ok()})
    lifecycle.down(c, resolve(c), Report())
    assert commands_run(c) == ["kind version", "kind get clusters", "kind delete cluster --name todo"]


def test_down_without_a_cluster_has_nothing_to_delete(make_context, capsys):
    c = make_context({"kind version": ok(), "kind get clusters": ok("todo2\n")})
    lifecycle.down(c, resolve(c), Report())
    assert commands_run(c) == ["kind version", "kind get clusters"]
    assert "nothing to delete: no kind cluster todo" in capsys.readouterr().out


def test_down_with_registry_removes_the_registry_container(make_context):
    inspect = line(["docker", "inspect", "--format", "{{.Id}}", registry.CONTAINER])
    c = make_context({"kind version": ok(), "kind get clusters": ok(""), inspect: ok("abc"),
                      "docker rm --force --volumes kind-registry": ok()})
    lifecycle.down(c, resolve(c), Report(), with_registry=True)
    assert commands_run(c)[-1] == "docker rm --force --volumes kind-registry"


def status_answers(nodes: str) -> dict:
    return {"kind version": ok(), "kind get clusters": ok("todo\n"),
            "kind get nodes --name todo": ok("todo-control-plane\ntodo-worker\n"),
            line(["docker", "inspect", "--format", "{{.Config.Image}}", "todo-control-plane"]): ok(OWN),
            kubectl("get", "nodes", "-o", "json", "--request-timeout", "10s"): ok(nodes)}


def test_status_shows_nodes_image_and_context(make_context, capsys):
    nodes = nodes_json(("todo-control-plane", "172.30.0.2", "10.244.0.0/24"),
                       ("todo-worker", "172.30.0.3", "10.244.1.0/24"))
    c = make_context(status_answers(nodes))
    lifecycle.status(c, resolve(c), Report())
    out = capsys.readouterr().out
    assert f"cluster todo: context kind-todo, node image {OWN}" in out
    assert "todo-control-plane  control-plane  True   v1.34.4  172.30.0.2  10.244.0.0/24" in out
    assert "todo-worker         worker         True" in out


def test_status_fails_when_a_node_is_not_ready(make_context):
    c = make_context(status_answers(nodes_json(("todo-control-plane", "172.30.0.2", ""), ready="False")))
    with pytest.raises(Exit) as error:
        lifecycle.status(c, resolve(c), Report())
    assert error.value.code == ExitCode.UNREACHABLE and "todo-control-plane" in error.value.message


def test_status_without_a_cluster_exits_unreachable(make_context):
    c = make_context({"kind version": ok(), "kind get clusters": ok("")})
    with pytest.raises(Exit) as error:
        lifecycle.status(c, resolve(c), Report())
    assert error.value.code == ExitCode.UNREACHABLE and "invoke cluster.up" in error.value.message


def test_a_wait_that_times_out_says_where_to_look(make_context):
    c = make_context({READY[0]: failed()})
    with pytest.raises(Exit) as error:
        addons.wait_nodes(c, CONTEXT, dry_run=False)
    assert error.value.code == ExitCode.UNREACHABLE and "describe nodes" in error.value.message


CURRENT = line(["kubectl", "config", "current-context"])


def readyz(context: str) -> str:
    return line(["kubectl", "--context", context, "get", "--raw", "/readyz", "--request-timeout", "5s"])


def test_keep_current_keeps_a_running_minikube_and_makes_nothing(make_context, capsys):
    expected = [CURRENT, readyz("minikube")]
    c = make_context({CURRENT: ok("minikube\n"), readyz("minikube"): ok("ok")})
    lifecycle.up(c, resolve(c), Report(), keep_current=True)
    assert commands_run(c) == expected
    assert "current context minikube is a local cluster that answers: kept" in capsys.readouterr().out


@pytest.mark.parametrize("current, answers", [
    ("", {}),                                             # no cluster at all yet: make the kind one
    ("minikube", {readyz("minikube"): failed("connection refused")}),   # a stopped minikube is no cluster
    ("gke_prod_europe", {}),                              # a remote context is never "kept" for a local one
    ("kind-todo", {}),                                    # our own cluster: up converges it as usual
])
def test_keep_current_makes_the_kind_cluster_when_the_current_context_is_no_running_local_one(
        make_context, current, answers):
    c = make_context({CURRENT: ok(current + "\n"), **answers, DAEMON: failed("no daemon")})
    with pytest.raises(Exit) as stopped:
        lifecycle.up(c, resolve(c), Report(), keep_current=True)
    # It went on to make the cluster: its preflight ran (and stopped here on the missing daemon).
    assert commands_run(c)[-1] == DAEMON
    assert stopped.value.code == ExitCode.PREFLIGHT


def test_a_restarted_api_server_is_waited_for_until_it_is_ready(make_context, monkeypatch):
    """Right after a restart every request is Forbidden until the authorizer has the RBAC roles."""
    monkeypatch.setattr(addons.time, "sleep", lambda seconds: None)
    forbidden = failed(stderr='Error from server (Forbidden): User "kubernetes-admin" cannot get path "/readyz"')
    c = make_context({READYZ: [forbidden, forbidden, ok("ok")]})
    addons.wait_api(c, CONTEXT, dry_run=False)
    assert commands_run(c) == [READYZ] * 3


def test_an_api_server_that_never_gets_ready_fails_with_its_last_words(make_context, monkeypatch):
    clock = iter(range(0, 1000, 100))
    monkeypatch.setattr(addons.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(addons.time, "sleep", lambda seconds: None)
    c = make_context({READYZ: failed(stderr="[-]poststarthook/rbac/bootstrap-roles failed: reason withheld")})
    with pytest.raises(Exit) as error:
        addons.wait_api(c, CONTEXT, dry_run=False)
    assert error.value.code == ExitCode.UNREACHABLE
    assert "rbac/bootstrap-roles" in error.value.message and "docker logs todo-control-plane" in error.value.message


def test_with_the_registry_up_says_how_to_deploy_through_it():
    assert lifecycle.registry_use(False) == ""
    assert "or faster --provider registry with INVOKE_TODOOPS_REGISTRY=localhost:5001 " in lifecycle.registry_use(True)
