"""Certificates for the e2e cluster, made with the openssl CLI (present on every Debian).

One CA signs everything. Every component authenticates with a client
certificate whose CN/O are the user/group Kubernetes' built-in RBAC already
knows (system:kube-scheduler, system:node:<name> in system:nodes, ...), so no
token files or extra bindings are needed. EC P-256 keys: fast to generate.
Existing files are kept, so a restarted `up` reuses them.
"""

import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import config

CA_DAYS = "3650"
LEAF_DAYS = "365"


@dataclass(frozen=True)
class Leaf:
    """One certificate to issue: file stem, subject, SANs, and whether servers present it."""

    name: str
    common_name: str
    organization: str = ""
    sans: tuple[str, ...] = ()
    server: bool = False


def leaves(node_name: str, node_ip: str) -> list[Leaf]:
    apiserver_sans = (
        "DNS:kubernetes",
        "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc",
        f"DNS:kubernetes.default.svc.{config.CLUSTER_DOMAIN}",
        "DNS:localhost",
        "IP:127.0.0.1",
        f"IP:{node_ip}",
        f"IP:{config.KUBERNETES_SERVICE_IP}",
    )
    return [
        Leaf("apiserver", "kube-apiserver", sans=apiserver_sans, server=True),
        # The apiserver calls kubelets (logs, exec, port-forward) with this identity.
        Leaf("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"),
        Leaf("admin", "todoops-e2e-admin", "system:masters"),
        Leaf("kube-controller-manager", "system:kube-controller-manager"),
        Leaf("kube-scheduler", "system:kube-scheduler"),
        Leaf("kubelet", f"system:node:{node_name}", "system:nodes"),
        Leaf("kube-proxy", "system:kube-proxy"),
        Leaf("coredns", "todoops-e2e:coredns"),
    ]


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def new_key(path: Path) -> None:
    if not path.exists():
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))
        path.chmod(0o600)


def make_ca(pki: Path) -> None:
    new_key(pki / "ca.key")
    if (pki / "ca.crt").exists():
        return
    openssl(
        "req", "-x509", "-new", "-key", str(pki / "ca.key"), "-subj", "/CN=todoops-e2e-ca",
        "-days", CA_DAYS, "-out", str(pki / "ca.crt"),
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )


def extensions(leaf: Leaf) -> str:
    usage = "serverAuth" if leaf.server else "clientAuth"
    lines = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={usage}",
    ]
    if leaf.sans:
        lines.append("subjectAltName=" + ",".join(leaf.sans))
    return "\n".join(lines) + "\n"


def subject(leaf: Leaf) -> str:
    return f"/O={leaf.organization}/CN={leaf.common_name}" if leaf.organization else f"/CN={leaf.common_name}"


def issue(pki: Path, leaf: Leaf) -> None:
    key, cert = pki / f"{leaf.name}.key", pki / f"{leaf.name}.crt"
    new_key(key)
    if cert.exists():
        return
    csr, ext = pki / f"{leaf.name}.csr", pki / f"{leaf.name}.ext"
    ext.write_text(extensions(leaf))
    openssl("req", "-new", "-key", str(key), "-subj", subject(leaf), "-out", str(csr))
    openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"),
        "-CAcreateserial", "-days", LEAF_DAYS, "-extfile", str(ext), "-out", str(cert),
    )
    csr.unlink()
    ext.unlink()


def make_service_account_keys(pki: Path) -> None:
    """The key pair that signs and verifies service account tokens."""
    new_key(pki / "sa.key")
    if not (pki / "sa.pub").exists():
        openssl("pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))


def make_all(pki: Path, node_name: str, node_ip: str) -> None:
    pki.mkdir(parents=True, exist_ok=True)
    make_ca(pki)
    make_service_account_keys(pki)
    for leaf in leaves(node_name, node_ip):
        issue(pki, leaf)
