"""The resolved settings of one task run: frozen dataclasses, one field per key of the schema.

Paths are absolute (relative ones taken from the project root); ``context`` and
``provider`` may still be empty: todoops.preflight settles them through the
Context, on the machine that runs the commands. The fields after ``ssh`` are
not settings but what a task's own flags add.
"""
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImageSpec:
    name: str
    repository: str
    context: Path


@dataclass(frozen=True)
class BaseSettings:
    mirror: str
    security_mirror: str
    ca_certs: tuple[Path, ...]


@dataclass(frozen=True)
class ContainerdSettings:
    address: str
    namespace: str


@dataclass(frozen=True)
class ClusterSettings:
    name: str
    nodes: int
    kubernetes_version: str
    node_image: str

    @property
    def context(self) -> str:
        """kind names the kube context of cluster NAME ``kind-NAME``."""
        return f"kind-{self.name}"


@dataclass(frozen=True)
class SshSettings:
    identity_file: str
    known_hosts: str
    known_hosts_file: str
    jump_host: str
    remote_dir: str
    config_file: str


@dataclass(frozen=True)
class Settings:
    root: Path
    namespace: str
    release: str
    # Empty until todoops.preflight settles it from the kubeconfig (see context_from).
    context: str
    # Empty until todoops.preflight derives it from the context (see provider_from).
    provider: str
    method: str
    env_file: Path
    chart: Path
    manifests: Path
    rollout_timeout: int
    local_contexts: tuple[str, ...]
    secret_name: str
    chart_values: tuple[Path, ...]
    build_in_cluster: bool
    build_jobs: int
    log_tail: int
    containerd: ContainerdSettings
    registry: str
    cache_dir: Path
    cluster: ClusterSettings
    images: tuple[ImageSpec, ...]
    bases: BaseSettings
    # Comma-separated user@machine[:port] targets; parsed and checked by todoops.remote.
    host: str
    ssh: SshSettings
    dry_run: bool = False
    json: bool = False
    # True when --context named the context: then a non-local one is allowed.
    context_explicit: bool = False
    # Where context and provider came from, for the preflight line: "configured", "--context",
    # "current" (the kubeconfig's), "from context" (the provider its name implies).
    context_from: str = "configured"
    provider_from: str = "configured"
