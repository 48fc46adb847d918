"""One config schema, resolved once per task into a frozen ``Settings``.

Layers, lowest first: ``DEFAULTS`` (code) -> ``invoke.yaml`` -> ``INVOKE_TODOOPS_*``
environment variables -> task flags. invoke merges the first three into
``c.config.todoops``; ``resolve`` checks that tree against the schema, applies
the flags and validates values, so a step never reads ``c.config`` itself.
"""
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from invoke import Config, Context

from .errors import ExitCode, fail

PROVIDERS = ("minikube", "kind", "k3d", "docker-desktop", "containerd", "registry")
METHODS = ("kubectl", "helm")
# RFC 1123 label: what Kubernetes accepts for namespaces and helm for release names.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# RFC 1123 subdomain: what Kubernetes accepts for most object names (Secrets included).
DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

DEFAULTS = {
    "todoops": {
        # Project root; empty means the folder holding tasks.py / invoke.yaml.
        "root": "",
        "namespace": "todo-app",
        "release": "todo-app",
        "context": "minikube",
        "provider": "minikube",
        "method": "kubectl",
        "env_file": ".env",
        "chart": "helm/todo-app",
        "manifests": "k8s",
        "rollout_timeout": 180,
        # Kube contexts that count as local; any other is refused unless --context names it.
        "local_contexts": ["minikube", "kind-*", "k3d-*", "docker-desktop", "docker-for-desktop",
                           "rancher-desktop", "colima*", "orbstack", "microk8s", "todoops-e2e"],
        # The Secret prepare-secrets creates and the chart references (existingSecret).
        "secret_name": "todo-app-secrets",
        # Extra helm values files (relative to root), applied before the image tags.
        "chart_values": [],
        # minikube only: build straight into minikube's docker daemon (no image copy).
        "build_in_cluster": False,
        # Image builds run at the same time (1 = one after the other).
        "build_jobs": 2,
        # Lines of log shown per container when a rollout fails.
        "log_tail": 20,
        # containerd provider: the node's containerd socket and its Kubernetes namespace.
        "containerd": {"address": "/run/containerd/containerd.sock", "namespace": "k8s.io"},
        # registry provider: where images are pushed (host:port/path); required for it.
        "registry": "",
        # Built tools and images live here, keyed by version, never in the repo.
        "cache_dir": "~/.cache/todoops",
        # invoke cluster.*: the local kind cluster the suite creates (context kind-<name>).
        "cluster": {
            "name": "todo",
            "nodes": 1,
            "kubernetes_version": "v1.34.4",
            # Empty: the official kindest/node image of kubernetes_version, or, where no
            # registry serves it, one built locally by `invoke cluster.image`.
            "node_image": "",
        },
        "images": {
            "backend": {"repository": "todo-backend", "context": "backend"},
            "frontend": {"repository": "todo-frontend", "context": "frontend"},
        },
        "bases": {
            # Empty: taken from the host's apt sources.
            "mirror": "",
            "security_mirror": "",
            # Extra CA certificates to trust inside images (file or folder of *.crt).
            "ca_certs": "/usr/local/share/ca-certificates",
        },
        # Run on other machines over SSH: user@machine[:port], several comma-separated
        # (validate and doctor visit them in turn); empty runs locally.
        "host": "",
        # Empty values fall back to the SSH config (~/.ssh/config), then to OpenSSH's defaults.
        "ssh": {
            "identity_file": "",
            # strict: refuse unknown and changed host keys; accept-new: trust a new host once.
            "known_hosts": "",
            "known_hosts_file": "",
            # user@machine[:port] to hop through (ProxyJump); several comma-separated.
            "jump_host": "",
            # Where the project is synced on the remote; relative to the remote home.
            # Empty: .cache/todoops/remote/<project folder name>.
            "remote_dir": "",
            # An SSH config file to read instead of ~/.ssh/config and /etc/ssh/ssh_config.
            "config_file": "",
        },
    }
}


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
    context: str
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

    def with_flags(self, **flags: object) -> "Settings":
        """A copy with the flags that were given (None means not given)."""
        return replace(self, **{key: value for key, value in flags.items() if value is not None})


def unknown_keys(tree: Mapping, schema: Mapping, prefix: str = "todoops") -> list[str]:
    """Dotted paths present in ``tree`` but not declared in ``schema``."""
    found = []
    for key, value in tree.items():
        path = f"{prefix}.{key}"
        if key not in schema:
            found.append(path)
        elif isinstance(schema[key], Mapping) and isinstance(value, Mapping):
            found.extend(unknown_keys(value, schema[key], path))
    return found


def unknown_top_level(config: Mapping) -> list[str]:
    known = set(Config.global_defaults()) | set(DEFAULTS)
    return sorted(key for key in config if key not in known)


def _check_schema(config: Mapping) -> Mapping:
    tree = config.get("todoops") or {}
    if not isinstance(tree, Mapping):
        fail("config key 'todoops' must be a mapping", "see invoke.yaml in the project root", ExitCode.BAD_INPUT)
    unknown = unknown_keys(tree, DEFAULTS["todoops"]) + unknown_top_level(config)
    if unknown:
        known = ", ".join(sorted(DEFAULTS["todoops"]))
        fail(f"unknown config key(s): {', '.join(unknown)}",
             f"fix the spelling in invoke.yaml or INVOKE_* variables; todoops keys are: {known}",
             ExitCode.BAD_INPUT)
    return tree


def _project_root(c: Context, configured: str) -> Path:
    if configured:
        return Path(configured).expanduser().resolve()
    # invoke records where it found tasks.py; fall back to the working directory.
    prefix = getattr(c.config, "_project_prefix", None)
    return Path(prefix).resolve() if prefix else Path.cwd()


def _as_tuple(value: object) -> tuple[str, ...]:
    # A list in invoke.yaml, or "a,b" from an INVOKE_* variable.
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _ca_paths(value: object) -> tuple[Path, ...]:
    return tuple(Path(item).expanduser() for item in _as_tuple(value))


def validate(settings: Settings) -> Settings:
    """Reject values that would fail later, with the fix; nothing has run yet."""
    for key in ("namespace", "release"):
        value = getattr(settings, key)
        if not DNS_LABEL.match(value):
            fail(f"{key} {value!r} is not a DNS label",
                 "use lowercase letters, digits and '-', at most 63 characters, starting and ending alphanumeric",
                 ExitCode.BAD_INPUT)
    if settings.provider not in PROVIDERS:
        fail(f"unknown provider {settings.provider!r}", f"choose one of: {', '.join(PROVIDERS)}", ExitCode.BAD_INPUT)
    if settings.method not in METHODS:
        fail(f"unknown method {settings.method!r}", f"choose one of: {', '.join(METHODS)}", ExitCode.BAD_INPUT)
    for key, example in (("rollout_timeout", 180), ("build_jobs", 2), ("log_tail", 20)):
        value = getattr(settings, key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            fail(f"{key} {value!r} is not a positive number",
                 f"set todoops.{key} to e.g. {example}", ExitCode.BAD_INPUT)
    if not DNS_SUBDOMAIN.match(settings.secret_name):
        fail(f"secret_name {settings.secret_name!r} is not a valid Kubernetes name",
             "use lowercase letters, digits, '-' and '.', e.g. todo-app-secrets", ExitCode.BAD_INPUT)
    return settings


def resolve(c: Context, **flags: object) -> Settings:
    """The settings for one task run: all layers merged, flags last, validated."""
    tree = merged(_check_schema(c.config))
    root = _project_root(c, tree["root"])
    settings = Settings(
        root=root,
        namespace=tree["namespace"],
        release=tree["release"],
        context=tree["context"],
        provider=tree["provider"],
        method=tree["method"],
        env_file=root / tree["env_file"],
        chart=root / tree["chart"],
        manifests=root / tree["manifests"],
        rollout_timeout=_as_int(tree["rollout_timeout"]),
        local_contexts=_as_tuple(tree["local_contexts"]),
        secret_name=tree["secret_name"],
        chart_values=tuple(root / item for item in _as_tuple(tree["chart_values"])),
        build_in_cluster=_as_bool(tree["build_in_cluster"]),
        build_jobs=_as_int(tree["build_jobs"]),
        log_tail=_as_int(tree["log_tail"]),
        containerd=ContainerdSettings(address=str(tree["containerd"]["address"]),
                                      namespace=str(tree["containerd"]["namespace"])),
        registry=str(tree["registry"]).rstrip("/"),
        cache_dir=Path(tree["cache_dir"]).expanduser(),
        cluster=ClusterSettings(name=str(tree["cluster"]["name"]), nodes=_as_int(tree["cluster"]["nodes"]),
                                kubernetes_version=str(tree["cluster"]["kubernetes_version"]),
                                node_image=str(tree["cluster"]["node_image"])),
        images=tuple(ImageSpec(name, spec["repository"], root / spec["context"])
                     for name, spec in sorted(tree["images"].items())),
        bases=BaseSettings(mirror=tree["bases"]["mirror"],
                           security_mirror=tree["bases"]["security_mirror"],
                           ca_certs=_ca_paths(tree["bases"]["ca_certs"])),
        host=",".join(_as_tuple(tree["host"])),
        ssh=SshSettings(**{key: str(value) for key, value in tree["ssh"].items()}),
    )
    return validate(settings.with_flags(**flags))


def merged(tree: Mapping, defaults: Mapping = DEFAULTS["todoops"]) -> dict:
    """``tree`` over ``defaults``, so a partial section keeps the other defaults."""
    result = dict(defaults)
    for key, value in tree.items():
        result[key] = merged(value, defaults[key]) if isinstance(defaults.get(key), Mapping) else value
    return result


def _as_int(value: object) -> object:
    # INVOKE_* variables arrive as strings when the default's type is lost.
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def check_project_file(folder: Path) -> None:
    """Fail cleanly when ``invoke.yaml`` cannot be read or parsed.

    invoke loads the file after importing tasks.py and would die with a bare
    traceback; tasks.py calls this first so the user gets the file, the line
    and the fix instead. Reading one small file keeps import cheap.
    """
    import yaml

    path = folder / "invoke.yaml"
    try:
        data = yaml.safe_load(path.read_text()) if path.exists() else {}
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror}",
             "make the file readable (chmod a+r) or remove it to use the defaults", ExitCode.BAD_INPUT)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" line {where.line + 1}" if where else ""
        fail(f"{path}{line} is not valid YAML ({getattr(error, 'problem', error)})",
             "fix the syntax; the file must be a mapping with a 'todoops:' section", ExitCode.BAD_INPUT)
    if data is not None and not isinstance(data, Mapping):
        fail(f"{path} must be a mapping, not a {type(data).__name__}",
             "start the file with 'todoops:' and indent the keys below it", ExitCode.BAD_INPUT)
