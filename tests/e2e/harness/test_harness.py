"""The harness's pure helpers, tested on data (no cluster, no Go, no network)."""

import json
import struct
from pathlib import Path

import pytest

from tests.e2e.harness import build, config, dns, pki, provisioner, render

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
    parsed = build.parse_go_mod(UPSTREAM_GO_MOD)
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
    parsed = build.parse_go_mod(UPSTREAM_GO_MOD)
    go_mod = build.wrapper_go_mod("k8s.io/kubernetes", "v1.34.4", parsed, "v0.34.4")
    assert "require k8s.io/kubernetes v1.34.4" in go_mod
    assert "godebug default=go1.24" in go_mod
    assert "\tk8s.io/api => k8s.io/api v0.34.4" in go_mod
    # Pinned by upstream's own require, or required by nobody: no replace needed.
    assert "go.etcd.io" not in go_mod


@pytest.mark.parametrize(("release", "staging"), [("v1.34.4", "v0.34.4"), ("v1.33.13", "v0.33.13")])
def test_staging_version(release, staging):
    assert build.staging_version(release) == staging


def test_k8s_ldflags_stamp_both_version_packages():
    flags = build.k8s_ldflags("v1.34.4", "2026-02-10T12:53:36Z")
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {package}.gitVersion=v1.34.4" in flags
        assert f"-X {package}.gitMinor=34" in flags


def test_certificate_subject_and_extensions():
    kubelet = next(leaf for leaf in pki.leaves("node-a", "192.0.2.7") if leaf.name == "kubelet")
    assert pki.subject(kubelet) == "/O=system:nodes/CN=system:node:node-a"
    apiserver = next(leaf for leaf in pki.leaves("node-a", "192.0.2.7") if leaf.name == "apiserver")
    extensions = pki.extensions(apiserver)
    assert "extendedKeyUsage=serverAuth" in extensions
    assert "IP:192.0.2.7" in extensions and f"IP:{config.KUBERNETES_SERVICE_IP}" in extensions


def test_dns_query_packet_and_answer_count():
    packet = dns.query_packet("kubernetes.default.svc.cluster.local", 0x1234)
    assert packet[:2] == b"\x12\x34"
    assert b"\x0akubernetes\x07default\x03svc\x07cluster\x05local\x00" in packet
    answer = struct.pack(">HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0)
    nxdomain = struct.pack(">HHHHHH", 0x1234, 0x8183, 1, 0, 0, 0)
    assert dns.answer_count(answer, 0x1234) == 1
    assert dns.answer_count(nxdomain, 0x1234) == 0
    assert dns.answer_count(answer, 0x9999) == 0


def claim(phase: str = "Pending", storage_class: str = config.STORAGE_CLASS, volume: str = "") -> dict:
    return {
        "metadata": {"name": "data", "namespace": "ns", "uid": "u-1"},
        "spec": {"storageClassName": storage_class, "volumeName": volume, "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": phase},
    }


def test_provisioner_picks_pending_unbound_claims_of_its_classes():
    claims = [claim(), claim(phase="Bound", volume="pv-1"), claim(storage_class="other")]
    assert provisioner.claims_to_provision(claims, {config.STORAGE_CLASS}) == [claims[0]]


def test_provisioned_volume_is_prebound_to_its_claim():
    volume = provisioner.volume_for(claim(), Path("/state/volumes"))
    assert volume["metadata"]["name"] == "pvc-u-1"
    assert volume["spec"]["claimRef"] == {"namespace": "ns", "name": "data", "uid": "u-1"}
    assert volume["spec"]["hostPath"]["path"] == "/state/volumes/pvc-u-1"
    assert volume["spec"]["capacity"] == {"storage": "1Gi"}


def test_provisioner_deletes_only_its_released_volumes():
    ours = {"pv.kubernetes.io/provisioned-by": config.PROVISIONER_NAME}
    volumes = [
        {"metadata": {"name": "a", "annotations": ours}, "status": {"phase": "Released"}},
        {"metadata": {"name": "b", "annotations": ours}, "status": {"phase": "Bound"}},
        {"metadata": {"name": "c"}, "status": {"phase": "Released"}},
    ]
    assert [v["metadata"]["name"] for v in provisioner.volumes_to_delete(volumes)] == ["a"]


def test_cni_config_uses_our_bridge_without_masquerade():
    paths = config.StatePaths(Path("/state"))
    bridge = json.loads(render.cni_conflist(paths, "10.244.0.0/24"))["plugins"][0]
    assert bridge["bridge"] == config.BRIDGE_NAME
    assert bridge["ipMasq"] is False
    assert bridge["ipam"]["dataDir"] == "/state/cni-ipam"
