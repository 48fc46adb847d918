"""Which images the suite itself loaded into a cluster, per release: what `clean` may remove there.

Assumptions: a node's image store is shared with whatever else runs there, and
a name the suite never loaded (a ``todo-backend:latest`` of the user's, a
``postgres:15`` someone else imported) is not the suite's to remove, whatever
its repository. So the load step records each ref it loaded, and clean removes
recorded refs only. The record is a JSON list in a file per host, context,
namespace and release under ``cache_dir/loaded/``: a file write runs no
command (so dry runs and command logs stay as they are) and needs no rights on
the cluster. A machine without the file removes no image: the safe side.
"""
import json
import os
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from .config import Settings
from .refs import normalize


def record_path(cfg: Settings) -> Path:
    # quote() keeps every part one file name, whatever a context is called (they may hold '/' or ':').
    parts = (cfg.host or "local", cfg.context, cfg.namespace, cfg.release)
    return cfg.cache_dir / "loaded" / ("_".join(quote(part, safe="") for part in parts) + ".json")


def recorded(cfg: Settings) -> set[str]:
    """The normalized refs the suite loaded for this release; empty when it loaded none (or no record is here)."""
    try:
        refs = json.loads(record_path(cfg).read_text())
    except (OSError, ValueError):
        return set()
    return {normalize(ref) for ref in refs if isinstance(ref, str)} if isinstance(refs, list) else set()


def write(cfg: Settings, refs: set[str]) -> None:
    path = record_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Atomically: an interrupted write must not lose what was recorded before.
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(sorted(refs)) + "\n")
    os.replace(temporary, path)


def record(cfg: Settings, refs: Iterable[str]) -> None:
    """Add ``refs`` (cluster refs just loaded) to the release's record; a dry run records nothing."""
    refs = {normalize(ref) for ref in refs}
    if refs and not cfg.dry_run:
        write(cfg, recorded(cfg) | refs)


def forget(cfg: Settings, refs: Iterable[str]) -> None:
    """Drop ``refs`` (removed from the cluster) from the record."""
    before = recorded(cfg)
    after = before - {normalize(ref) for ref in refs}
    if after != before and not cfg.dry_run:
        write(cfg, after)
