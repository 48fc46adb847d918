"""The declared settings tree: every key with its kind and default, and how invoke holds the defaults.

``SCHEMA`` is the one list of settings (nested mappings are sections). invoke
merges its own layers and converts a variable to the type of the value below
it ("false" over a switch becomes True), so it holds every default in its
``INVOKE_*`` spelling, a string (``DEFAULTS``): invoke then passes variables
through untouched and the kinds read every layer alike.
"""
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .kinds import CONTEXT, COUNT, LIST, METHOD, NAME, OBJECT_NAME, PATH, PROVIDER, SECONDS, SWITCH, TEXT, Kind

ENV_PREFIX = "INVOKE_TODOOPS_"


@dataclass(frozen=True)
class Key:
    kind: Kind
    default: object


# The schema, with each key's kind and default. Nested mappings are sections.
SCHEMA = {
    # Project root; empty means the folder holding tasks.py / invoke.yaml.
    "root": Key(PATH, ""),
    "namespace": Key(NAME, "todo-app"),
    "release": Key(NAME, "todo-app"),
    # The kube context the suite touches; empty: the kubeconfig's current context.
    "context": Key(CONTEXT, ""),
    # How images reach the cluster; empty: from the context's name (kind-* -> kind, minikube, k3d-*,
    # docker-desktop); containerd and registry are always named.
    "provider": Key(PROVIDER, ""),
    "method": Key(METHOD, "kubectl"),
    "env_file": Key(PATH, ".env"),
    "chart": Key(PATH, "helm/todo-app"),
    "manifests": Key(PATH, "k8s"),
    "rollout_timeout": Key(SECONDS, 180),
    # Kube contexts that count as local; any other is refused unless --context names it.
    "local_contexts": Key(LIST, ("minikube", "kind-*", "k3d-*", "docker-desktop", "docker-for-desktop",
                                 "rancher-desktop", "colima*", "orbstack", "microk8s")),
    # The Secret prepare-secrets creates and the chart references (existingSecret).
    "secret_name": Key(OBJECT_NAME, "todo-app-secrets"),
    # Extra helm values files (relative to root), applied before the image tags.
    "chart_values": Key(LIST, ()),
    # minikube only: build straight into minikube's docker daemon (no image copy).
    "build_in_cluster": Key(SWITCH, False),
    # Image builds run at the same time (1 = one after the other).
    "build_jobs": Key(COUNT, 2),
    # Lines of log shown per container when a rollout fails.
    "log_tail": Key(COUNT, 20),
    # containerd provider: the node's containerd socket and its Kubernetes namespace.
    "containerd": {"address": Key(PATH, "/run/containerd/containerd.sock"), "namespace": Key(TEXT, "k8s.io")},
    # registry provider: where images are pushed (host:port/path); required for it.
    "registry": Key(TEXT, ""),
    # Built tools and images live here, keyed by version, never in the repo.
    "cache_dir": Key(PATH, "~/.cache/todoops"),
    # invoke cluster.*: the local kind cluster the suite creates (context kind-<name>).
    "cluster": {
        "name": Key(NAME, "todo"),
        "nodes": Key(COUNT, 1),
        "kubernetes_version": Key(TEXT, "v1.34.4"),
        # Empty: the official kindest/node image of kubernetes_version, or, where no
        # registry serves it, one built locally by `invoke cluster.image`.
        "node_image": Key(TEXT, ""),
    },
    "images": {
        "backend": {"repository": Key(TEXT, "todo-backend"), "context": Key(PATH, "backend")},
        "frontend": {"repository": Key(TEXT, "todo-frontend"), "context": Key(PATH, "frontend")},
    },
    "bases": {
        # Empty: taken from the host's apt sources.
        "mirror": Key(TEXT, ""),
        "security_mirror": Key(TEXT, ""),
        # Extra CA certificates to trust inside images (files or folders of *.crt).
        "ca_certs": Key(LIST, ("/usr/local/share/ca-certificates",)),
    },
    # Run on other machines over SSH: user@machine[:port], several comma-separated
    # (validate and doctor visit them in turn); empty runs locally.
    "host": Key(LIST, ()),
    # Empty values fall back to the SSH config (~/.ssh/config), then to OpenSSH's defaults.
    "ssh": {
        "identity_file": Key(PATH, ""),
        # strict: refuse unknown and changed host keys; accept-new: trust a new host once.
        "known_hosts": Key(TEXT, ""),
        "known_hosts_file": Key(PATH, ""),
        # user@machine[:port] to hop through (ProxyJump); several comma-separated.
        "jump_host": Key(TEXT, ""),
        # Where the project is synced on the remote; relative to the remote home.
        # Empty: .cache/todoops/remote/<project folder name>.
        "remote_dir": Key(PATH, ""),
        # An SSH config file to read instead of ~/.ssh/config and /etc/ssh/ssh_config.
        "config_file": Key(PATH, ""),
    },
}


def _spelled(schema: Mapping) -> dict:
    return {name: _spelled(entry) if isinstance(entry, Mapping) else entry.kind.spell(entry.default)
            for name, entry in schema.items()}


# What invoke holds (tasks.py configures its collection with it): every default as a string.
DEFAULTS = {"todoops": _spelled(SCHEMA)}


def leaves(schema: Mapping = SCHEMA, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Key]]:
    for name, entry in schema.items():
        if isinstance(entry, Mapping):
            yield from leaves(entry, (*path, name))
        else:
            yield (*path, name), entry


def env_name(path: tuple[str, ...]) -> str:
    return ENV_PREFIX + "_".join(path).upper()


def dotted(path: tuple[str, ...]) -> str:
    return ".".join(("todoops", *path))
