"""Host-level preparation and cleanup: tools, addresses, iptables, network namespaces, mounts, cgroups.

Every change `up` makes to the host has its inverse here, used by `down`.
"""

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

from . import config
from .config import Binaries, StatePaths

TOOLS = {
    "containerd": "apt-get install -y containerd",
    "ctr": "apt-get install -y containerd",
    "runc": "apt-get install -y runc",
    "iptables": "apt-get install -y iptables",
    "ip": "apt-get install -y iproute2",
    "openssl": "apt-get install -y openssl",
    "kubectl": "install kubectl (any client within one minor of the server)",
    "umount": "apt-get install -y mount",
}
CNI_BRIDGE = Path("/usr/lib/cni/bridge")
FORWARD_RULE_COMMENT = "todoops-e2e"
KUBELET_CHAINS = {
    "filter": ("KUBE-FIREWALL", "KUBE-KUBELET-CANARY"),
    "nat": ("KUBE-KUBELET-CANARY",),
    "mangle": ("KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT"),
}


def preflight(bins: Binaries) -> list[str]:
    """Every reason `up` cannot start, each with its fix; empty when all is well."""
    problems = []
    if os.geteuid() != 0:
        problems.append("must run as root (containerd, kubelet and iptables need it)")
    problems += [f"{tool} not found: {fix}" for tool, fix in TOOLS.items() if shutil.which(tool) is None]
    if not CNI_BRIDGE.exists():
        problems.append(f"{CNI_BRIDGE} missing: apt-get install -y containernetworking-plugins")
    wanted = [bins.etcd, bins.coredns, *(bins.k8s(name) for name in config.K8S_COMPONENTS)]
    absent = [str(path) for path in wanted if not path.exists()]
    if absent:
        problems.append(f"binaries missing ({', '.join(absent)}): python -m tests.e2e.harness build")
    docker = subprocess.run(["docker", "info"], capture_output=True)
    if docker.returncode != 0:
        problems.append("docker daemon not reachable (needed for the pause image): start dockerd")
    return problems


def node_ip() -> str:
    """The IPv4 address of the default-route interface: non-loopback, reachable from pods."""
    routes = json.loads(subprocess.run(["ip", "-j", "route", "show", "default"], capture_output=True,
                                       text=True, check=True).stdout)
    if not routes:
        raise RuntimeError("no default route: cannot pick a non-loopback address to advertise")
    addresses = json.loads(subprocess.run(["ip", "-j", "-4", "addr", "show", "dev", routes[0]["dev"]],
                                          capture_output=True, text=True, check=True).stdout)
    return addresses[0]["addr_info"][0]["local"]


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def forward_rules() -> list[list[str]]:
    """Docker sets the FORWARD policy to DROP: let traffic in and out of our bridge through."""
    comment = ["-m", "comment", "--comment", FORWARD_RULE_COMMENT]
    return [
        ["FORWARD", "-i", config.BRIDGE_NAME, *comment, "-j", "ACCEPT"],
        ["FORWARD", "-o", config.BRIDGE_NAME, *comment, "-j", "ACCEPT"],
    ]


def iptables(*args: str) -> bool:
    return run_ok(["iptables", "-w", *args])


def write_sysctl(name: str, value: str) -> None:
    """Best effort: some machines refuse sysctl writes; the defaults may already be right."""
    try:
        Path("/proc/sys", *name.split(".")).write_text(value)
    except OSError as error:
        print(f"up: could not set {name}={value} ({error}); continuing", flush=True)


def prepare_network() -> None:
    write_sysctl("net.ipv4.ip_forward", "1")
    # Service traffic between pods on one bridge must pass iptables for kube-proxy's DNAT.
    write_sysctl("net.bridge.bridge-nf-call-iptables", "1")
    for rule in forward_rules():
        if not iptables("-C", *rule):
            iptables("-I", rule[0], "1", *rule[1:])


def restore_network(kube_proxy: Path) -> None:
    for rule in forward_rules():
        while iptables("-D", *rule):
            pass
    if kube_proxy.exists():
        # Removes only kube-proxy's own KUBE-* chains and the jumps to them.
        subprocess.run([str(kube_proxy), "--cleanup"], capture_output=True)
    remove_kubelet_chains()
    if Path("/sys/class/net", config.BRIDGE_NAME).exists():
        subprocess.run(["ip", "link", "delete", config.BRIDGE_NAME], check=True)


def remove_kubelet_chains() -> None:
    """The kubelet's own chains, which `kube-proxy --cleanup` leaves (both IP families)."""
    for binary in ("iptables", "ip6tables"):
        for table, chains in KUBELET_CHAINS.items():
            for builtin in ("INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"):
                for chain in chains:
                    while run_ok([binary, "-w", "-t", table, "-D", builtin, "-j", chain]):
                        pass
            for chain in chains:
                run_ok([binary, "-w", "-t", table, "-F", chain])
                run_ok([binary, "-w", "-t", table, "-X", chain])


def run_ok(argv: list[str]) -> bool:
    return subprocess.run(argv, capture_output=True).returncode == 0


def ctr(paths: StatePaths, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ctr", "--address", str(paths.containerd_socket), "-n", "k8s.io", *args],
                          capture_output=True, text=True)


def task_pids(paths: StatePaths) -> dict[str, int]:
    """Running containers of the kubelet's namespace: id -> PID (`ctr tasks ls` prints TASK PID STATUS)."""
    listing = ctr(paths, "tasks", "ls")
    rows = [line.split() for line in listing.stdout.splitlines()[1:]]
    return {row[0]: int(row[1]) for row in rows if len(row) >= 2 and row[1].isdigit() and row[1] != "0"}


def netns_inode(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def netns_files_of(pids: list[int]) -> list[Path]:
    """The /run/netns bind mounts the CRI plugin made for our pods, matched by namespace inode."""
    inodes = {netns_inode(pid) for pid in pids} - {None}
    netns_dir = Path("/run/netns")
    if not netns_dir.is_dir():
        return []
    return [entry for entry in netns_dir.iterdir() if entry.stat().st_ino in inodes]


def remove_pod_containers(paths: StatePaths) -> list[Path]:
    """Kill every container our containerd runs (the kubelet is stopped first, so nothing restarts them).

    Returns the pods' network namespace files, to unmount once containerd is gone.
    """
    if not paths.containerd_socket.exists():
        return []
    tasks = task_pids(paths)
    netns_files = netns_files_of(list(tasks.values()))
    for task in tasks:
        ctr(paths, "tasks", "kill", "--all", "--signal", "SIGKILL", task)
    for task in tasks:
        ctr(paths, "tasks", "delete", "--force", task)
    return netns_files


def remove_netns(files: list[Path]) -> None:
    for file in files:
        subprocess.run(["umount", str(file)], capture_output=True)
        file.unlink(missing_ok=True)


def mount_points() -> list[str]:
    """Mount points from /proc/self/mountinfo (field 5, octal escapes decoded)."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return [line.split()[4].encode().decode("unicode_escape") for line in lines]


def unmount_below(root: Path) -> None:
    """Tmpfs volumes, shm and overlay mounts left under the state dir; deepest first."""
    prefix = str(root.resolve()) + "/"
    for point in sorted((p for p in mount_points() if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True)


def remove_kubepods_cgroups() -> None:
    """The kubelet's (now empty) cgroup tree, in every cgroup v1 hierarchy; leaves first."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        kubepods = hierarchy / "kubepods"
        if not kubepods.is_dir():
            continue
        for directory, _, _ in sorted(os.walk(kubepods), key=lambda entry: len(entry[0]), reverse=True):
            try:
                os.rmdir(directory)
            except OSError:
                pass
