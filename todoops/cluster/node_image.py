"""`invoke cluster.image`: a kind node image built here, for machines no registry serves.

Three layers, each cached: the Go binaries (by version, see binaries.py), a
node base from Debian packages (``todoops/kind-node-base:<hash>``) and the node
image itself (``todoops/kind-node:<k8s version>-<hash>``): the base plus
kubeadm, kubelet, kubectl and crictl, ``/kind/version`` and every component
image pre-imported into the node's containerd, then ``docker commit``. The hash
covers every input (versions, the files under node/, the local Debian and
pause images), so an image is rebuilt exactly when one of them changes.
"""
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from invoke import Context

from ..bases import docker_problems
from ..commands import pipe, probe, run
from ..config import Settings
from ..errors import ExitCode, fail
from ..report import Report
from ..tools import KIND_VERSION
from . import binaries, components
from .components import DEBIAN, NODE_FILES, PAUSE, Component

BASE_REPOSITORY = "todoops/kind-node-base"
NODE_REPOSITORY = "todoops/kind-node"
# Marks our images: kind gets no default CNI and `cluster.up` writes its own (see network.py).
CNI_LABEL = "io.todoops.cni"
NODE_BINARIES = ("kubeadm", "kubelet", "kubectl")
ENTRYPOINT = '["/usr/local/bin/entrypoint", "/sbin/init"]'
# containerd is up when its socket answers; bounded so a broken image fails, not hangs.
WAIT_FOR_CONTAINERD = "for i in $(seq 100); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.2; done; exit 1"


@dataclass(frozen=True)
class NodeImage:
    base: str
    tag: str


def file_digest(root: Path) -> str:
    """Paths, modes and contents of every file under ``root``, as one hash."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(root)}\0{path.stat().st_mode & 0o777:o}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def input_hash(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def versions(k8s_version: str) -> str:
    """Every pinned version that ends up in the node image."""
    pins = {"kubernetes": k8s_version, "kind": KIND_VERSION}
    pins.update({build.key: build.version for build in binaries.node_builds(k8s_version)})
    return json.dumps(pins, sort_keys=True)


def image_id(c: Context, ref: str) -> str:
    found = probe(c, ["docker", "image", "inspect", "--format", "{{.Id}}", ref])
    return found.stdout.strip() if found.ok else ""


def plan(c: Context, k8s_version: str) -> NodeImage:
    """The two tags this machine's inputs give; fails when the local base images are missing."""
    ids = {ref: image_id(c, ref) for ref in (DEBIAN, PAUSE)}
    absent = [ref for ref, found in ids.items() if not found]
    if absent:
        fail(f"local base image(s) missing: {', '.join(absent)}",
             "build them first: `invoke images.bases` (no registry is needed)", ExitCode.PREFLIGHT)
    base = input_hash(file_digest(NODE_FILES), ids[DEBIAN])
    return NodeImage(f"{BASE_REPOSITORY}:{base}",
                     f"{NODE_REPOSITORY}:{k8s_version}-{input_hash(base, ids[PAUSE], versions(k8s_version))}")


def build_base(c: Context, tag: str, dry_run: bool) -> None:
    run(c, ["env", "DOCKER_BUILDKIT=0", "docker", "build", "--force-rm", "-q", "--network", "host",
            "--build-arg", f"BASE={DEBIAN}", "-f", str(NODE_FILES / "base.Dockerfile"), "-t", tag,
            str(NODE_FILES)], mutates=True, dry_run=dry_run)


def wanted_components(c: Context, cache: Path, k8s_version: str) -> list[Component]:
    """The refs kubeadm asks for, read from the kubeadm just built (the source of truth).

    Empty only in a dry run before kubeadm is built: the listing is read-only, so
    a dry run with kubeadm present shows the real plan.
    """
    kubeadm = binaries.kubernetes(k8s_version).folder(cache) / "kubeadm"
    if binaries.missing([kubeadm]):
        return []
    listing = run(c, [str(kubeadm), "config", "images", "list", "--kubernetes-version", k8s_version], hide=True)
    return components.components(components.kubeadm_refs(listing.stdout), k8s_version)


def assemble(c: Context, image: NodeImage, parts: list[Component], cache: Path, k8s_version: str,
             dry_run: bool) -> None:
    """Binaries and pre-imported images on top of the base, committed as the node image."""
    box = f"todoops-node-build-{image.tag.rsplit('-', 1)[-1]}"
    k8s = binaries.kubernetes(k8s_version).folder(cache)
    crictl = next(b for b in binaries.node_builds(k8s_version) if b.key == "crictl").paths(cache)[0]
    copies = [(k8s / name, f"/usr/bin/{name}") for name in NODE_BINARIES] + [(crictl, "/usr/bin/crictl")]
    refs = [part.ref for part in parts] + [PAUSE, DEBIAN]
    mutate = dict(mutates=True, dry_run=dry_run)
    run(c, ["docker", "rm", "-f", box], hide=True, warn=True, **mutate)
    # containerd as the container's only process: the import needs it, and a
    # TERM stops it cleanly before the commit.
    run(c, ["docker", "create", "--name", box, "--entrypoint", "containerd", image.base], hide=True, **mutate)
    try:
        for source, target in copies:
            run(c, ["docker", "cp", str(source), f"{box}:{target}"], **mutate)
        run(c, ["docker", "start", box], hide=True, **mutate)
        run(c, ["docker", "exec", "-i", box, "tee", "/kind/version"], stdin=k8s_version, hide=True, **mutate)
        run(c, ["docker", "exec", box, "sh", "-c", WAIT_FOR_CONTAINERD], **mutate)
        # Unpacked on first use; kind's kubelet config never garbage-collects images.
        run(c, pipe(["docker", "save", *refs],
                    ["docker", "exec", "-i", box, "ctr", "-n", "k8s.io", "images", "import", "--no-unpack",
                     "--digests", "-"]), **mutate)
        run(c, ["docker", "kill", "--signal", "TERM", box], hide=True, **mutate)
        run(c, ["docker", "wait", box], hide=True, **mutate)
        run(c, ["docker", "commit", "--change", f"ENTRYPOINT {ENTRYPOINT}", "--change", "CMD []",
                "--change", f"LABEL {CNI_LABEL}=bridge", box, image.tag], hide=True, **mutate)
    finally:
        run(c, ["docker", "rm", "-f", box], hide=True, warn=True, **mutate)


def image_size(c: Context, ref: str) -> str:
    size = probe(c, ["docker", "image", "inspect", "--format", "{{.Size}}", ref])
    return f"{int(size.stdout) / 1e6:.0f} MB" if size.ok and size.stdout.strip().isdigit() else "?"


def build_node_image(c: Context, cfg: Settings, report: Report, rebuild: bool = False) -> str:
    """The node image's tag, built (with whatever it lacks) unless it is present and current."""
    problems = docker_problems(c)
    if problems:
        fail("; ".join(problems), "nothing was changed; fix the above and re-run", ExitCode.PREFLIGHT)
    version, cache = cfg.cluster.kubernetes_version, cfg.cache_dir
    image = plan(c, version)
    if not rebuild and image_id(c, image.tag):
        report.line("ok", f"{image.tag} present, kept ({image_size(c, image.tag)})")
        return image.tag
    binaries.build_missing(c, binaries.node_builds(version), cache, report, cfg.dry_run)
    if rebuild or not image_id(c, image.base):
        with report.step(f"node base {image.base}"):
            build_base(c, image.base, cfg.dry_run)
    parts = wanted_components(c, cache, version)
    with report.step(f"component images ({len(parts)})"):
        for part in parts:
            if rebuild or not components.current(c, part):
                components.build(c, part, cache, cache / "cluster" / "images", cfg.dry_run)
    started = time.monotonic()
    with report.step(f"node image {image.tag}"):
        assemble(c, image, parts, cache, version, cfg.dry_run)
    if not cfg.dry_run:
        report.line("info", f"{image.tag}: {time.monotonic() - started:.0f} s, {image_size(c, image.tag)}")
    return image.tag
