"""Objects `up` applies once the apiserver answers: DNS wiring and the default StorageClass."""

from . import config

MANAGED_BY = {"app.kubernetes.io/managed-by": "todoops-e2e-harness"}


def kube_dns(dns_host_ip: str) -> list[dict]:
    """The kube-dns Service with a hand-written EndpointSlice pointing at CoreDNS on the host.

    CoreDNS runs as a host process (no image to build or load); kube-proxy
    forwards the well-known DNS service address to it like to any endpoint.
    """
    ports = [("dns", "UDP"), ("dns-tcp", "TCP")]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {**MANAGED_BY, "k8s-app": "kube-dns"}},
        "spec": {
            "clusterIP": config.DNS_SERVICE_IP,
            "ports": [{"name": name, "port": 53, "protocol": protocol} for name, protocol in ports],
        },
    }
    endpoints = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kube-dns-host",
            "namespace": "kube-system",
            "labels": {**MANAGED_BY, "kubernetes.io/service-name": "kube-dns"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [dns_host_ip], "conditions": {"ready": True}}],
        "ports": [{"name": name, "port": 53, "protocol": protocol} for name, protocol in ports],
    }
    return [service, endpoints]


def coredns_rbac() -> list[dict]:
    """Read access for the `kubernetes` plugin, bound to the user in CoreDNS's client certificate."""
    name = "todoops-e2e:coredns"
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": MANAGED_BY},
        "rules": [
            {"apiGroups": [""], "resources": ["services", "pods", "namespaces", "endpoints"], "verbs": ["list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": MANAGED_BY},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}],
    }
    return [role, binding]


def storage_class() -> dict:
    """The default class, served by the harness's hostPath provisioner (see provisioner.py)."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": config.STORAGE_CLASS,
            "labels": MANAGED_BY,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": config.PROVISIONER_NAME,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }


def bootstrap(dns_host_ip: str) -> dict:
    return {"apiVersion": "v1", "kind": "List", "items": [*kube_dns(dns_host_ip), *coredns_rbac(), storage_class()]}
