"""The container images a kind node runs, built locally under the refs kubeadm and kind expect.

kubeadm deploys the control plane as static pods and DaemonSets with fixed
image refs (``kubeadm config images list`` prints them); the node's containerd
never pulls, so each ref must be in the node image. Every image is a static Go
binary on an otherwise empty root (``docker import`` of a one-file tar), except
kube-proxy, which needs iptables and is built on the local Debian image. Each
image carries a label naming the binary it holds, so a stale one is rebuilt.
"""
from dataclasses import dataclass
from pathlib import Path

from invoke import Context

from ..commands import pipe, probe, run
from ..errors import fail
from ..refs import image_name
from . import binaries
from .binaries import GoBuild

NODE_FILES = Path(__file__).parent / "node"
DEBIAN = "debian:bookworm-slim"
# The sandbox image of the node's containerd (node/files/etc/containerd/config.toml), from `invoke images.bases`.
PAUSE = "registry.k8s.io/pause:3.10"
LABEL = "io.todoops.built-from"
PATH_ENV = "ENV PATH=/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class Component:
    ref: str
    build: GoBuild
    binary: str
    # Where the binary lives in the image; an entrypoint when kubeadm passes args only.
    target: str = ""
    entrypoint: bool = False

    @property
    def source(self) -> str:
        """What the label records: the binary and the version it was built from."""
        return f"{self.binary}@{self.build.version}"

    @property
    def path(self) -> str:
        return self.target or f"/usr/local/bin/{self.binary}"


def kubeadm_refs(listing: str) -> list[str]:
    """The refs `kubeadm config images list` printed, one per line, except pause (containerd's is used)."""
    return [ref for ref in (line.strip() for line in listing.splitlines())
            if ref and "/pause:" not in ref]


# Images the node image ships beyond kubeadm's: storage (node/files/kind/manifests) and metrics.
ADDON_REFS = (f"docker.io/rancher/local-path-provisioner:{binaries.LOCAL_PATH_VERSION}",
              f"registry.k8s.io/metrics-server/metrics-server:{binaries.METRICS_SERVER_VERSION}")


def recipes(k8s_version: str) -> dict[str, tuple[GoBuild, str, str, bool]]:
    """Repository name -> (build, binary, target, entrypoint), as the official images lay them out."""
    kubernetes = binaries.kubernetes(k8s_version)
    builds = {build.key: build for build in binaries.node_builds(k8s_version)}
    table = {name: (kubernetes, name, "", False) for name in binaries.K8S_COMPONENTS}
    table.update({
        "etcd": (builds["etcd"], "etcd", "", False),
        "coredns": (builds["coredns"], "coredns", "/coredns", True),
        "local-path-provisioner": (builds["local-path-provisioner"], "local-path-provisioner", "", False),
        "metrics-server": (builds["metrics-server"], "metrics-server", "/metrics-server", True),
    })
    return table


def components(refs: list[str], k8s_version: str) -> list[Component]:
    """What to build for each ref kubeadm wants, then the addons."""
    table = recipes(k8s_version)
    wanted = [*refs, *ADDON_REFS]
    unknown = sorted({image_name(ref) for ref in wanted} - set(table))
    if unknown:
        fail(f"kubeadm asks for images this suite cannot build: {', '.join(unknown)}",
             "pick a kubernetes_version whose control plane matches todoops/cluster/components.py, "
             "or set cluster.node_image to a prebuilt node image")
    return [Component(ref, *table[image_name(ref)]) for ref in wanted]


def current(c: Context, component: Component) -> bool:
    """The image exists and holds the binary this build wants."""
    label = probe(c, ["docker", "image", "inspect", "--format", f'{{{{index .Config.Labels "{LABEL}"}}}}',
                      component.ref])
    return label.ok and label.stdout.strip() == component.source


def import_changes(component: Component) -> list[str]:
    changes = ["--change", PATH_ENV, "--change", f"LABEL {LABEL}={component.source}"]
    if component.entrypoint:
        changes += ["--change", f'ENTRYPOINT ["{component.path}"]']
    return changes


def build_scratch(c: Context, component: Component, cache: Path, work: Path, dry_run: bool) -> None:
    """A root holding only the binary, imported as the image."""
    rootfs = work / image_name(component.ref)
    target = rootfs / component.path.lstrip("/")
    for argv in (["rm", "-rf", str(rootfs)], ["mkdir", "-p", str(target.parent)],
                 ["cp", str(component.build.folder(cache) / component.binary), str(target)]):
        run(c, argv, mutates=True, dry_run=dry_run)
    run(c, pipe(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."],
                ["docker", "import", *import_changes(component), "-", component.ref]),
        mutates=True, dry_run=dry_run, hide=True)


def build_kube_proxy(c: Context, component: Component, cache: Path, work: Path, dry_run: bool) -> None:
    context = work / "kube-proxy"
    for argv in (["rm", "-rf", str(context)], ["mkdir", "-p", str(context)],
                 ["cp", str(NODE_FILES / "kube-proxy.Dockerfile"), f"{context}/Dockerfile"],
                 ["cp", str(NODE_FILES / "iptables-wrapper"), str(context)],
                 ["cp", str(component.build.folder(cache) / "kube-proxy"), str(context)]):
        run(c, argv, mutates=True, dry_run=dry_run)
    # apt needs the host's network; the legacy builder needs nothing from a registry.
    run(c, ["env", "DOCKER_BUILDKIT=0", "docker", "build", "--force-rm", "-q", "--network", "host",
            "--build-arg", f"BASE={DEBIAN}", "--label", f"{LABEL}={component.source}",
            "-t", component.ref, str(context)], mutates=True, dry_run=dry_run)


def build(c: Context, component: Component, cache: Path, work: Path, dry_run: bool) -> None:
    builder = build_kube_proxy if component.binary == "kube-proxy" else build_scratch
    builder(c, component, cache, work, dry_run)
