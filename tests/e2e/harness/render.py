"""Configuration files of the e2e cluster as pure functions: data in, file text out.

YAML files are written as JSON (a YAML subset) so no YAML library is needed.
"""

import json
from pathlib import Path

from . import config
from .config import StatePaths


def to_json(document: dict) -> str:
    return json.dumps(document, indent=2) + "\n"


def kubeconfig(server: str, pki: Path, user: str, context: str = config.KUBE_CONTEXT) -> str:
    return to_json({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": server, "certificate-authority": str(pki / "ca.crt")}}],
        "users": [{"name": user, "user": {
            "client-certificate": str(pki / f"{user}.crt"),
            "client-key": str(pki / f"{user}.key"),
        }}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": user}}],
        "current-context": context,
    })


def containerd_toml(paths: StatePaths) -> str:
    """A second containerd beside Docker's: own root/state/socket, CRI on, cgroupfs, local pause image.

    restrict_oom_score_adj: our machines lack CAP_SYS_RESOURCE, so lowering a
    container's oom_score_adj would fail.
    """
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{paths.containerd_root}"
state = "{paths.containerd_state}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "{paths.containerd_socket}"

[metrics]
  address = ""

[{cri}]
  sandbox_image = "{config.PAUSE_IMAGE}"
  restrict_oom_score_adj = true

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false

[{cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{paths.conf / 'cni'}"
"""


def cni_conflist(paths: StatePaths, node_pod_cidr: str) -> str:
    """A plain Linux bridge. No ipMasq: pods only talk to this machine, and no
    per-pod NAT chains are left behind when containers are torn down."""
    return to_json({
        "cniVersion": "1.0.0",
        "name": "todoops-e2e",
        "plugins": [{
            "type": "bridge",
            "bridge": config.BRIDGE_NAME,
            "isGateway": True,
            "ipMasq": False,
            "hairpinMode": True,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": node_pod_cidr}]],
                "routes": [{"dst": "0.0.0.0/0"}],
                "dataDir": str(paths.root / "cni-ipam"),
            },
        }],
    })


def kubelet_config(paths: StatePaths) -> str:
    """Settings our machines need: cgroupfs (no systemd), swap tolerated, images never
    garbage-collected (the pause image cannot be pulled again), eviction thresholds loose."""
    return to_json({
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(paths.pki / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "cgroupfs",
        "containerRuntimeEndpoint": f"unix://{paths.containerd_socket}",
        "failSwapOn": False,
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "nodefs.inodesFree": "1%",
            "imagefs.available": "1%",
        },
        "clusterDNS": [config.DNS_SERVICE_IP],
        "clusterDomain": config.CLUSTER_DOMAIN,
        "resolvConf": str(paths.conf / "resolv.conf"),
        "podLogsDir": str(paths.pod_logs),
        "readOnlyPort": 0,
        "serializeImagePulls": False,
        "rotateCertificates": False,
    })


def kube_proxy_config(paths: StatePaths, node_name: str) -> str:
    """iptables mode; conntrack values left alone because sysctl writes may be refused here."""
    return to_json({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(paths.kubeconfig("kube-proxy"))},
        "mode": "iptables",
        "clusterCIDR": config.POD_CIDR,
        "hostnameOverride": node_name,
        "metricsBindAddress": "127.0.0.1:10249",
        "healthzBindAddress": "127.0.0.1:10256",
        "nodePortAddresses": ["primary"],
        "conntrack": {"maxPerCore": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
    })


def corefile(paths: StatePaths, listen_ip: str) -> str:
    """CoreDNS on the host, serving cluster names only: there is no upstream to forward to."""
    return f""".:53 {{
    bind {listen_ip}
    errors
    health 127.0.0.1:18080
    ready 127.0.0.1:18181
    kubernetes {config.CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {paths.kubeconfig('coredns')} {config.KUBE_CONTEXT}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 5
    loop
    reload
}}
"""


def stub_resolv_conf() -> str:
    """What pods with dnsPolicy Default get: no upstream resolver leaves this machine."""
    return "# todoops e2e: cluster names only, served by CoreDNS through the kube-dns Service\noptions ndots:1\n"
