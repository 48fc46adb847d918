"""--output: a private (0600), gitignored file inside the project, written all or nothing."""
import json
import stat

import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import placed, project
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.report import Report
from todoops.secret_file import write_private
from todoops.secrets import prepare


def test_output_file_is_private_and_must_be_gitignored(make_context, tmp_path):
    project(tmp_path)
    target = tmp_path / "secrets" / "todo.secret.yaml"
    c = make_context(placed(tmp_path, target))
    prepare(c, resolve(c), Report(), output=target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert json.loads(target.read_text())["metadata"]["name"] == "todo-app-secrets"
    assert commands_run(c) == [f"git -C {tmp_path} rev-parse --show-toplevel"] * 2 + [
        f"git -C {tmp_path} check-ignore -q {target}"]
    assert [path.name for path in target.parent.iterdir()] == ["todo.secret.yaml"]


def test_output_file_tracked_by_git_is_refused(make_context, tmp_path):
    project(tmp_path)
    target = tmp_path / "secret.yaml"
    c = make_context(placed(tmp_path, target, ignored=False))
    with pytest.raises(Exit) as error:
        prepare(c, resolve(c), Report(), output=target)
    assert error.value.code == ExitCode.BAD_INPUT and "not ignored by git" in error.value.message
    assert not target.exists()


@pytest.mark.parametrize(("where", "expected"), [
    (lambda root: root.parent / "elsewhere.secret.yaml", "is outside the project"),
    (lambda root: root / "backend", "is a folder"),
    (lambda root: root / ".env" / "todo.secret.yaml", "which is a file"),
])
def test_output_must_be_a_file_inside_the_project(make_context, tmp_path, where, expected):
    project(tmp_path)
    c = make_context()
    with pytest.raises(Exit) as error:
        prepare(c, resolve(c), Report(), output=where(tmp_path))
    assert error.value.code == ExitCode.BAD_INPUT and expected in error.value.message
    assert commands_run(c) == []


def test_output_into_another_git_repository_is_refused(make_context, tmp_path):
    project(tmp_path)
    (tmp_path / "vendor" / "other").mkdir(parents=True)
    target = tmp_path / "vendor" / "other" / "todo.secret.yaml"
    c = make_context(placed(tmp_path, target, top=tmp_path / "vendor" / "other"))
    with pytest.raises(Exit) as error:
        prepare(c, resolve(c), Report(), output=target)
    assert error.value.code == ExitCode.BAD_INPUT and "another git repository" in error.value.message
    assert not target.exists()


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    target = tmp_path / "todo.secret.yaml"
    target.write_text("the previous, complete Secret\n")
    target.chmod(0o644)

    def interrupted(descriptor):
        raise KeyboardInterrupt

    monkeypatch.setattr("todoops.secret_file.os.fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_private(target, "x" * 100000)
    assert target.read_text() == "the previous, complete Secret\n"
    assert [path.name for path in tmp_path.iterdir()] == ["todo.secret.yaml"]
    monkeypatch.undo()
    write_private(target, "new\n")
    assert target.read_text() == "new\n" and stat.S_IMODE(target.stat().st_mode) == 0o600
