"""One typed config schema, checked the same way in every layer, resolved once per task into ``Settings``.

Layers, lowest first: the schema's defaults (code) -> ``invoke.yaml`` ->
``INVOKE_TODOOPS_*`` environment variables -> task flags. ``SCHEMA`` declares
each key's kind (name, number, duration, switch, path, list, section); the one
reader of a kind turns a YAML value or a string (a variable, a flag) into the
value or into a problem naming the key, where it came from and an example,
never the value itself. A step never reads ``c.config``.

invoke merges the first three layers itself and would crash or misread some
input before any task runs: it cannot merge a section holding a null or a
string, it converts a variable to the type of the value below it ("false"
becomes True, "3m" over a number and anything over a list raise). So invoke
holds every default in its INVOKE_* spelling (a string: invoke then passes
variables through untouched), and ``check_project_file``, which tasks.py calls
before invoke reads anything, checks ``invoke.yaml`` against the schema and
refuses the one thing left that invoke cannot do: a variable over a value that
invoke.yaml spells as a number, switch or list.

Empty ``context`` means the kubeconfig's current context and empty ``provider``
the one the context's name implies; both are settled by todoops.preflight
through the Context (on the machine that runs the commands).
"""
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path

from invoke import Config, Context

from .errors import ExitCode, fail

PROVIDERS = ("minikube", "kind", "k3d", "docker-desktop", "containerd", "registry")
METHODS = ("kubectl", "helm")
ENV_PREFIX = "INVOKE_TODOOPS_"
# RFC 1123 label: what Kubernetes accepts for namespaces and helm for release names.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# RFC 1123 subdomain: what Kubernetes accepts for most object names (Secrets included).
DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DURATION = re.compile(r"^(?=\d)(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s?)?$")
SWITCHES = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


class Invalid(ValueError):
    """A value a kind cannot read; the message says what was expected, never what was given."""


@dataclass(frozen=True)
class Kind:
    """A value type of the schema: ``read`` takes a YAML value or a string and returns the value or raises."""

    expected: str  # completes "todoops.KEY (from SOURCE) is not ..."
    read: Callable[[object], object]
    # How a default is spelled for invoke (a string, so invoke never converts a variable).
    spell: Callable[[object], str] = str


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid
    if re.search(r"[\x00-\x1f\x7f]", value):
        raise Invalid
    return value.strip()


def _matching(pattern: re.Pattern, allow_empty: bool = False) -> Callable[[object], str]:
    def read(value: object) -> str:
        text = _text(value)
        if not (pattern.match(text) or (allow_empty and not text)):
            raise Invalid
        return text
    return read


def _choice(choices: tuple[str, ...], allow_empty: bool = False) -> Callable[[object], str]:
    def read(value: object) -> str:
        text = _text(value)
        if text not in choices and not (allow_empty and not text):
            raise Invalid
        return text
    return read


def _count(value: object) -> int:
    number = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str) and value.strip().isdecimal():
        number = int(value.strip())
    if number is None or not 0 < number < 10**6:
        raise Invalid
    return number


def _seconds(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        found = DURATION.match(_text(value).lower()) if isinstance(value, str) and len(value) < 32 else None
        if not found:
            raise Invalid
        seconds = sum(int(found[unit] or 0) * factor for unit, factor in (("h", 3600), ("m", 60), ("s", 1)))
    if not 0 < seconds <= 86400:
        raise Invalid
    return seconds


def _switch(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in SWITCHES:
        return SWITCHES[value.strip().lower()]
    raise Invalid


def _items(value: object) -> tuple[str, ...]:
    # A YAML list, or "a,b" from a variable or flag.
    items = value if isinstance(value, (list, tuple)) else _text(value).split(",")
    return tuple(text for text in (_text(item) for item in items) if text)


def _port(value: object) -> int:
    number = _count(value)
    if number > 65535:
        raise Invalid
    return number


def _path(value: object) -> str:
    text = _text(value)
    if len(text) > 4096:
        raise Invalid
    return text


TEXT = Kind("text on one line (quote numbers in YAML)", _text)
NAME = Kind("a DNS label: lowercase letters, digits and '-', at most 63, starting and ending alphanumeric",
            _matching(DNS_LABEL))
OBJECT_NAME = Kind("a Kubernetes name: lowercase letters, digits, '-' and '.'", _matching(DNS_SUBDOMAIN))
CONTEXT = Kind("a kube context name on one line (empty: the kubeconfig's current context)", _text)
PROVIDER = Kind(f"a known provider: {', '.join(PROVIDERS)} (empty: the one the context implies)",
                _choice(PROVIDERS, allow_empty=True))
METHOD = Kind(f"a known method: {', '.join(METHODS)}", _choice(METHODS))
COUNT = Kind("a whole number above 0", _count)
SECONDS = Kind("a duration above 0 and at most 24h: seconds (180) or with units (90s, 3m, 1h30m)", _seconds)
SWITCH = Kind("a switch: true/false, yes/no, on/off or 1/0", _switch, lambda value: "true" if value else "false")
PORT = Kind("a port number from 1 to 65535", _port)
# The app's components, as `logs` and `port-forward` name them (postgresql serves no HTTP to forward to).
COMPONENT = Kind("one of backend, frontend, postgresql", _choice(("backend", "frontend", "postgresql")))
SERVICE = Kind("backend or frontend", _choice(("backend", "frontend")))
PATH = Kind("a path on one line", _path)
LIST = Kind("a list (in YAML) or comma-separated text", _items, ",".join)


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
                                 "rancher-desktop", "colima*", "orbstack", "microk8s", "todoops-e2e")),
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


# -- reading one layer

def problem(path: tuple[str, ...], source: str, expected: str) -> str:
    return f"{dotted(path)} (from {source}) is not {expected}"


def read_value(key: Key, value: object, path: tuple[str, ...], source: str, problems: list[str]) -> object:
    """``value`` read by its key's kind; on failure a problem is noted and the default returned."""
    try:
        return key.kind.read(value)
    except Exception:  # noqa: BLE001 - any reader error is the same bad input; the value is never shown
        problems.append(problem(path, source, key.kind.expected))
        return key.default


def read_tree(tree: object, source: Callable[[tuple[str, ...]], str], problems: list[str],
              schema: Mapping = SCHEMA, path: tuple[str, ...] = ()) -> dict:
    """A layer's (nested) mapping read against ``schema``: unknown keys, wrong shapes and bad values are noted."""
    if not isinstance(tree, Mapping):
        problems.append(f"{dotted(path)} (from {source(path)}) is not a section (settings indented below it)"
                        + (": it is empty, remove the line or add settings" if tree is None else ""))
        return {}
    result = {}
    for name, value in tree.items():
        where = (*path, str(name))
        entry = schema.get(name) if isinstance(name, str) else None
        if entry is None:
            guess = get_close_matches(str(name), list(schema), n=1)
            problems.append(f"{dotted(where)} (from {source(where)}) is not a setting"
                            + (f": did you mean {dotted((*path, guess[0]))}?" if guess else ""))
        elif isinstance(entry, Mapping):
            result[name] = read_tree(value, source, problems, entry, where)
        elif value is None or isinstance(value, Mapping):
            problems.append(problem(where, source(where), entry.kind.expected)
                            + (": it is empty, remove the line or give a value" if value is None else ""))
        else:
            result[name] = read_value(entry, value, where, source(where), problems)
    return result


def context_help(action: str = "use") -> str:
    """The ``--context`` help of every task that reaches the cluster."""
    return f"Kube context to {action} (a non-local one must be named here explicitly)."


def read_flag(kind: Kind, value: object, flag: str) -> object:
    """A task's own flag (not a setting) read by a schema kind: None when not given, exit 2 when unreadable."""
    problems: list[str] = []
    read = None if value is None else read_value(Key(kind, None), value, (), flag, problems)
    if problems:
        fail(f"{flag} is not {kind.expected}", f"pass a valid value to {flag} or leave it out", ExitCode.BAD_INPUT)
    return read


def refuse(problems: list[str], hint: str) -> None:
    if problems:
        fail("; ".join(problems), hint, ExitCode.BAD_INPUT)


def environment_names(environ: Mapping[str, str] = os.environ) -> set[str]:
    """The INVOKE_TODOOPS_* variables that are set: names only, values stay with invoke."""
    return {name for name in environ if name.startswith(ENV_PREFIX)}


def unknown_variables(names: set[str]) -> list[str]:
    known = {env_name(path) for path, _ in leaves()}
    return [f"{name} is not a setting" + (f": did you mean {guess[0]}?" if (guess := get_close_matches(
        name, sorted(known), n=1)) else "") for name in sorted(names - known)]


def unknown_top_level(config: Mapping) -> list[str]:
    known = set(Config.global_defaults()) | set(DEFAULTS)
    return [f"{key} is not a section invoke or todoops reads" for key in sorted(config) if key not in known]


# -- resolving


def _project_root(c: Context, configured: str) -> Path:
    if configured:
        return Path(configured).expanduser().resolve()
    # invoke records where it found tasks.py; fall back to the working directory.
    prefix = getattr(c.config, "_project_prefix", None)
    return Path(prefix).resolve() if prefix else Path.cwd()


def _merged(tree: Mapping, schema: Mapping = SCHEMA) -> dict:
    """Read values over the schema's defaults, so a partial section keeps the other defaults."""
    return {name: _merged(tree.get(name, {}), entry) if isinstance(entry, Mapping) else tree.get(name, entry.default)
            for name, entry in schema.items()}


FLAG_KEYS = {path[0]: key for path, key in leaves() if len(path) == 1}


def _flags(flags: Mapping[str, object], problems: list[str]) -> dict:
    """Task flags that were given (None: not given), read by their key's kind like every other layer."""
    read = {}
    for name, value in flags.items():
        if value is None:
            continue
        key = FLAG_KEYS.get(name)
        read[name] = value if key is None else read_value(key, value, (name,), "the command line", problems)
    return read


def resolve(c: Context, **flags: object) -> Settings:
    """The settings for one task run: all layers read by the schema, flags last, checked."""
    names = environment_names()
    config = c.config
    problems = unknown_variables(names) + unknown_top_level(config)
    tree = _merged(read_tree(config.get("todoops"),
                             lambda path: env_name(path) if env_name(path) in names else "invoke.yaml", problems))
    given = _flags(flags, problems)
    refuse(problems, "fix it in invoke.yaml, the INVOKE_TODOOPS_* variable or the flag named; "
                     "every setting and its kind: todoops/config.py (SCHEMA)")
    tree.update({name: value for name, value in given.items() if name in FLAG_KEYS})
    root = _project_root(c, tree["root"])
    settings = Settings(
        root=root,
        namespace=tree["namespace"],
        release=tree["release"],
        context=tree["context"],
        provider=tree["provider"],
        method=tree["method"],
        env_file=root / Path(tree["env_file"]).expanduser(),
        chart=root / tree["chart"],
        manifests=root / tree["manifests"],
        rollout_timeout=tree["rollout_timeout"],
        local_contexts=tree["local_contexts"],
        secret_name=tree["secret_name"],
        chart_values=tuple(root / item for item in tree["chart_values"]),
        build_in_cluster=tree["build_in_cluster"],
        build_jobs=tree["build_jobs"],
        log_tail=tree["log_tail"],
        containerd=ContainerdSettings(**tree["containerd"]),
        registry=tree["registry"].rstrip("/"),
        cache_dir=Path(tree["cache_dir"]).expanduser(),
        cluster=ClusterSettings(**tree["cluster"]),
        images=tuple(ImageSpec(name, spec["repository"], root / spec["context"])
                     for name, spec in sorted(tree["images"].items())),
        bases=BaseSettings(mirror=tree["bases"]["mirror"], security_mirror=tree["bases"]["security_mirror"],
                           ca_certs=tuple(Path(item).expanduser() for item in tree["bases"]["ca_certs"])),
        host=",".join(tree["host"]),
        ssh=SshSettings(**tree["ssh"]),
        **{name: value for name, value in given.items() if name not in FLAG_KEYS},
        context_from="--context" if flags.get("context") else "configured",
        provider_from="--provider" if flags.get("provider") else "configured",
    )
    return check_paths(settings)


def path_problem(path: Path, want_folder: bool) -> str | None:
    """Why ``path`` cannot be what it names: a file that is a folder, a folder that is a file, or under a file."""
    if path.exists():
        return None if path.is_dir() == want_folder else ("is a file, not a folder" if want_folder else
                                                          "is a folder, not a file")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    return None if parent.is_dir() else f"is under {parent}, which is a file"


def check_paths(settings: Settings) -> Settings:
    """Paths that cannot work, refused before anything runs (folders are looked at, never created)."""
    wanted = [("env_file", settings.env_file, False), ("chart", settings.chart, True),
              ("manifests", settings.manifests, True), ("cache_dir", settings.cache_dir, True),
              *(("chart_values", path, False) for path in settings.chart_values)]
    problems = [f"todoops.{name} {found}" for name, path, folder in wanted
                if (found := path_problem(path, folder))]
    refuse(problems, "name a file for env_file and chart_values, a folder for chart, manifests and cache_dir")
    return settings


# -- before invoke reads anything

def invoke_yaml_problems(data: Mapping, names: set[str]) -> list[str]:
    """invoke.yaml against the schema, and the variables invoke would misread over it."""
    problems: list[str] = []
    if "todoops" in data and not isinstance(data["todoops"], Mapping):
        return ["todoops (from invoke.yaml) is not a section (settings indented below it)"
                + (": it is empty, remove the line or add settings" if data["todoops"] is None else "")]
    tree = data.get("todoops") or {}
    read_tree(tree, lambda path: "invoke.yaml", problems)
    for path, key in leaves():
        value = _lookup(tree, path)
        if env_name(path) in names and value is not None and not isinstance(value, str):
            problems.append(f"{env_name(path)} cannot override {dotted(path)}: invoke.yaml spells it as a "
                            f"{'list' if isinstance(value, list) else type(value).__name__}, and invoke converts "
                            "the variable to that type (misreading 'false', failing on '3m'): quote the value "
                            "in invoke.yaml, or unset the variable")
    return problems


def _lookup(tree: Mapping, path: tuple[str, ...]) -> object:
    for name in path:
        if not isinstance(tree, Mapping):
            return None
        tree = tree.get(name)
    return tree


def check_project_file(folder: Path) -> None:
    """Fail cleanly when ``invoke.yaml`` cannot be read, parsed or merged by invoke.

    invoke loads the file after importing tasks.py and would die with a bare
    traceback on a syntax error, a null or string where a section goes, or a
    variable it cannot convert; tasks.py calls this first so the user gets the
    key and the fix instead. Reading one small file keeps import cheap.
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
    refuse(invoke_yaml_problems(data or {}, environment_names()),
           f"fix {path} (every setting and its kind: todoops/config.py, SCHEMA)")
