"""The Go binaries a kind node needs, built from Go modules and cached by version.

No release binary can be downloaded on our machines, but the Go module proxy
works. Kubernetes and etcd cannot be `go install`ed because their go.mod files
replace sibling modules with local paths, so every binary is built from a small
generated "wrapper" module that requires the upstream module and points those
siblings at their published versions (for modules without such replaces the
wrapper is just a plain `require`). Only missing binaries are built, one heavy
`go build` at a time, each with its duration. Layout:
``<cache>/<key>/<version>/<binary>``, the wrapper beside it in ``<version>.src``.
"""
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from invoke import Context

from ..commands import run
from ..report import Report

WRAPPER_MODULE = "todoops.local/go-build"
# Static, reproducible builds with the Go already installed (never a downloaded toolchain).
GO = ("env", "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "go")
K8S_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy",
                  "kubeadm", "kubectl")
# kubeadm 1.34 derives etcd's flags from the etcd image tag: 3.5.x breaks `kubeadm init`.
ETCD_VERSION = "v3.6.5"
# The CoreDNS tag kubeadm 1.34 asks for (`kubeadm config images list`).
COREDNS_VERSION = "v1.12.1"
CRICTL_VERSION = "v1.34.0"
LOCAL_PATH_VERSION = "v0.0.30"
METRICS_SERVER_VERSION = "v0.9.0"
STRIP = "-s -w"


@dataclass(frozen=True)
class GoBuild:
    """One `go build` of ``packages`` from ``module@version`` into ``<cache>/<key>/<version>/``."""

    key: str
    module: str
    version: str
    packages: tuple[str, ...]
    # Binary names; a single package is written under outputs[0] (go would name etcd "v3").
    outputs: tuple[str, ...]
    # ldflags from the module's release time (Kubernetes stamps it as its build date).
    ldflags: Callable[[str], str] = lambda released: STRIP
    tags: str = ""
    # Version given to siblings that upstream requires as a v0.0.0 placeholder.
    unpinned: str = ""

    def folder(self, cache: Path) -> Path:
        return cache / self.key / self.version

    def paths(self, cache: Path) -> list[Path]:
        return [self.folder(cache) / name for name in self.outputs]

    def label(self) -> str:
        return f"{self.key} {self.version}"


def parse_go_mod(text: str) -> dict:
    """The parts of an upstream go.mod a wrapper needs: go version, godebug lines, requires, local replaces."""
    parsed = {"go": None, "godebug": [], "require": {}, "local_replace": []}
    block = None
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if line == ")":
            block = None
            continue
        keyword_open = re.fullmatch(r"(require|replace|godebug|exclude|retract|tool) \(", line)
        if keyword_open:
            block = keyword_open.group(1)
            continue
        keyword, _, rest = line.partition(" ")
        if block is None and keyword in ("require", "replace", "godebug"):
            block_for_line, line = keyword, rest
        else:
            block_for_line = block
        if block is None and keyword == "go":
            parsed["go"] = rest
        elif block_for_line == "godebug":
            parsed["godebug"].append(line)
        elif block_for_line == "require":
            module, version = line.split()[:2]
            parsed["require"][module] = version
        elif block_for_line == "replace":
            source, target = (side.split() for side in line.split("=>"))
            if target[0].startswith("."):
                parsed["local_replace"].append(source[0])
    return parsed


def wrapper_go_mod(module: str, version: str, upstream: dict, unpinned_version: str) -> str:
    """go.mod requiring `module@version`; siblings it replaced locally point at published versions.

    A sibling upstream requires at a real version needs nothing (the require
    pins it once the local replace is gone); a placeholder v0.0.0 requirement
    is replaced by `unpinned_version`; a replaced module nobody requires
    (etcd's FORBIDDEN_DEPENDENCY guards) is dropped.
    """
    lines = [f"module {WRAPPER_MODULE}", "", f"go {upstream['go']}", ""]
    lines += [f"godebug {setting}" for setting in upstream["godebug"]]
    lines += [f"require {module} {version}", ""]
    placeholders = [sibling for sibling in upstream["local_replace"]
                    if upstream["require"].get(sibling) == "v0.0.0"]
    if placeholders:
        lines.append("replace (")
        lines += [f"\t{sibling} => {sibling} {unpinned_version}" for sibling in placeholders]
        lines.append(")")
    return "\n".join(lines) + "\n"


def staging_version(k8s_version: str) -> str:
    """Kubernetes v1.M.P publishes its staging modules as v0.M.P."""
    return "v0." + k8s_version.removeprefix("v1.")


def k8s_ldflags(version: str, build_date: str) -> str:
    """Stamp the release version, or every binary reports v0.0.0-master (breaks helm kubeVersion checks)."""
    major, minor = version.removeprefix("v").split(".")[:2]
    values = {"gitVersion": version, "gitMajor": major, "gitMinor": minor, "gitTreeState": "clean",
              "buildDate": build_date}
    flags = [STRIP]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.{name}={value}" for name, value in values.items()]
    return " ".join(flags)


def kubernetes(version: str, components: tuple[str, ...] = K8S_COMPONENTS) -> GoBuild:
    # One invocation for all components, so the packages they share compile once.
    return GoBuild("k8s", "k8s.io/kubernetes", version,
                   tuple(f"k8s.io/kubernetes/cmd/{name}" for name in components), components,
                   ldflags=lambda released: k8s_ldflags(version, released), tags="selinux,notest",
                   unpinned=staging_version(version))


def etcd(version: str = ETCD_VERSION) -> GoBuild:
    module = "go.etcd.io/etcd/server/v3"
    return GoBuild("etcd", module, version, (module,), ("etcd",), unpinned=version,
                   ldflags=lambda _: f"{STRIP} -X go.etcd.io/etcd/api/v3/version.GitSHA={version}")


def coredns(version: str = COREDNS_VERSION) -> GoBuild:
    module = "github.com/coredns/coredns"
    return GoBuild("coredns", module, version, (module,), ("coredns",))


def node_builds(k8s_version: str) -> tuple[GoBuild, ...]:
    """Everything the locally built kind node image needs, cheap ones first."""
    return (
        etcd(),
        coredns(),
        GoBuild("crictl", "sigs.k8s.io/cri-tools", CRICTL_VERSION, ("sigs.k8s.io/cri-tools/cmd/crictl",),
                ("crictl",), ldflags=lambda _: f"{STRIP} -X sigs.k8s.io/cri-tools/pkg/version.Version="
                                               f"{CRICTL_VERSION.removeprefix('v')}"),
        GoBuild("local-path-provisioner", "github.com/rancher/local-path-provisioner", LOCAL_PATH_VERSION,
                ("github.com/rancher/local-path-provisioner",), ("local-path-provisioner",),
                ldflags=lambda _: f"{STRIP} -X main.VERSION={LOCAL_PATH_VERSION}"),
        GoBuild("metrics-server", "sigs.k8s.io/metrics-server", METRICS_SERVER_VERSION,
                ("sigs.k8s.io/metrics-server/cmd/metrics-server",), ("metrics-server",),
                ldflags=lambda _: f"{STRIP} -X k8s.io/client-go/pkg/version.gitVersion={METRICS_SERVER_VERSION}"),
        kubernetes(k8s_version),
    )


def missing(paths: list[Path]) -> bool:
    return not all(path.is_file() and os.access(path, os.X_OK) for path in paths)


def build_argv(build: GoBuild, cache: Path, released: str) -> list[str]:
    out = f"{build.folder(cache)}/" if len(build.packages) > 1 else str(build.paths(cache)[0])
    tags = ["-tags", build.tags] if build.tags else []
    return [*GO, "-C", str(cache / build.key / f"{build.version}.src"), "build", "-trimpath", *tags,
            "-ldflags", build.ldflags(released), "-o", out, *build.packages]


def build_one(c: Context, build: GoBuild, cache: Path, dry_run: bool) -> None:
    """Fetch the module, write its wrapper go.mod, build. A dry run prints the two commands only."""
    download = [*GO, "mod", "download", "-json", f"{build.module}@{build.version}"]
    if dry_run:
        run(c, download, mutates=True, dry_run=True)
        run(c, build_argv(build, cache, "<release time>"), mutates=True, dry_run=True)
        return
    info = json.loads(run(c, download, hide=True).stdout)
    upstream = parse_go_mod(Path(info["GoMod"]).read_text())
    released = json.loads(Path(info["Info"]).read_text()).get("Time", "1970-01-01T00:00:00Z")
    source = cache / build.key / f"{build.version}.src"
    source.mkdir(parents=True, exist_ok=True)
    (source / "go.mod").write_text(wrapper_go_mod(build.module, build.version, upstream, build.unpinned))
    run(c, build_argv(build, cache, released), mutates=True)


def build_missing(c: Context, builds: tuple[GoBuild, ...], cache: Path, report: Report,
                  dry_run: bool = False) -> dict[str, float]:
    """Build whatever is missing; returns seconds per build."""
    timings = {}
    for build in builds:
        if not missing(build.paths(cache)):
            report.line("ok", f"{build.label()}: cached in {build.folder(cache)}")
            continue
        started = time.monotonic()
        with report.step(f"go build {build.label()}"):
            build_one(c, build, cache, dry_run)
        timings[build.label()] = time.monotonic() - started
    return timings
