"""The project's copy on a remote: where it lives, how commands name it, how it is kept in sync.

Assumptions:
- Steps read project files locally (content tags, .env, manifests) and name
  them in commands by their local absolute path. The remote holds a copy of the
  project under its working folder, and every command gets the local project
  root replaced by that folder (`mapped`), like a volume mount.
- The copy holds what remote commands read by path: each image's build context
  (only what its ``.dockerignore`` lets in), the chart and the rendered
  manifests. Never ``.env``: secret payloads travel on the command's SSH stdin.
- Only changed files travel, as one tar stream on the command's stdin; the
  remote keeps a record of what it holds (`SYNC_MANIFEST`).
"""
import base64
import hashlib
import io
import json
import os
import re
import stat
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from invoke import Context

from ..commands import echo, probe, run
from ..config import Settings
from ..dockerignore import sent_files
from ..errors import ExitCode, fail

# invoke's ``cd`` escapes spaces only, so the working folder is limited to safe characters.
SAFE_REMOTE_DIR = re.compile(r"^[A-Za-z0-9._/~-]+$")
# The remote's record of what was synced, so the next sync sends only what changed.
SYNC_MANIFEST = ".todoops-sync.json"
# Runs on the remote: create the folder, delete what was removed locally ($@), unpack
# the base64 tar.gz from stdin (base64 because invoke passes stdin as text), prune
# folders left empty. Values arrive as positional arguments, never inside the script.
SYNC_SCRIPT = ('set -e; mkdir -p "$1"; cd "$1"; shift; if [ "$#" -gt 0 ]; then rm -f -- "$@"; fi; '
               'base64 -d | tar -xzf - --no-same-owner; find . -mindepth 1 -depth -type d -empty -delete')


def remote_root(setting: str, home: str, project: str) -> str:
    """The remote working folder as an absolute path (relative ones live in the remote home)."""
    folder = setting or f".cache/todoops/remote/{project}"
    if not SAFE_REMOTE_DIR.match(folder):
        fail(f"ssh.remote_dir {folder!r} has characters a remote shell would need quoted",
             "use letters, digits and . _ - / ~ only", ExitCode.BAD_INPUT)
    folder = folder.removeprefix("~").lstrip("/") if folder.startswith("~") else folder
    return str(PurePosixPath(home, folder)) if not folder.startswith("/") else folder


def mapped(command: str, local_root: str, remote: str) -> str:
    """``command`` with the local project root replaced by the remote working folder."""
    # Only whole path prefixes (/work/app must not touch /work/app2 or /x/work/app), and
    # never a path already in the remote folder (it may lie inside the local root).
    pattern = (r"(?<![\w./~-])(?!" + re.escape(remote) + r"(?![\w.~-]))"
               + re.escape(local_root.rstrip("/")) + r"(?![\w.~-])")
    return re.sub(pattern, lambda _: remote, command)


@dataclass(frozen=True)
class SyncPlan:
    send: tuple[str, ...]
    delete: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.send and not self.delete


def plan_sync(local: Mapping[str, str], remote: Mapping[str, str]) -> SyncPlan:
    """What to send (new or changed digests) and delete (gone locally) to make remote match local."""
    return SyncPlan(tuple(sorted(path for path, digest in local.items() if remote.get(path) != digest)),
                    tuple(sorted(path for path in remote if path not in local)))


def project_files(cfg: Settings) -> list[str]:
    """What remote commands read by path, relative to the project root."""
    files: set[Path] = set()
    for spec in cfg.images:
        files.update(spec.context / name for name in sent_files(spec.context))
    for folder in (cfg.chart, cfg.manifests):
        files.update(path for path in folder.rglob("*") if path.is_file() or path.is_symlink())
    files.update(path for path in cfg.chart_values if path.is_file())
    outside = sorted(str(path) for path in files if not path.is_relative_to(cfg.root))
    if outside:
        fail(f"{outside[0]} is outside the project root {cfg.root}, so it cannot be synced to a remote",
             "keep build contexts, the chart and values files inside the project", ExitCode.BAD_INPUT)
    return sorted(path.relative_to(cfg.root).as_posix() for path in files)


def file_digest(path: Path) -> str:
    """Content, executable bit and symlink target: everything a build context hash sees."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return "link:" + os.readlink(path)
    return f"{info.st_mode & 0o111:o}:" + hashlib.sha256(path.read_bytes()).hexdigest()


def local_manifest(root: Path, files: Sequence[str]) -> dict[str, str]:
    return {name: file_digest(root / name) for name in files}


def parse_manifest(text: str) -> dict[str, str]:
    """The remote's record; anything unreadable means "nothing there", so everything is resent."""
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) and all(isinstance(v, str) for v in data.values()) else {}


def _anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Local user names and ids mean nothing on the remote.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def tar_payload(root: Path, send: Sequence[str], manifest: Mapping[str, str]) -> str:
    """base64 of a tar.gz with the files to send, and the new manifest last (written once all else is)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in send:
            archive.add(root / name, arcname=name, recursive=False, filter=_anonymous)
        record = json.dumps(manifest, indent=0, sort_keys=True).encode()
        info = _anonymous(tarfile.TarInfo(SYNC_MANIFEST))
        info.size = len(record)
        archive.addfile(info, io.BytesIO(record))
    return base64.b64encode(buffer.getvalue()).decode()


def sync(c: Context, cfg: Settings, root: str) -> SyncPlan:
    """Make the remote folder ``root`` hold the project files; sends only what changed."""
    files = project_files(cfg)
    local = local_manifest(cfg.root, files)
    found = probe(c, ["cat", "--", f"{root}/{SYNC_MANIFEST}"])
    plan = plan_sync(local, parse_manifest(found.stdout) if found.ok else {})
    if plan.empty:
        echo(f"sync: {root} is up to date ({len(files)} files)")
        return plan
    run(c, ["sh", "-c", SYNC_SCRIPT, "todoops-sync", root, *plan.delete], mutates=True, dry_run=cfg.dry_run,
        stdin=tar_payload(cfg.root, plan.send, local), hide=True)
    verb = "would be" if cfg.dry_run else "were"
    echo(f"sync: {len(plan.send)} file(s) {verb} sent and {len(plan.delete)} deleted in {root}")
    return plan
