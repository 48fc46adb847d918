import json

import pytest
from invoke import Result

from tests.conftest import commands_run
from todoops.cluster import binaries
from todoops.report import Report

GO = "env CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod go"
UPSTREAM_GO_MOD = """module k8s.io/kubernetes

go 1.24.0

godebug default=go1.24

require (
	github.com/spf13/cobra v1.9.1
	k8s.io/api v0.0.0 // replaced below
	k8s.io/klog/v2 v2.130.1
)

require go.etcd.io/etcd/api/v3 v3.5.35

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	go.etcd.io/etcd/api/v3 => ../api
	go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY
	example.com/forked => example.com/fork v1.2.3
)
"""


def test_parse_go_mod_reads_what_a_wrapper_needs():
    parsed = binaries.parse_go_mod(UPSTREAM_GO_MOD)
    assert parsed["go"] == "1.24.0"
    assert parsed["godebug"] == ["default=go1.24"]
    assert parsed["require"] == {
        "github.com/spf13/cobra": "v1.9.1",
        "k8s.io/api": "v0.0.0",
        "k8s.io/klog/v2": "v2.130.1",
        "go.etcd.io/etcd/api/v3": "v3.5.35",
    }
    assert parsed["local_replace"] == ["k8s.io/api", "go.etcd.io/etcd/api/v3", "go.etcd.io/etcd"]


def test_wrapper_replaces_only_placeholder_requirements():
    parsed = binaries.parse_go_mod(UPSTREAM_GO_MOD)
    go_mod = binaries.wrapper_go_mod("k8s.io/kubernetes", "v1.34.4", parsed, "v0.34.4")
    assert "require k8s.io/kubernetes v1.34.4" in go_mod
    assert "godebug default=go1.24" in go_mod
    assert "\tk8s.io/api => k8s.io/api v0.34.4" in go_mod
    # Pinned by upstream's own require, or required by nobody: no replace needed.
    assert "go.etcd.io" not in go_mod


@pytest.mark.parametrize(("release", "staging"), [("v1.34.4", "v0.34.4"), ("v1.33.13", "v0.33.13")])
def test_staging_version(release, staging):
    assert binaries.staging_version(release) == staging


def test_k8s_ldflags_stamp_both_version_packages():
    flags = binaries.k8s_ldflags("v1.34.4", "2026-02-10T12:53:36Z")
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {package}.gitVersion=v1.34.4" in flags
        assert f"-X {package}.gitMinor=34" in flags


def test_node_builds_pin_what_kubeadm_1_34_needs():
    builds = {build.key: build for build in binaries.node_builds("v1.34.4")}
    # kubeadm 1.34 derives etcd flags from the image tag (3.5 breaks init) and asks for CoreDNS v1.12.1.
    assert builds["etcd"].version.startswith("v3.6.")
    assert builds["coredns"].version == "v1.12.1"
    assert set(builds["k8s"].outputs) >= {"kubeadm", "kubelet", "kubectl", "kube-proxy"}
    assert list(builds) == ["etcd", "coredns", "crictl", "local-path-provisioner", "metrics-server", "k8s"]


def fake_module(tmp_path, go_mod: str = UPSTREAM_GO_MOD) -> Result:
    (tmp_path / "m.mod").write_text(go_mod)
    (tmp_path / "m.info").write_text(json.dumps({"Version": "v1.34.4", "Time": "2026-02-10T12:53:36Z"}))
    return Result(stdout=json.dumps({"GoMod": str(tmp_path / "m.mod"), "Info": str(tmp_path / "m.info")}))


def test_missing_kubernetes_is_built_in_one_go_build_from_a_wrapper(make_context, tmp_path):
    cache = tmp_path / "cache"
    build = binaries.kubernetes("v1.34.4", ("kubelet", "kubeadm"))
    source = cache / "k8s" / "v1.34.4.src"
    go_build = (f"{GO} -C {source} build -trimpath -tags selinux,notest "
                f"-ldflags '{binaries.k8s_ldflags('v1.34.4', '2026-02-10T12:53:36Z')}' "
                f"-o {cache}/k8s/v1.34.4/ k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubeadm")
    c = make_context({f"{GO} mod download -json k8s.io/kubernetes@v1.34.4": fake_module(tmp_path),
                      go_build: Result()})
    timings = binaries.build_missing(c, (build,), cache, Report())
    assert commands_run(c) == [f"{GO} mod download -json k8s.io/kubernetes@v1.34.4", go_build]
    assert "\tk8s.io/api => k8s.io/api v0.34.4" in (source / "go.mod").read_text()
    assert list(timings) == ["k8s v1.34.4"]


def test_a_single_package_is_named_by_its_output(make_context, tmp_path):
    cache = tmp_path / "cache"
    go_mod = "module go.etcd.io/etcd/server/v3\n\ngo 1.24\n"
    go_build = (f"{GO} -C {cache}/etcd/v3.6.5.src build -trimpath "
                f"-ldflags '-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=v3.6.5' "
                f"-o {cache}/etcd/v3.6.5/etcd go.etcd.io/etcd/server/v3")
    c = make_context({f"{GO} mod download -json go.etcd.io/etcd/server/v3@v3.6.5": fake_module(tmp_path, go_mod),
                      go_build: Result()})
    binaries.build_missing(c, (binaries.etcd("v3.6.5"),), cache, Report())
    assert commands_run(c)[-1] == go_build


def test_cached_binaries_are_not_built_again(make_context, tmp_path, capsys):
    cache = tmp_path / "cache"
    build = binaries.coredns("v1.12.1")
    for path in build.paths(cache):
        path.parent.mkdir(parents=True)
        path.write_text("binary")
        path.chmod(0o755)
    c = make_context()
    assert binaries.build_missing(c, (build,), cache, Report()) == {}
    assert commands_run(c) == []
    assert "coredns v1.12.1: cached" in capsys.readouterr().out


def test_a_binary_that_is_not_executable_counts_as_missing(tmp_path):
    path = tmp_path / "kubelet"
    path.write_text("partial")
    assert binaries.missing([path])


def test_dry_run_prints_the_download_and_build_and_runs_nothing(make_context, tmp_path, capsys):
    c = make_context()
    binaries.build_missing(c, (binaries.coredns("v1.12.1"),), tmp_path / "cache", Report(), dry_run=True)
    assert commands_run(c) == []
    err = capsys.readouterr().err
    assert f"[dry-run] {GO} mod download -json github.com/coredns/coredns@v1.12.1" in err
    assert "build -trimpath -ldflags '-s -w'" in err
