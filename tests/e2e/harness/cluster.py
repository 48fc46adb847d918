"""Start, inspect and stop the single-node e2e cluster (layer c of notes/cluster.md).

Everything runs as plain background processes, the way Kubernetes' own
local-up-cluster does, because PID 1 here is not systemd. The order in `up`
is the dependency order; `down` walks it backwards and only ever signals
PIDs recorded by `up`. Host changes made on the way (iptables rules, the CNI
bridge, network namespaces, mounts under the state dir, kubepods cgroups) are
undone by `down` too.
"""

import json
import shlex
import shutil
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from . import config, dns, host, images, manifests, pki, processes, render
from .config import Binaries, StatePaths

NODE_NAME = "todoops-e2e-node"
NODE_POD_CIDR = "10.244.0.0/24"
REPO_ROOT = Path(__file__).resolve().parents[3]
# Seconds. Generous on purpose: on a busy 2-core machine the apiserver alone has
# needed minutes; on an idle one every wait returns within seconds anyway.
START_TIMEOUT = 300
REQUEST_TIMEOUT = 10

# Start order; `down` stops in reverse.
COMPONENTS = (
    "containerd",
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "coredns",
    "provisioner",
)


class HarnessError(RuntimeError):
    """A step of the harness failed; the message says which and where to look."""


def kubectl(paths: StatePaths, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    # A bounded request: a starved apiserver must not hang a probe past its deadline.
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(paths.admin_kubeconfig), f"--request-timeout={REQUEST_TIMEOUT}s", *args],
        input=stdin, capture_output=True, text=True, check=check, timeout=REQUEST_TIMEOUT * 3,
    )


def kubectl_ok(paths: StatePaths, *args: str) -> bool:
    """A probe: True when kubectl succeeds in time."""
    try:
        return kubectl(paths, *args, check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def wait_until(what: str, probe, timeout: float, log_name: str, paths: StatePaths) -> None:
    """Poll `probe` until it is true; on timeout fail with the tail of the component's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        if log_name in COMPONENTS and processes.running(paths, log_name) is None:
            raise HarnessError(f"{log_name} exited while waiting for {what}:\n{processes.log_tail(paths, log_name)}")
        time.sleep(0.5)
    raise HarnessError(f"timed out after {timeout:.0f} s waiting for {what}; {paths.logs / (log_name + '.log')}:\n"
                       f"{processes.log_tail(paths, log_name)}")


def argvs(paths: StatePaths, bins: Binaries, node_ip: str) -> dict[str, list[str]]:
    """The command line of every component."""
    pki_dir, conf = paths.pki, paths.conf
    etcd_url = f"http://127.0.0.1:{config.ETCD_CLIENT_PORT}"
    peer_url = f"http://127.0.0.1:{config.ETCD_PEER_PORT}"
    return {
        "containerd": ["containerd", "--config", str(conf / "containerd.toml")],
        "etcd": [
            str(bins.etcd), "--name", "todoops-e2e", "--data-dir", str(paths.etcd_data),
            # Loopback only, so plain HTTP is safe; fsync off: the data is thrown away anyway.
            "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
            "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", f"todoops-e2e={peer_url}", "--unsafe-no-fsync",
        ],
        "kube-apiserver": [
            str(bins.k8s("kube-apiserver")),
            f"--advertise-address={node_ip}", f"--secure-port={config.APISERVER_PORT}",
            f"--etcd-servers={etcd_url}",
            f"--service-cluster-ip-range={config.SERVICE_CIDR}",
            f"--client-ca-file={pki_dir / 'ca.crt'}",
            f"--tls-cert-file={pki_dir / 'apiserver.crt'}", f"--tls-private-key-file={pki_dir / 'apiserver.key'}",
            f"--kubelet-client-certificate={pki_dir / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki_dir / 'apiserver-kubelet-client.key'}",
            f"--service-account-issuer=https://kubernetes.default.svc.{config.CLUSTER_DOMAIN}",
            f"--service-account-key-file={pki_dir / 'sa.pub'}",
            f"--service-account-signing-key-file={pki_dir / 'sa.key'}",
            # The node name is not in any DNS: reach kubelets by address.
            "--kubelet-preferred-address-types=InternalIP",
            "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true", "--profiling=false",
        ],
        "kube-controller-manager": [
            str(bins.k8s("kube-controller-manager")),
            f"--kubeconfig={paths.kubeconfig('kube-controller-manager')}",
            f"--authentication-kubeconfig={paths.kubeconfig('kube-controller-manager')}",
            f"--authorization-kubeconfig={paths.kubeconfig('kube-controller-manager')}",
            f"--service-account-private-key-file={pki_dir / 'sa.key'}",
            f"--root-ca-file={pki_dir / 'ca.crt'}", "--use-service-account-credentials=true",
            f"--service-cluster-ip-range={config.SERVICE_CIDR}", f"--cluster-cidr={config.POD_CIDR}",
            "--leader-elect=false", "--bind-address=127.0.0.1", "--profiling=false",
        ],
        "kube-scheduler": [
            str(bins.k8s("kube-scheduler")),
            f"--kubeconfig={paths.kubeconfig('kube-scheduler')}",
            f"--authentication-kubeconfig={paths.kubeconfig('kube-scheduler')}",
            f"--authorization-kubeconfig={paths.kubeconfig('kube-scheduler')}",
            "--leader-elect=false", "--bind-address=127.0.0.1", "--profiling=false",
        ],
        "kubelet": [
            str(bins.k8s("kubelet")),
            f"--config={conf / 'kubelet.json'}", f"--kubeconfig={paths.kubeconfig('kubelet')}",
            f"--root-dir={paths.kubelet_root}", f"--cert-dir={paths.kubelet_root / 'pki'}",
            f"--hostname-override={NODE_NAME}", f"--node-ip={node_ip}", "--v=1",
        ],
        "kube-proxy": [str(bins.k8s("kube-proxy")), f"--config={conf / 'kube-proxy.json'}"],
        "coredns": [str(bins.coredns), "-conf", str(conf / "Corefile")],
        "provisioner": [
            sys.executable, "-m", "tests.e2e.harness.provisioner",
            str(paths.admin_kubeconfig), str(paths.volumes),
        ],
    }


def write_configs(paths: StatePaths, node_ip: str) -> None:
    server = f"https://{node_ip}:{config.APISERVER_PORT}"
    for directory in (paths.conf / "cni", paths.logs, paths.pids, paths.volumes, paths.pod_logs):
        directory.mkdir(parents=True, exist_ok=True)
    pki.make_all(paths.pki, NODE_NAME, node_ip)
    for user in ("kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "coredns"):
        paths.kubeconfig(user).write_text(render.kubeconfig(server, paths.pki, user))
    paths.admin_kubeconfig.write_text(render.kubeconfig(server, paths.pki, "admin"))
    paths.admin_kubeconfig.chmod(0o600)
    files = {
        "containerd.toml": render.containerd_toml(paths),
        "cni/10-todoops-e2e.conflist": render.cni_conflist(paths, NODE_POD_CIDR),
        "kubelet.json": render.kubelet_config(paths),
        "kube-proxy.json": render.kube_proxy_config(paths, NODE_NAME),
        "Corefile": render.corefile(paths, node_ip),
        "resolv.conf": render.stub_resolv_conf(),
    }
    for name, text in files.items():
        (paths.conf / name).write_text(text)


def start(paths: StatePaths, commands: dict[str, list[str]], name: str) -> None:
    processes.start(paths, name, commands[name], cwd=REPO_ROOT)


def ok(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=REQUEST_TIMEOUT * 3).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def start_containerd(paths: StatePaths, commands: dict[str, list[str]]) -> None:
    start(paths, commands, "containerd")
    version = ["ctr", "--address", str(paths.containerd_socket), "version"]
    wait_until("containerd to answer", partial(ok, version), START_TIMEOUT, "containerd", paths)
    images.ensure_pause_image(paths.containerd_socket)


def start_control_plane(paths: StatePaths, commands: dict[str, list[str]], node_ip: str) -> None:
    start(paths, commands, "etcd")
    health = f"http://127.0.0.1:{config.ETCD_CLIENT_PORT}/health"
    wait_until("etcd health", partial(host.http_ok, health), START_TIMEOUT, "etcd", paths)
    start(paths, commands, "kube-apiserver")
    readyz = partial(kubectl_ok, paths, "get", "--raw", "/readyz")
    wait_until("kube-apiserver /readyz", readyz, START_TIMEOUT, "kube-apiserver", paths)
    # CoreDNS listens on the address the apiserver advertises.
    kubectl(paths, "apply", "-f", "-", stdin=json.dumps(manifests.bootstrap(node_ip)))
    start(paths, commands, "kube-controller-manager")
    start(paths, commands, "kube-scheduler")


def start_node(paths: StatePaths, commands: dict[str, list[str]]) -> None:
    for name in ("kubelet", "kube-proxy", "coredns", "provisioner"):
        start(paths, commands, name)
    node_exists = partial(kubectl_ok, paths, "get", "node", NODE_NAME)
    wait_until(f"node {NODE_NAME} to register", node_exists, START_TIMEOUT, "kubelet", paths)
    ready = ["kubectl", "--kubeconfig", str(paths.admin_kubeconfig), "wait", "--for=condition=Ready",
             f"node/{NODE_NAME}", "--timeout=2s"]
    wait_until(f"node {NODE_NAME} Ready", partial(ok, ready), START_TIMEOUT, "kubelet", paths)


def wait_for_services(paths: StatePaths) -> None:
    name = f"kubernetes.default.svc.{config.CLUSTER_DOMAIN}"
    resolves = partial(dns.resolves, config.DNS_SERVICE_IP, name)
    wait_until(f"{name} to resolve through {config.DNS_SERVICE_IP}", resolves, START_TIMEOUT, "coredns", paths)
    # Pods are refused until the service account controller has made the namespace's account.
    has_account = partial(kubectl_ok, paths, "get", "serviceaccount", "default")
    wait_until("the default service account", has_account, START_TIMEOUT, "kube-controller-manager", paths)


def component_states(paths: StatePaths) -> dict[str, int | None]:
    return {name: processes.running(paths, name) for name in COMPONENTS}


def timed(label: str, step, *args) -> None:
    started = time.monotonic()
    step(*args)
    print(f"up: {label}: {time.monotonic() - started:.1f} s", flush=True)


def up() -> int:
    paths = config.state_paths()
    states = component_states(paths)
    if all(states.values()):
        print(f"up: already up ({paths.root})\nexport KUBECONFIG={shlex.quote(str(paths.admin_kubeconfig))}")
        return 0
    if any(states.values()):
        stopped = ", ".join(name for name, pid in states.items() if pid is None)
        print(f"up: partly running ({stopped} not running); run `python -m tests.e2e.harness down` first",
              file=sys.stderr)
        return 1
    problems = host.preflight(config.binaries())
    if problems:
        print("up: cannot start:\n" + "\n".join(f"  - {problem}" for problem in problems), file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        bring_up(paths)
    except (HarnessError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        detail = getattr(error, "stderr", "") or ""
        print(f"up: failed: {error}\n{detail}\nlogs: {paths.logs}; clean up with `python -m tests.e2e.harness down`",
              file=sys.stderr)
        return 1
    print(f"up: cluster Ready in {time.monotonic() - started:.1f} s")
    print(f"export KUBECONFIG={shlex.quote(str(paths.admin_kubeconfig))}")
    return 0


def bring_up(paths: StatePaths) -> None:
    node_ip = host.node_ip()
    paths.root.mkdir(parents=True, exist_ok=True)
    commands = argvs(paths, config.binaries(), node_ip)
    timed("certificates and configuration", write_configs, paths, node_ip)
    timed("host networking", host.prepare_network)
    timed("containerd and pause image", start_containerd, paths, commands)
    timed("etcd, apiserver, controllers", start_control_plane, paths, commands, node_ip)
    timed("kubelet Ready", start_node, paths, commands)
    timed("DNS and service accounts", wait_for_services, paths)


def stop_and_report(paths: StatePaths, name: str) -> None:
    started = time.monotonic()
    if processes.stop(paths, name):
        print(f"down: stopped {name} ({time.monotonic() - started:.1f} s)", flush=True)


def down() -> int:
    paths = config.state_paths()
    if not paths.root.exists():
        print(f"down: nothing to do ({paths.root} does not exist)")
        return 0
    # The kubelet goes first so it cannot restart the containers killed next.
    stop_and_report(paths, "kubelet")
    netns_files = host.remove_pod_containers(paths)
    for name in reversed(COMPONENTS):
        stop_and_report(paths, name)
    host.restore_network(config.binaries().k8s("kube-proxy"))
    host.remove_netns(netns_files)
    host.unmount_below(paths.root)
    host.remove_kubepods_cgroups()
    shutil.rmtree(paths.root)
    print(f"down: removed {paths.root}")
    return 0


def status() -> int:
    paths = config.state_paths()
    states = component_states(paths)
    for name, pid in states.items():
        print(f"{name:24} {'running pid ' + str(pid) if pid else 'not running'}")
    if states["kube-apiserver"]:
        try:
            nodes = kubectl(paths, "get", "nodes", "-o", "wide", check=False)
            print(nodes.stdout or nodes.stderr, end="")
        except subprocess.TimeoutExpired:
            print("kube-apiserver is not answering")
    return 0 if all(states.values()) else 3


def environment() -> dict[str, str]:
    """What clients need to reach this cluster: for `env` and for Python callers such as test fixtures."""
    paths = config.state_paths()
    return {
        "KUBECONFIG": str(paths.admin_kubeconfig),
        "TODOOPS_CONTAINERD_ADDRESS": str(paths.containerd_socket),
        "TODOOPS_KUBE_CONTEXT": config.KUBE_CONTEXT,
    }


def env_lines() -> str:
    return "\n".join(f"{name}={shlex.quote(value)}" for name, value in environment().items())
