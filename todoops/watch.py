"""What `invoke dev` watches, and what a change to it means.

The loop watches the two build contexts, the chart and ``k8s/`` (and any
``chart_values`` files). A path counts only when it is something the deploy
reads: in a build context what ``.dockerignore`` lets in (docker's own rules,
todoops.dockerignore, so the watch agrees with the content tags), in the chart
what ``.helmignore`` does not exclude (read with the same rules: the chart's
patterns are plain globs and folders, where docker's and helm's syntax agree),
in ``k8s/`` the manifest files release.load_manifests reads. Which component
changed is decided from content, never from the events: each image's content
tag (images.planned_images) and one digest of the chart, the manifests and the
values files. A saved file whose content did not change therefore changes
nothing, and an edit made while a cycle runs is seen by the next comparison.
watchfiles (imported only when dev runs, so `invoke --list` stays fast)
reports the events and debounces them into batches.
"""
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from threading import Event

from .config import Settings
from .dockerignore import ALWAYS_SENT, Rule, context_files, included, parse_dockerignore
from .images import planned_images

# The name of the chart-and-manifests entry among the sources (the others are the images' names).
CHART = "chart"
# What release.load_manifests reads from k8s/.
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
# Milliseconds the watcher waits in one go: how often dev looks after its log stream and port-forward.
TICK_MS = 5000


@dataclass(frozen=True)
class Tree:
    """A watched folder: ``ignore`` names its ignore file ("" for k8s/, where only the manifests count)."""

    folder: Path
    ignore: str
    always: tuple[str, ...] = ()


def chart_trees(cfg: Settings) -> list[Tree]:
    return [Tree(cfg.chart, ".helmignore"), Tree(cfg.manifests, "")]


def trees(cfg: Settings) -> list[Tree]:
    return [*(Tree(spec.context, ".dockerignore", ALWAYS_SENT) for spec in cfg.images), *chart_trees(cfg)]


def rules_of(tree: Tree) -> tuple[Rule, ...]:
    path = tree.folder / tree.ignore
    return parse_dockerignore(path.read_text()) if tree.ignore and path.is_file() else ()


def counts(tree: Tree, rules: Sequence[Rule], relative: str) -> bool:
    """Whether a path (relative, POSIX) of ``tree`` is one the deploy reads."""
    if not tree.ignore:
        return "/" not in relative and relative.endswith(MANIFEST_SUFFIXES)
    return relative in tree.always or included(relative, rules)


class WatchFilter:
    """watchfiles' filter: True for a changed path that the deploy reads (see the module docstring).

    The rules of each folder are read once and again whenever its ignore file changes.
    """

    def __init__(self, cfg: Settings) -> None:
        self._trees = [(tree, tree.folder.resolve()) for tree in trees(cfg)]
        self._rules = {tree: rules_of(tree) for tree, _ in self._trees}
        self._files = {path.resolve() for path in cfg.chart_values}

    def __call__(self, change: object, path: str) -> bool:
        where = Path(path).resolve()
        if where in self._files:
            return True
        for tree, folder in self._trees:
            if where.is_relative_to(folder) and where != folder:
                relative = where.relative_to(folder).as_posix()
                if relative == tree.ignore:
                    self._rules[tree] = rules_of(tree)
                return counts(tree, self._rules[tree], relative)
        return False


def files_of(tree: Tree) -> list[Path]:
    if tree.ignore:
        return [tree.folder / name for name in context_files(tree.folder, rules_of(tree))]
    return sorted(path for path in tree.folder.glob("*") if path.is_file() and counts(tree, (), path.name))


def chart_digest(cfg: Settings) -> str:
    """sha256 over the chart's files, the manifests and the values files: their paths and contents."""
    digest = hashlib.sha256()
    for path in [path for tree in chart_trees(cfg) for path in files_of(tree)] + list(cfg.chart_values):
        body = path.read_bytes() if path.is_file() else b""
        digest.update(f"{path}\0{len(body)}\0".encode())
        digest.update(body)
    return digest.hexdigest()


def sources(cfg: Settings) -> dict[str, str]:
    """What the source tree holds now: each image's content tag, and the chart's digest under ``CHART``."""
    return {**{image.name: image.tag for image in planned_images(cfg)}, CHART: chart_digest(cfg)}


def changed(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """The components (image names, ``CHART``) whose content differs, in ``after``'s order."""
    return [name for name, value in after.items() if before.get(name) != value]


def watched(cfg: Settings) -> list[Path]:
    """The folders and files given to the watcher (those that exist: k8s/ may be absent with helm)."""
    paths = [tree.folder for tree in trees(cfg)] + list(cfg.chart_values)
    return [path for path in paths if path.exists()]


def watch_changes(cfg: Settings, stop: Event) -> Iterator[set[str]]:
    """Batches of changed paths that count; an empty batch every ``TICK_MS`` without any. Ends once ``stop`` is set."""
    import watchfiles

    for batch in watchfiles.watch(*watched(cfg), watch_filter=WatchFilter(cfg), stop_event=stop,
                                  rust_timeout=TICK_MS, yield_on_timeout=True, raise_interrupt=False):
        yield {path for _, path in batch}
