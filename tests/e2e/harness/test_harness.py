"""The harness's pure helpers, tested on data (no cluster, no Go, no network)."""

import json
import struct
from pathlib import Path

from tests.e2e.harness import config, dns, pki, provisioner, render


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
