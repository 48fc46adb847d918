import re

import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import failed, line, ok
from todoops.cluster import binaries, components, node_image
from todoops.cluster.components import DEBIAN, LABEL, NODE_FILES, PAUSE
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.refs import image_name
from todoops.report import Report

VERSION = "v1.34.4"
DAEMON = line(["docker", "version", "--format", "{{.Server.Version}}"])
KUBEADM_LIST = """registry.k8s.io/kube-apiserver:v1.34.4
registry.k8s.io/kube-controller-manager:v1.34.4
registry.k8s.io/kube-scheduler:v1.34.4
registry.k8s.io/kube-proxy:v1.34.4
registry.k8s.io/coredns/coredns:v1.12.1
registry.k8s.io/pause:3.10.1
registry.k8s.io/etcd:3.6.5-0
"""


def image_id(ref: str) -> str:
    return line(["docker", "image", "inspect", "--format", "{{.Id}}", ref])


def label(ref: str) -> str:
    return line(["docker", "image", "inspect", "--format", f'{{{{index .Config.Labels "{LABEL}"}}}}', ref])


def size(ref: str) -> str:
    return line(["docker", "image", "inspect", "--format", "{{.Size}}", ref])


def local_bases() -> dict:
    return {DAEMON: ok("20.10.24"), image_id(DEBIAN): ok("sha256:debian"), image_id(PAUSE): ok("sha256:pause")}


def tags(make_context) -> node_image.NodeImage:
    return node_image.plan(make_context(local_bases()), VERSION)


def cached_binaries(cache):
    for build in binaries.node_builds(VERSION):
        for path in build.paths(cache):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("binary")
            path.chmod(0o755)


def test_tags_name_the_version_and_change_with_the_local_base_images(make_context):
    image = tags(make_context)
    assert image.tag.startswith("todoops/kind-node:v1.34.4-") and image.base.startswith("todoops/kind-node-base:")
    other = node_image.plan(make_context({**local_bases(), image_id(DEBIAN): ok("sha256:newer")}), VERSION)
    assert other.base != image.base and other.tag != image.tag
    repaused = node_image.plan(make_context({**local_bases(), image_id(PAUSE): ok("sha256:newer")}), VERSION)
    assert repaused.base == image.base and repaused.tag != image.tag


def test_file_digest_follows_content_and_mode(tmp_path):
    (tmp_path / "files").mkdir()
    script = tmp_path / "files" / "entrypoint"
    script.write_text("#!/bin/sh\n")
    first = node_image.file_digest(tmp_path)
    script.chmod(0o755)
    second = node_image.file_digest(tmp_path)
    script.write_text("#!/bin/sh\nexit 0\n")
    assert len({first, second, node_image.file_digest(tmp_path)}) == 3


def test_versions_pin_every_build_and_kind():
    pins = node_image.versions(VERSION)
    for fragment in ('"kubernetes": "v1.34.4"', '"etcd": "v3.6.5"', '"kind": "v0.33.0"', '"crictl": "v1.34.0"'):
        assert fragment in pins


def test_missing_base_images_stop_with_the_bases_task_as_hint(make_context):
    c = make_context({**local_bases(), image_id(PAUSE): failed()})
    with pytest.raises(Exit) as error:
        node_image.plan(c, VERSION)
    assert error.value.code == ExitCode.PREFLIGHT and "invoke images.bases" in error.value.message


def test_a_present_node_image_is_kept_and_nothing_is_built(make_context, capsys):
    image = tags(make_context)
    c = make_context({**local_bases(), image_id(image.tag): ok("sha256:node"), size(image.tag): ok("1200000000")})
    assert node_image.build_node_image(c, resolve(c), Report()) == image.tag
    assert all(command.startswith(("docker version", "docker image inspect")) for command in commands_run(c))
    assert f"{image.tag} present, kept (1200 MB)" in capsys.readouterr().out


def assemble_commands(image: node_image.NodeImage, cache, refs: list[str]) -> list[str]:
    box = f"todoops-node-build-{image.tag.rsplit('-', 1)[-1]}"
    k8s = cache / "k8s" / VERSION
    return [
        line(["docker", "rm", "-f", box]),
        line(["docker", "create", "--name", box, "--entrypoint", "containerd", image.base]),
        *[line(["docker", "cp", str(k8s / name), f"{box}:/usr/bin/{name}"]) for name in ("kubeadm", "kubelet", "kubectl")],
        line(["docker", "cp", str(cache / "crictl" / "v1.34.0" / "crictl"), f"{box}:/usr/bin/crictl"]),
        line(["docker", "start", box]),
        line(["docker", "exec", "-i", box, "tee", "/kind/version"]),
        line(["docker", "exec", box, "sh", "-c", node_image.WAIT_FOR_CONTAINERD]),
        f"set -o pipefail; {line(['docker', 'save', *refs, PAUSE, DEBIAN])} | "
        + line(["docker", "exec", "-i", box, "ctr", "-n", "k8s.io", "images", "import", "--no-unpack", "--digests", "-"]),
        line(["docker", "kill", "--signal", "TERM", box]),
        line(["docker", "wait", box]),
        line(["docker", "commit", "--change", f"ENTRYPOINT {node_image.ENTRYPOINT}", "--change", "CMD []",
              "--change", "LABEL io.todoops.cni=bridge", box, image.tag]),
        line(["docker", "rm", "-f", box]),
    ]


def test_missing_node_image_is_assembled_from_current_parts(make_context, tmp_path):
    cache = tmp_path / ".cache"
    cached_binaries(cache)
    image = tags(make_context)
    parts = components.components(components.kubeadm_refs(KUBEADM_LIST), VERSION)
    kubeadm = line([str(cache / "k8s" / VERSION / "kubeadm"), "config", "images", "list",
                    "--kubernetes-version", VERSION])
    expected = assemble_commands(image, cache, [part.ref for part in parts])
    answers = {**local_bases(), image_id(image.tag): [failed(), ok("sha256:node")], image_id(image.base): ok("sha256:b"),
               kubeadm: ok(KUBEADM_LIST), size(image.tag): ok("1200000000"),
               **{label(part.ref): ok(part.source) for part in parts}, **{command: ok() for command in expected}}
    c = make_context(answers)
    node_image.build_node_image(c, resolve(c), Report())
    ran = commands_run(c)
    assert ran[ran.index(kubeadm) + 1:ran.index(kubeadm) + 1 + len(parts)] == [label(part.ref) for part in parts]
    assert [command for command in ran if command in expected] == expected


def test_rebuild_builds_the_base_and_every_component_again(make_context, tmp_path):
    cache = tmp_path / ".cache"
    cached_binaries(cache)
    image = tags(make_context)
    c = make_context({**local_bases(), image_id(image.tag): ok("sha256:node"), size(image.tag): ok("1"),
                      line([str(cache / "k8s" / VERSION / "kubeadm"), "config", "images", "list",
                            "--kubernetes-version", VERSION]): ok(KUBEADM_LIST)})
    c.set_result_for("run", re.compile(r"^(env DOCKER_BUILDKIT|rm |mkdir |cp |set -o|docker )"), ok())
    node_image.build_node_image(c, resolve(c), Report(), rebuild=True)
    ran = commands_run(c)
    assert line(["env", "DOCKER_BUILDKIT=0", "docker", "build", "--force-rm", "-q", "--network", "host",
                 "--build-arg", f"BASE={DEBIAN}", "-f", str(NODE_FILES / "base.Dockerfile"), "-t", image.base,
                 str(NODE_FILES)]) in ran
    assert sum("| docker import" in command for command in ran) == 7  # all but kube-proxy
    assert [command for command in ran if "built-from=kube-proxy@" in command] == [line([
        "env", "DOCKER_BUILDKIT=0", "docker", "build", "--force-rm", "-q", "--network", "host", "--build-arg",
        f"BASE={DEBIAN}", "--label", f"{LABEL}=kube-proxy@v1.34.4", "-t", "registry.k8s.io/kube-proxy:v1.34.4",
        f"{cache}/cluster/images/kube-proxy"])]


def test_dry_run_runs_only_probes(make_context, capsys):
    image = tags(make_context)
    c = make_context({**local_bases(), image_id(image.tag): failed(), image_id(image.base): failed()})
    node_image.build_node_image(c, resolve(c, dry_run=True), Report())
    assert all(command.startswith(("docker version", "docker image inspect")) for command in commands_run(c))
    err = capsys.readouterr().err
    assert "[dry-run] env DOCKER_BUILDKIT=0 docker build" in err and "[dry-run] docker commit" in err


def test_kubeadm_refs_skip_pause_which_containerd_names():
    refs = components.kubeadm_refs(KUBEADM_LIST)
    assert "registry.k8s.io/etcd:3.6.5-0" in refs and not any("pause" in ref for ref in refs)


def test_components_follow_the_official_image_layouts():
    parts = {image_name(part.ref): part
             for part in components.components(components.kubeadm_refs(KUBEADM_LIST), VERSION)}
    assert parts["etcd"].source == "etcd@v3.6.5" and parts["etcd"].path == "/usr/local/bin/etcd"
    # kubeadm passes CoreDNS only args; metrics-server's manifest too.
    assert (parts["coredns"].path, parts["coredns"].entrypoint) == ("/coredns", True)
    assert (parts["metrics-server"].path, parts["metrics-server"].entrypoint) == ("/metrics-server", True)
    assert parts["kube-apiserver"].source == "kube-apiserver@v1.34.4"
    assert parts["local-path-provisioner"].ref == "docker.io/rancher/local-path-provisioner:v0.0.30"


def test_an_image_kubeadm_wants_that_we_cannot_build_is_refused():
    with pytest.raises(Exit) as error:
        components.components(["registry.k8s.io/kube-dashboard:v1"], VERSION)
    assert "kube-dashboard" in error.value.message


def test_scratch_image_is_the_binary_imported_with_its_label(make_context, tmp_path):
    part = components.components(["registry.k8s.io/coredns/coredns:v1.12.1"], VERSION)[0]
    work, cache = tmp_path / "work", tmp_path / "cache"
    c = make_context()
    c.set_result_for("run", re.compile(".*"), ok())
    components.build(c, part, cache, work, dry_run=False)
    assert commands_run(c) == [
        f"rm -rf {work}/coredns",
        f"mkdir -p {work}/coredns",
        f"cp {cache}/coredns/v1.12.1/coredns {work}/coredns/coredns",
        f"set -o pipefail; tar -C {work}/coredns --numeric-owner -c . | docker import --change "
        f"'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'LABEL {LABEL}=coredns@v1.12.1' "
        "--change 'ENTRYPOINT [\"/coredns\"]' - registry.k8s.io/coredns/coredns:v1.12.1",
    ]


@pytest.mark.parametrize("answer, expected", [(ok("etcd@v3.6.5\n"), True), (ok("etcd@v3.5.0"), False),
                                              (ok("<no value>"), False), (failed(), False)])
def test_a_component_image_is_current_only_with_its_label(make_context, answer, expected):
    part = components.components(["registry.k8s.io/etcd:3.6.5-0"], VERSION)[0]
    assert components.current(make_context({label(part.ref): answer}), part) is expected
