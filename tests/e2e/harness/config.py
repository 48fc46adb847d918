"""Versions, locations and network ranges of the e2e cluster: the one place to change them.

Assumptions: a Linux host where we are root, without systemd, on cgroup v1
(Kubernetes 1.34 is the newest minor that still runs there without opting in).
Binaries are cached per version outside the repository; the running cluster
lives in one state directory so `down` can remove everything it made.
"""

import os
from dataclasses import dataclass
from pathlib import Path

K8S_VERSION = "v1.34.4"
ETCD_VERSION = "v3.5.35"
COREDNS_VERSION = "v1.13.2"
HELM_VERSION = "v3.22.0"

K8S_COMPONENTS = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
)

PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
KUBE_CONTEXT = "todoops-e2e"
POD_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/16"
# By convention the first service address is the API's, the tenth is DNS.
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
BRIDGE_NAME = "todoops0"
APISERVER_PORT = 6443
ETCD_CLIENT_PORT = 2479  # not 2379: leave the default free for a developer's own etcd
ETCD_PEER_PORT = 2480
STORAGE_CLASS = "todoops-hostpath"
PROVISIONER_NAME = "todoops.local/hostpath"


def cache_root() -> Path:
    """Where built binaries are kept between runs (outside the repository)."""
    default = Path.home() / ".cache" / "todoops"
    return Path(os.environ.get("TODOOPS_CACHE", default))


def state_root() -> Path:
    """Where a running cluster keeps its data, logs, PIDs and sockets."""
    return Path(os.environ.get("TODOOPS_E2E_DIR", "/tmp/todoops-e2e"))


@dataclass(frozen=True)
class Binaries:
    """Absolute paths of every executable the cluster runs."""

    k8s_dir: Path
    etcd: Path
    coredns: Path
    helm: Path

    def k8s(self, component: str) -> Path:
        return self.k8s_dir / component


def binaries(cache: Path | None = None) -> Binaries:
    cache = cache or cache_root()
    return Binaries(
        k8s_dir=cache / "k8s" / K8S_VERSION,
        etcd=cache / "etcd" / ETCD_VERSION / "etcd",
        coredns=cache / "coredns" / COREDNS_VERSION / "coredns",
        helm=cache / "helm" / HELM_VERSION / "helm",
    )


@dataclass(frozen=True)
class StatePaths:
    """The layout of the state directory; `down` deletes all of it."""

    root: Path

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    @property
    def containerd_root(self) -> Path:
        return self.root / "containerd" / "root"

    @property
    def containerd_state(self) -> Path:
        return self.root / "containerd" / "state"

    @property
    def containerd_socket(self) -> Path:
        return self.root / "containerd" / "containerd.sock"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def kubelet_root(self) -> Path:
        return self.root / "kubelet"

    @property
    def pod_logs(self) -> Path:
        return self.root / "pod-logs"

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    @property
    def admin_kubeconfig(self) -> Path:
        """The kubeconfig handed to people and tests (stable across runs)."""
        return self.root / "kubeconfig"

    def kubeconfig(self, component: str) -> Path:
        return self.conf / f"{component}.kubeconfig"


def state_paths() -> StatePaths:
    return StatePaths(state_root())
