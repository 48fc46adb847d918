"""`invoke prepare-secrets --output FILE`: the Secret manifest written to a private, gitignored file.

Assumptions: the file holds every secret, so it may only live inside the
project, in the project's own git repository, under a name git ignores; it is
written readable by its owner only (mode 0600) and all or nothing.
"""
import os
import tempfile
from pathlib import Path

from invoke import Context

from .commands import probe
from .config import Settings
from .errors import ExitCode, fail


def output_problem(cfg: Settings, path: Path) -> str | None:
    """Why ``path`` (resolved) cannot hold the Secret file, judged on the file system alone."""
    if not path.is_relative_to(cfg.root):
        return f"{path} is outside the project {cfg.root}"
    if path.is_dir():
        return f"{path} is a folder"
    if not nearest_folder(path).is_dir():
        return f"{path} is under {nearest_folder(path)}, which is a file"
    return None


def nearest_folder(path: Path) -> Path:
    """The closest ancestor of ``path`` that exists (where git can be asked about it)."""
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    return folder


def check_output_path(c: Context, cfg: Settings, path: Path) -> None:
    """Refuse a place where the file, which holds every secret, could be committed or does not fit."""
    hint = "write it under a gitignored name inside the project, e.g. secrets/todo-app.secret.yaml"
    problem = output_problem(cfg, path)
    if problem:
        fail(f"--output {problem}", hint, ExitCode.BAD_INPUT)
    project, target = (probe(c, ["git", "-C", str(folder), "rev-parse", "--show-toplevel"])
                       for folder in (cfg.root, nearest_folder(path)))
    if (project.ok, project.stdout.strip()) != (target.ok, target.stdout.strip()):
        fail(f"--output {path} is inside another git repository than the project's", hint, ExitCode.BAD_INPUT)
    # check-ignore: 0 ignored; 1 git would track it; 128 it cannot tell (e.g. inside a submodule).
    if project.ok and probe(c, ["git", "-C", str(cfg.root), "check-ignore", "-q", str(path)]).exited != 0:
        fail(f"{path} is not ignored by git, so it could be committed with every secret in it",
             hint + " (or add it to .gitignore)", ExitCode.BAD_INPUT)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only, all or nothing.

    The text goes to a private temporary file beside ``path`` that then replaces
    it in one rename: an interrupt leaves the old file (or none), never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
