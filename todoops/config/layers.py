"""``resolve``: the four layers, read by the schema, merged once per task into the frozen ``Settings``.

Layers, lowest first: the schema's defaults (code) -> ``invoke.yaml`` ->
``INVOKE_TODOOPS_*`` variables -> task flags. invoke has merged the first three
in ``c.config``; what it holds is read here like the flags, every problem of
every layer refused together (exit 2) before any command runs. Paths that
cannot work are refused too; folders are looked at, never created.
"""
from collections.abc import Mapping
from pathlib import Path

from invoke import Context

from .flags import FLAG_KEYS, read_flags
from .reading import environment_names, read_tree, refuse, unknown_top_level, unknown_variables
from .schema import SCHEMA, env_name
from .settings import BaseSettings, ClusterSettings, ContainerdSettings, ImageSpec, Settings, SshSettings


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


def resolve(c: Context, **flags: object) -> Settings:
    """The settings for one task run: all layers read by the schema, flags last, checked."""
    names = environment_names()
    problems = unknown_variables(names) + unknown_top_level(c.config)
    tree = _merged(read_tree(c.config.get("todoops"),
                             lambda path: env_name(path) if env_name(path) in names else "invoke.yaml", problems))
    given = read_flags(flags, problems)
    refuse(problems, "fix it in invoke.yaml, the INVOKE_TODOOPS_* variable or the flag named; "
                     "every setting and its kind: todoops/config/schema.py (SCHEMA)")
    tree.update({name: value for name, value in given.items() if name in FLAG_KEYS})
    settings = settings_from(tree, _project_root(c, tree["root"]),
                             **{name: value for name, value in given.items() if name not in FLAG_KEYS},
                             context_from="--context" if flags.get("context") else "configured",
                             provider_from="--provider" if flags.get("provider") else "configured")
    return check_paths(settings)


def settings_from(tree: Mapping, root: Path, **extra: object) -> Settings:
    """The merged, read tree as ``Settings``: paths made absolute from ``root``; ``extra``: the task's own fields."""
    return Settings(
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
        **extra,
    )


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
