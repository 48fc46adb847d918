"""Build the cluster's binaries from Go modules and cache them by version.

No release binary can be downloaded on our machines, but the Go module proxy
works. Kubernetes and etcd cannot be `go install`ed directly because their
go.mod files replace sibling modules with local paths, so each is built from
a small generated "wrapper" module that requires the upstream module and
points those siblings at their published versions. Only missing binaries are
built; each phase prints its duration.
"""

import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from . import config

WRAPPER_MODULE = "todoops.local/e2e-build"


def go_env() -> dict[str, str]:
    """Static, reproducible builds with the Go already installed (never a downloaded toolchain)."""
    return {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}


def run_go(argv: list[str], cwd: Path | None = None) -> str:
    completed = subprocess.run(
        argv, cwd=cwd, env=go_env(), check=True, text=True, stdout=subprocess.PIPE
    )
    return completed.stdout


def download_module(module: str, version: str) -> dict:
    """Fetch a module through the proxy; returns `go mod download -json` (with GoMod, the go.mod path)."""
    return json.loads(run_go(["go", "mod", "download", "-json", f"{module}@{version}"]))


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


def staging_version(k8s_version: str) -> str:
    """Kubernetes v1.M.P publishes its staging modules as v0.M.P."""
    return "v0." + k8s_version.removeprefix("v1.")


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
    placeholders = [
        sibling
        for sibling in upstream["local_replace"]
        if upstream["require"].get(sibling) == "v0.0.0"
    ]
    if placeholders:
        lines.append("replace (")
        lines += [f"\t{sibling} => {sibling} {unpinned_version}" for sibling in placeholders]
        lines.append(")")
    return "\n".join(lines) + "\n"


def prepare_wrapper(workdir: Path, module: str, version: str, unpinned_version: str) -> Path:
    info = download_module(module, version)
    upstream = parse_go_mod(Path(info["GoMod"]).read_text())
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "go.mod").write_text(wrapper_go_mod(module, version, upstream, unpinned_version))
    return workdir


def k8s_ldflags(version: str, build_date: str) -> str:
    """Stamp the release version, or every binary reports v0.0.0-master (breaks helm kubeVersion checks)."""
    major, minor = version.removeprefix("v").split(".")[:2]
    values = {
        "gitVersion": version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": build_date,
    }
    flags = ["-s", "-w"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.{name}={value}" for name, value in values.items()]
    return " ".join(flags)


def build_kubernetes(cache: Path, version: str) -> None:
    out_dir = cache / "k8s" / version
    workdir = prepare_wrapper(cache / "k8s" / f"{version}.src", "k8s.io/kubernetes", version, staging_version(version))
    build_date = module_time("k8s.io/kubernetes", version)
    packages = [f"k8s.io/kubernetes/cmd/{component}" for component in config.K8S_COMPONENTS]
    # One invocation so packages shared by all components compile once.
    run_go(
        ["go", "build", "-trimpath", "-tags", "selinux,notest",
         "-ldflags", k8s_ldflags(version, build_date), "-o", f"{out_dir}/", *packages],
        cwd=workdir,
    )


def module_time(module: str, version: str) -> str:
    """Release time of a module version, from the proxy's .info (used as a reproducible build date)."""
    info = json.loads(run_go(["go", "list", "-m", "-json", f"{module}@{version}"]))
    return info.get("Time", "1970-01-01T00:00:00Z")


def build_etcd(cache: Path, version: str) -> None:
    out_dir = cache / "etcd" / version
    module = "go.etcd.io/etcd/server/v3"
    workdir = prepare_wrapper(cache / "etcd" / f"{version}.src", module, version, version)
    ldflags = f"-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA={version}"
    # The main package is the module root, so go would name the binary "v3": name it.
    run_go(["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(out_dir / "etcd"), module], cwd=workdir)


def build_coredns(cache: Path, version: str) -> None:
    out_dir = cache / "coredns" / version
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["go", "install", "-trimpath", "-ldflags", "-s -w", f"github.com/coredns/coredns@{version}"],
        env={**go_env(), "GOBIN": str(out_dir), "GOFLAGS": ""},
        check=True,
    )


def missing(paths: list[Path]) -> bool:
    return not all(path.is_file() and os.access(path, os.X_OK) for path in paths)


def phases(cache: Path) -> list[tuple[str, list[Path], Callable[[], None]]]:
    """(name, outputs, build) in the order they run; the cheap ones first so a cluster layer can start early."""
    bins = config.binaries(cache)
    return [
        (f"etcd {config.ETCD_VERSION}", [bins.etcd], lambda: build_etcd(cache, config.ETCD_VERSION)),
        (f"coredns {config.COREDNS_VERSION}", [bins.coredns], lambda: build_coredns(cache, config.COREDNS_VERSION)),
        (
            f"kubernetes {config.K8S_VERSION}",
            [bins.k8s(component) for component in config.K8S_COMPONENTS],
            lambda: build_kubernetes(cache, config.K8S_VERSION),
        ),
    ]


def build_all(cache: Path | None = None) -> dict[str, float]:
    """Build whatever is missing, one heavy `go build` at a time; returns seconds per phase."""
    cache = cache or config.cache_root()
    timings = {}
    for name, outputs, build in phases(cache):
        if not missing(outputs):
            print(f"build: {name}: cached in {outputs[0].parent}", flush=True)
            continue
        print(f"build: {name}: building ...", flush=True)
        started = time.monotonic()
        build()
        timings[name] = time.monotonic() - started
        print(f"build: {name}: done in {timings[name]:.0f} s", flush=True)
    helm = config.binaries(cache).helm
    if missing([helm]):
        print(f"build: helm {config.HELM_VERSION} not found at {helm} (built by the images/tools step, not here)")
    return timings
