"""todoops.remote.sync: the remote working folder, path mapping, sync plans and the tar payload."""
import base64
import io
import tarfile
import time

import pytest
from invoke import Context, Exit

from todoops.commands import run
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.remote import sync


@pytest.mark.parametrize("setting, folder", [
    ("", "/home/alice/.cache/todoops/remote/todo"),
    ("work/todo", "/home/alice/work/todo"),
    ("~/work/todo", "/home/alice/work/todo"),
    ("/srv/todo", "/srv/todo"),
])
def test_remote_working_folder(setting, folder):
    assert sync.remote_root(setting, "/home/alice", "todo") == folder


def test_remote_working_folder_must_need_no_quoting():
    with pytest.raises(Exit) as raised:
        sync.remote_root("my work/$(x)", "/home/alice", "todo")
    assert raised.value.code == ExitCode.BAD_INPUT


@pytest.mark.parametrize("command, expected", [
    ("docker build -f /w/app/backend/Dockerfile /w/app/backend",
     "docker build -f /r/app/backend/Dockerfile /r/app/backend"),
    ("helm upgrade --install todo /w/app/helm/todo-app -f '/w/app/values x.yaml'",
     "helm upgrade --install todo /r/app/helm/todo-app -f '/r/app/values x.yaml'"),
    ("tar -C /w/app", "tar -C /r/app"),
    ("ls /w/app2 /x/w/app /w/apple --opt=/w/app/k8s", "ls /w/app2 /x/w/app /w/apple --opt=/r/app/k8s"),
    ("kubectl get pods", "kubectl get pods"),
])
def test_the_local_project_root_maps_to_the_remote_folder(command, expected):
    assert sync.mapped(command, "/w/app", "/r/app") == expected


def test_mapping_leaves_paths_already_in_a_remote_folder_inside_the_project():
    assert sync.mapped("cat /w/app/.remote/x /w/app/y", "/w/app", "/w/app/.remote") == \
        "cat /w/app/.remote/x /w/app/.remote/y"


def test_sync_plan_sends_new_and_changed_and_deletes_what_is_gone():
    local = {"a": "1", "b": "2", "c": "3"}
    remote_side = {"a": "1", "b": "old", "gone": "9"}
    assert sync.plan_sync(local, remote_side) == sync.SyncPlan(send=("b", "c"), delete=("gone",))
    assert sync.plan_sync(local, local).empty


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '{"a": 1}'])
def test_an_unreadable_remote_manifest_means_send_everything(text):
    assert sync.parse_manifest(text) == {}


def test_digest_sees_content_executable_bit_and_symlinks(tmp_path):
    script = tmp_path / "run.sh"
    script.write_text("echo hi\n")
    plain = sync.file_digest(script)
    script.chmod(0o755)
    assert sync.file_digest(script) != plain
    (tmp_path / "link").symlink_to("run.sh")
    assert sync.file_digest(tmp_path / "link") == "link:run.sh"


def test_project_files_follow_each_dockerignore_and_leave_env_out(make_context, tmp_path):
    files = {"backend/Dockerfile": "", "backend/.dockerignore": "*.pyc\n!keep.pyc\n", "backend/a.py": "",
             "backend/b.pyc": "", "backend/keep.pyc": "", "frontend/Dockerfile": "", "helm/todo-app/Chart.yaml": "",
             "k8s/a.yaml": "", ".env": "SECRET=x", "README.md": ""}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert sync.project_files(resolve(make_context())) == [
        "backend/.dockerignore", "backend/Dockerfile", "backend/a.py", "backend/keep.pyc", "frontend/Dockerfile",
        "helm/todo-app/Chart.yaml", "k8s/a.yaml"]


def test_a_build_context_outside_the_project_cannot_be_synced(make_context, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "Dockerfile").write_text("")
    cfg = resolve(make_context(images={"backend": {"repository": "b", "context": str(outside)}}))
    with pytest.raises(Exit) as raised:
        sync.project_files(cfg)
    assert raised.value.code == ExitCode.BAD_INPUT and "outside the project root" in raised.value.message


def test_the_payload_holds_the_files_then_the_manifest_without_local_owners(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a/x.txt").write_text("x")
    payload = sync.tar_payload(tmp_path, ["a/x.txt"], {"a/x.txt": "digest"})
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(payload))) as archive:
        members = archive.getmembers()
        assert [member.name for member in members] == ["a/x.txt", sync.SYNC_MANIFEST]
        assert {(member.uid, member.uname) for member in members} == {(0, "")}
        assert sync.parse_manifest(archive.extractfile(members[-1]).read().decode()) == {"a/x.txt": "digest"}


def test_large_stdin_payloads_reach_the_command_quickly():
    # The sync sends its tar through the runner's stdin; invoke alone reads it a byte per 10 ms.
    payload = "x" * 2_000_000
    started = time.monotonic()
    result = run(Context(), ["wc", "-c"], stdin=payload, hide=True)
    assert result.stdout.strip() == str(len(payload))
    assert time.monotonic() - started < 5
