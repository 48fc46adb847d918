import pytest
import yaml
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import failed, line, ok
from todoops.cluster import kind
from todoops.config import ClusterSettings
from todoops.errors import ExitCode


def settings(**overrides) -> ClusterSettings:
    return ClusterSettings(**{"name": "todo", "nodes": 1, "kubernetes_version": "v1.34.4", "node_image": "",
                              **overrides})


def test_one_node_is_a_single_control_plane_with_our_subnets():
    config = yaml.safe_load(kind.render_config("todo", 1, own_cni=True))
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert config["name"] == "todo"
    assert config["nodes"] == [{"role": "control-plane"}]
    assert config["networking"] == {"podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/16",
                                    "disableDefaultCNI": True}


def test_three_nodes_are_a_control_plane_and_two_workers_with_kinds_own_cni_on_official_images():
    config = yaml.safe_load(kind.render_config("lab", 3, own_cni=False))
    assert [node["role"] for node in config["nodes"]] == ["control-plane", "worker", "worker"]
    assert config["networking"]["disableDefaultCNI"] is False


def test_every_cluster_reads_registry_mirrors_from_certs_d():
    (patch,) = yaml.safe_load(kind.render_config("todo", 1, own_cni=True))["containerdConfigPatches"]
    assert '[plugins."io.containerd.grpc.v1.cri".registry]' in patch
    assert 'config_path = "/etc/containerd/certs.d"' in patch


@pytest.mark.parametrize("overrides, fragment", [
    ({"name": "Todo_1"}, "cluster name"),
    ({"name": "x" * 43}, "cluster name"),
    ({"nodes": 0}, "node count"),
    ({"nodes": "three"}, "node count"),
    ({"nodes": True}, "node count"),
    ({"nodes": 11}, "node count"),
    ({"kubernetes_version": "1.34"}, "kubernetes_version"),
])
def test_bad_cluster_settings_are_refused_as_bad_input(overrides, fragment):
    with pytest.raises(Exit) as error:
        kind.check_settings(settings(**overrides))
    assert error.value.code == ExitCode.BAD_INPUT and fragment in error.value.message


def test_good_settings_pass():
    kind.check_settings(settings(name="todo.lab-2", nodes=3))


def test_missing_kind_says_how_to_install_it(make_context):
    c = make_context({"kind version": failed(exited=127)})
    with pytest.raises(Exit) as error:
        kind.check_kind(c)
    assert error.value.code == ExitCode.PREFLIGHT
    assert "go install sigs.k8s.io/kind@v0.33.0" in error.value.message


@pytest.mark.parametrize("bounding, runtime, fails", [
    ("000001fffeffffff", "runc", True),    # CAP_SYS_RESOURCE (bit 24) missing, plain runc
    ("000001fffeffffff", "shim", False),   # the wrapper drops what the host cannot grant
    ("000001ffffffffff", "runc", False),   # a full bounding set
    ("not hex", "runc", False),
])
def test_privileged_nodes_fail_only_without_cap_sys_resource_and_the_shim(bounding, runtime, fails):
    assert kind.privileged_fails(bounding, runtime) is fails


def test_node_containers_list_the_control_plane_first(make_context):
    c = make_context({"kind get nodes --name todo": ok("todo-worker2\ntodo-control-plane\ntodo-worker\n")})
    assert kind.node_containers(c, "todo") == ["todo-control-plane", "todo-worker", "todo-worker2"]


def test_a_failing_kind_listing_is_a_clear_error(make_context):
    c = make_context({"kind get clusters": failed(stderr="Cannot connect to the Docker daemon")})
    with pytest.raises(Exit) as error:
        kind.clusters(c)
    assert "Cannot connect" in error.value.message and "docker info" in error.value.message


@pytest.mark.parametrize("answer, ours", [(ok("bridge\n"), True), (ok("<no value>\n"), False), (ok(""), False),
                                          (failed(), False)])
def test_own_cni_follows_the_image_label(make_context, answer, ours):
    command = line(["docker", "inspect", "--format", '{{index .Config.Labels "io.todoops.cni"}}', "img"])
    assert kind.own_cni(make_context({command: answer}), "img") is ours


def inspect_official(ref="kindest/node:v1.34.4") -> str:
    return line(["docker", "image", "inspect", "--format", "{{.Id}}", ref])


@pytest.mark.parametrize("local, remote, how", [
    (ok("sha256:1"), None, "official image, present locally"),
    (failed(), ok("{}"), "official image, kind pulls it"),
    (failed(), failed(), ""),
])
def test_official_image_is_used_when_local_or_pullable(make_context, local, remote, how):
    answers = {inspect_official(): local}
    if remote is not None:
        answers["docker manifest inspect kindest/node:v1.34.4"] = remote
    assert kind.official_image(make_context(answers), "v1.34.4") == ("kindest/node:v1.34.4", how)


def test_create_passes_the_config_on_stdin(make_context):
    create = "kind create cluster --name todo --image todoops/kind-node:v1.34.4-abc --config -"
    c = make_context({create: ok()})
    kind.create(c, settings(nodes=2), "todoops/kind-node:v1.34.4-abc", own=True, dry_run=False)
    assert commands_run(c) == [create]
    assert c.run.call_args.kwargs["in_stream"].getvalue() == kind.render_config("todo", 2, own_cni=True)
