"""`invoke images.build` / `images.load`: content-addressed images, built in parallel, loaded once.

Assumptions: each image is built under a content tag, the hash of its build
context as docker sees it (the files ``.dockerignore`` lets in, plus the
Dockerfile and .dockerignore): an unchanged context means an existing tag and no
build. What the cluster gets is the run tag, ``<content tag>-<image id>``: the
same sources built again (``--force``, ``--no-cache``, after rebuilding the base
images) give another image ID, hence another run tag that the cluster lacks, so
it is loaded and rolled out; the same image always has the same run tag, so a
re-run loads and restarts nothing. Both are decided from what docker and the
cluster hold, never from what one run did, so an interrupted deploy is finished
by the next. Base images are not part of the content hash: pass ``--force`` after
rebuilding them. The docker CLI on PATH may lack buildx: it is detected, and
builds fall back to the legacy builder.
"""
import hashlib
import os
import re
import stat
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn

from invoke import Context, Result, task

from . import loaded
from .commands import probe, run
from .config import ImageSpec, Settings, context_help, resolve
from .dockerignore import sent_files
from .errors import ExitCode, fail
from .preflight import require_cluster, target
from .processes import Together, side_by_side
from .providers import cluster_has, cluster_repository, docker_env, image_stores, load
from .report import Report, as_done

TAG_LENGTH = 12
# Lines of a failed build's output repeated in its error (the output itself scrolled far above).
BUILD_TAIL = 12
BASE_MISSING = re.compile(r"pull access denied|manifest unknown|manifest for \S+ not found|repository does not exist|"
                          r"No such image|failed to resolve source metadata", re.IGNORECASE)
NETWORK_DOWN = re.compile(r"Temporary failure resolving|Could not resolve|i/o timeout|connection refused|"
                          r"TLS handshake timeout|network is unreachable|Failed to fetch|no such host", re.IGNORECASE)


@dataclass(frozen=True)
class BuiltImage:
    name: str
    repository: str
    # The content tag (what the build is looked up by).
    tag: str
    # Where pods find the repository: the local one, or its copy in the registry.
    cluster_repository: str
    # Docker's ID of the image at the content tag ("" until it is built).
    image_id: str = ""
    size: int = 0
    # False when the tag already existed and nothing was built.
    built: bool = False
    seconds: float = 0.0
    # registry provider: ``<cluster repository>@sha256:...``, what docker recorded when it pushed the image.
    pushed_digests: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def run_tag(self) -> str:
        """``<content tag>-<image id>``: another build of the same sources is another tag (content tag until built)."""
        image = self.image_id.removeprefix("sha256:")[:TAG_LENGTH]
        return f"{self.tag}-{image}" if image else self.tag

    @property
    def local_ref(self) -> str:
        """The local ref the cluster's copy is made from."""
        return f"{self.repository}:{self.run_tag}"

    @property
    def cluster_ref(self) -> str:
        """What pods run."""
        return f"{self.cluster_repository}:{self.run_tag}"


def content_tag(context: Path) -> str:
    """The first hex digits of a hash over every sent file's path, executable bit and content."""
    digest = hashlib.sha256()
    for relative in sent_files(context):
        path = context / relative
        info = path.lstat()
        body = os.readlink(path).encode() if stat.S_ISLNK(info.st_mode) else path.read_bytes()
        digest.update(f"{relative}\0{info.st_mode & 0o111:o}\0{len(body)}\0".encode())
        digest.update(body)
    return digest.hexdigest()[:TAG_LENGTH]


def docker(env: Sequence[str], *args: str) -> list[str]:
    return ["env", *env, "docker", *args] if env else ["docker", *args]


def planned(cfg: Settings, spec: ImageSpec) -> BuiltImage:
    if not (spec.context / "Dockerfile").is_file():
        fail(f"{spec.context}/Dockerfile does not exist", f"add the Dockerfile of the {spec.name} image",
             ExitCode.PREFLIGHT)
    return BuiltImage(spec.name, spec.repository, content_tag(spec.context),
                      cluster_repository(cfg, spec.repository))


def planned_images(cfg: Settings) -> list[BuiltImage]:
    """The images this source tree should run, without building anything."""
    return [planned(cfg, spec) for spec in cfg.images]


def inspected(c: Context, env: Sequence[str], image: BuiltImage) -> BuiltImage | None:
    """``image`` with its id and size when the daemon has it, else None."""
    result = probe(c, docker(env, "image", "inspect", "--format", "{{.Id}} {{.Size}}", image.ref))
    if not result.ok:
        return None
    image_id, _, size = result.stdout.strip().partition(" ")
    return replace(image, image_id=image_id, size=int(size) if size.isdigit() else 0)


def local_images(c: Context, cfg: Settings) -> list[BuiltImage]:
    """The images this source tree should run, as docker has them; stops when one is not built."""
    env = docker_env(c, cfg)
    found = [(image, inspected(c, env, image)) for image in planned_images(cfg)]
    missing = [image.ref for image, done in found if done is None]
    if missing:
        fail(f"{', '.join(missing)} not built", "build them first: invoke images.build (or run invoke deploy)",
             ExitCode.PREFLIGHT)
    return [done for _, done in found]


def with_run_tag(c: Context, cfg: Settings, env: Sequence[str], image: BuiltImage) -> BuiltImage:
    """Make sure docker has ``image`` under its run tag too (idempotent: nothing to do when it has)."""
    if image.local_ref == image.ref:
        return image
    tagged = probe(c, docker(env, "image", "inspect", "--format", "{{.Id}}", image.local_ref))
    if tagged.stdout.strip() != image.image_id:
        run(c, docker(env, "tag", image.ref, image.local_ref), mutates=True, dry_run=cfg.dry_run)
    return image


def build_argv(env: Sequence[str], spec: ImageSpec, image: BuiltImage, buildkit: bool, no_cache: bool) -> list[str]:
    return ["env", *env, f"DOCKER_BUILDKIT={int(buildkit)}", "docker", "build", "--force-rm",
            *(["--progress", "plain"] if buildkit else []), *(["--no-cache"] if no_cache else []),
            "-t", image.ref, "-f", str(spec.context / "Dockerfile"), str(spec.context)]


def build_one(c: Context, cfg: Settings, env: Sequence[str], spec: ImageSpec, image: BuiltImage,
              buildkit: bool, no_cache: bool, together: Together) -> BuiltImage:
    started = time.monotonic()
    prefix = f"[{spec.name}] " if cfg.build_jobs > 1 else ""
    result = run(c, build_argv(env, spec, image, buildkit, no_cache), mutates=True, dry_run=cfg.dry_run,
                 prefix=prefix, warn=True, together=together)
    if result.failed:
        build_failed(spec, image, result)
    seconds = time.monotonic() - started
    if cfg.dry_run:
        return replace(image, built=True)
    done = inspected(c, env, image)
    if done is None:
        fail(f"docker build reported success but {image.ref} is missing", "run `docker image ls` and retry")
    return replace(done, built=True, seconds=seconds)


def build_side_by_side(c: Context, cfg: Settings, env: Sequence[str], todo: Sequence[tuple[ImageSpec, BuiltImage]],
                       no_cache: bool) -> list[BuiltImage]:
    """Build ``todo`` ``build_jobs`` at a time; Ctrl-C or a failed build stops every build still running."""
    buildkit = probe(c, docker(env, "buildx", "version")).ok
    try:
        # side_by_side leaves first, so its builds are stopped before the pool waits for its threads.
        with ThreadPoolExecutor(max_workers=min(cfg.build_jobs, len(todo))) as pool, side_by_side(c) as together:
            jobs = [pool.submit(build_one, c, cfg, env, spec, image, buildkit, no_cache, together)
                    for spec, image in todo]
            return [job.result() for job in jobs]
    except KeyboardInterrupt:
        fail(f"interrupted: stopped the build of {', '.join(image.ref for _, image in todo)}; no docker build "
             "is left running", "nothing was loaded or deployed; run it again to finish (finished images are kept)",
             ExitCode.INTERRUPTED)


def build_failed(spec: ImageSpec, image: BuiltImage, result: Result) -> NoReturn:
    """Stop with the failing image, the last lines of its build output and what usually causes them."""
    said = [text for text in (result.stdout + "\n" + result.stderr).splitlines() if text.strip()]
    fail(f"docker build of {image.ref} ({spec.name}) failed with exit code {result.exited}; its last lines:\n"
         + "\n".join(f"  {text}" for text in said[-BUILD_TAIL:]),
         build_hint("\n".join(said), spec.context / "Dockerfile"))


def build_hint(output: str, dockerfile: Path) -> str:
    """What to do about a failed build, from what it printed."""
    if BASE_MISSING.search(output):
        return ("a base image (FROM) is missing: build the local stand-ins with `invoke images.bases`, or check the "
                "image name and that docker can pull it (`docker login`)")
    if NETWORK_DOWN.search(output):
        return ("the build could not reach the network (registry or package mirror): check the proxy, mirror and DNS "
                "settings of docker, then run it again")
    return f"a step of {dockerfile} failed (see the lines above): fix it or the files it copies, then run it again"


def build(c: Context, cfg: Settings, report: Report, force: bool = False, no_cache: bool = False) -> list[BuiltImage]:
    """Every image at its content tag: existing tags are kept, the rest built side by side."""
    env = docker_env(c, cfg)
    images = planned_images(cfg)
    found = {image.name: None if force or no_cache else inspected(c, env, image) for image in images}
    todo = [(spec, image) for spec, image in zip(cfg.images, images) if found[image.name] is None]
    if todo:
        found.update((done.name, done) for done in build_side_by_side(c, cfg, env, todo, no_cache))
    result = [with_run_tag(c, cfg, env, found[image.name]) for image in images]
    for image in result:
        what = as_done(cfg.dry_run, "built") + ("" if cfg.dry_run else f" in {image.seconds:.0f}s") if image.built \
            else "unchanged, not rebuilt"
        runs = f", runs as {image.cluster_ref}" if image.image_id else ""
        report.line("ok", f"{image.ref}: {what}, {image.size / 1e6:.0f} MB{runs}")
    return result


def load_images(c: Context, cfg: Settings, report: Report, images: Sequence[BuiltImage],
                external: Sequence[str] = ()) -> None:
    """Bring into the cluster the images it lacks, then check it has them all.

    ``external`` images (e.g. postgres) are copied too when this docker has them:
    a cluster without registry access could not pull them. A registry cluster pulls.
    """
    refs = [(image.local_ref, image.cluster_ref) for image in images]
    if cfg.provider != "registry":
        refs += [(ref, ref) for ref in external]
    stores = image_stores(c, cfg)
    have = cluster_has(c, cfg, refs, stores)
    missing = [(ref, remote) for ref, remote in refs
               if ref not in have and (ref not in external or probe(c, ["docker", "image", "inspect", ref]).ok)]
    for ref, remote in missing:
        started = time.monotonic()
        load(c, cfg, ref, remote, stores)
        took = "" if cfg.dry_run else f" in {time.monotonic() - started:.0f}s"
        report.line("ok", f"{remote}: {as_done(cfg.dry_run, 'loaded into the cluster')}{took}")
    report.line("ok", f"{len(have)} image(s) already in the cluster, not loaded")
    if missing and not cfg.dry_run:
        arrived = cluster_has(c, cfg, missing, stores)
        loaded.record(cfg, [remote for ref, remote in missing if ref in arrived])
        still = [ref for ref, _ in missing if ref not in arrived]
        if still:
            fail(f"the cluster still lacks {', '.join(still)} after loading",
                 f"check the {cfg.provider} provider's settings (context, containerd address, registry)")


FLAG_HELP = {
    "force": "Build even when an image with the content tag exists.",
    "no_cache": "Build without docker's layer cache (implies --force).",
    "build_in_cluster": "minikube: build straight into minikube's docker daemon (no copy); "
                        "--build-in-cluster=false turns a configured true off.",
    "dry_run": "Print the commands without running them.",
}


# A value is optional: alone it means true, =false overrides a configured true.
@task(name="build", help=FLAG_HELP, optional=["build_in_cluster"])
def build_images(c, force=False, no_cache=False, build_in_cluster=None, dry_run=False):
    """Build the backend and frontend images under content-addressed tags (skips unchanged ones)."""
    cfg = resolve(c, dry_run=dry_run, build_in_cluster=build_in_cluster)
    # Building into minikube needs to know it is minikube (and which profile) without a cluster guard.
    build(c, target(c, cfg) if cfg.build_in_cluster else cfg, Report(), force=force, no_cache=no_cache)


@task(name="load", help={**FLAG_HELP, "context": context_help("load into")},
      optional=["build_in_cluster"])
def load_images_task(c, force=False, no_cache=False, build_in_cluster=None, dry_run=False, context=None):
    """Build what is missing, then bring the images into the cluster (skips what it already has)."""
    cfg = resolve(c, dry_run=dry_run, build_in_cluster=build_in_cluster, context=context,
                  context_explicit=bool(context))
    cfg = require_cluster(c, cfg)
    report = Report()
    load_images(c, cfg, report, build(c, cfg, report, force=force, no_cache=no_cache))
