"""todoops.remote's pure helpers on data: hosts, SSH options, path mapping, sync plans, errors."""
import base64
import io
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from invoke import Context, Exit

from todoops import remote
from todoops.commands import run
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.remote import Target


@pytest.mark.parametrize("text, target", [
    ("alice@devbox", Target("devbox", "alice")),
    ("alice@10.0.0.5:2222", Target("10.0.0.5", "alice", 2222)),
    ("devbox", Target("devbox")),
    ("ci-runner.example.internal:22", Target("ci-runner.example.internal", None, 22)),
    ("bob@[2001:db8::1]:2200", Target("2001:db8::1", "bob", 2200)),
    (" deploy_user@box-1 ", Target("box-1", "deploy_user")),
])
def test_hosts_parse(text, target):
    assert remote.parse_target(text) == target


@pytest.mark.parametrize("text", ["", "alice@", "@box", "alice@box:0", "alice@box:70000", "alice@box:22:1",
                                  "alice@box;rm -rf /", "al ice@box", "alice@-box", "ssh://alice@box"])
def test_malformed_hosts_are_refused_with_the_expected_form(text):
    with pytest.raises(Exit) as raised:
        remote.parse_target(text)
    assert raised.value.code == ExitCode.BAD_INPUT
    assert "user@machine[:port]" in raised.value.message


def test_target_label_round_trips():
    assert str(Target("box", "alice", 2222)) == "alice@box:2222"
    assert str(Target("box")) == "box"
    assert remote.parse_targets(" a@one, two:2200 ,") == (Target("one", "a"), Target("two", None, 2200))
    assert remote.parse_targets("") == ()


def test_host_and_ssh_settings_resolve_from_config(make_context):
    cfg = resolve(make_context(host=["a@one", "b@two:2200"], ssh={"identity_file": "~/.ssh/deploy"}))
    assert cfg.host == "a@one,b@two:2200"
    assert cfg.ssh.identity_file == "~/.ssh/deploy" and cfg.ssh.known_hosts == "" and cfg.ssh.remote_dir == ""
    assert resolve(make_context()).host == ""


@pytest.mark.parametrize("setting, ssh_config, policy", [
    ("", {}, "strict"),
    ("", {"stricthostkeychecking": "accept-new"}, "accept-new"),
    ("", {"stricthostkeychecking": "no"}, "accept-new"),
    ("", {"stricthostkeychecking": "yes"}, "strict"),
    ("strict", {"stricthostkeychecking": "no"}, "strict"),
    ("accept-new", {}, "accept-new"),
])
def test_host_key_policy_explicit_then_ssh_config_then_strict(setting, ssh_config, policy):
    assert remote.host_key_policy(setting, ssh_config) == policy


def test_unknown_host_key_policy_is_refused():
    with pytest.raises(Exit) as raised:
        remote.host_key_policy("trust-everything", {})
    assert raised.value.code == ExitCode.BAD_INPUT and "strict, accept-new" in raised.value.message


def test_known_hosts_file_explicit_then_ssh_config_then_default():
    assert str(remote.known_hosts_path("/x/known", {"userknownhostsfile": ["/y/known"]})) == "/x/known"
    assert str(remote.known_hosts_path("", {"userknownhostsfile": ["/y/known", "/z/known"]})) == "/y/known"
    assert str(remote.known_hosts_path("", {"userknownhostsfile": "/y/known /z/known"})) == "/y/known"
    assert remote.known_hosts_path("", {}).name == "known_hosts"
    assert "~" not in str(remote.known_hosts_path("", {}))


def test_an_explicit_identity_is_the_only_key_offered():
    assert remote.auth_kwargs("") == {}
    kwargs = remote.auth_kwargs("/keys/deploy")
    assert kwargs == {"key_filename": ["/keys/deploy"], "allow_agent": False, "look_for_keys": False}


def test_jump_hops_explicit_then_ssh_config():
    assert remote.jump_hops("", {}) == ()
    assert remote.jump_hops("j@bastion:2222", {"proxyjump": "other"}) == (Target("bastion", "j", 2222),)
    assert remote.jump_hops("", {"proxyjump": "a@one,two"}) == (Target("one", "a"), Target("two"))
    assert remote.jump_hops("none", {"proxyjump": "a@one"}) == ()


@pytest.mark.parametrize("setting, folder", [
    ("", "/home/alice/.cache/todoops/remote/todo"),
    ("work/todo", "/home/alice/work/todo"),
    ("~/work/todo", "/home/alice/work/todo"),
    ("/srv/todo", "/srv/todo"),
])
def test_remote_working_folder(setting, folder):
    assert remote.remote_root(setting, "/home/alice", "todo") == folder


def test_remote_working_folder_must_need_no_quoting():
    with pytest.raises(Exit) as raised:
        remote.remote_root("my work/$(x)", "/home/alice", "todo")
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
    assert remote.mapped(command, "/w/app", "/r/app") == expected


def test_mapping_leaves_paths_already_in_a_remote_folder_inside_the_project():
    assert remote.mapped("cat /w/app/.remote/x /w/app/y", "/w/app", "/w/app/.remote") == \
        "cat /w/app/.remote/x /w/app/.remote/y"


def test_sync_plan_sends_new_and_changed_and_deletes_what_is_gone():
    local = {"a": "1", "b": "2", "c": "3"}
    remote_side = {"a": "1", "b": "old", "gone": "9"}
    assert remote.plan_sync(local, remote_side) == remote.SyncPlan(send=("b", "c"), delete=("gone",))
    assert remote.plan_sync(local, local).empty


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '{"a": 1}'])
def test_an_unreadable_remote_manifest_means_send_everything(text):
    assert remote.parse_manifest(text) == {}


def test_digest_sees_content_executable_bit_and_symlinks(tmp_path):
    script = tmp_path / "run.sh"
    script.write_text("echo hi\n")
    plain = remote.file_digest(script)
    script.chmod(0o755)
    assert remote.file_digest(script) != plain
    (tmp_path / "link").symlink_to("run.sh")
    assert remote.file_digest(tmp_path / "link") == "link:run.sh"


def test_project_files_follow_each_dockerignore_and_leave_env_out(make_context, tmp_path):
    files = {"backend/Dockerfile": "", "backend/.dockerignore": "*.pyc\n!keep.pyc\n", "backend/a.py": "",
             "backend/b.pyc": "", "backend/keep.pyc": "", "frontend/Dockerfile": "", "helm/todo-app/Chart.yaml": "",
             "k8s/a.yaml": "", ".env": "SECRET=x", "README.md": ""}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert remote.project_files(resolve(make_context())) == [
        "backend/.dockerignore", "backend/Dockerfile", "backend/a.py", "backend/keep.pyc", "frontend/Dockerfile",
        "helm/todo-app/Chart.yaml", "k8s/a.yaml"]


def test_a_build_context_outside_the_project_cannot_be_synced(make_context, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "Dockerfile").write_text("")
    cfg = resolve(make_context(images={"backend": {"repository": "b", "context": str(outside)}}))
    with pytest.raises(Exit) as raised:
        remote.project_files(cfg)
    assert raised.value.code == ExitCode.BAD_INPUT and "outside the project root" in raised.value.message


def test_the_payload_holds_the_files_then_the_manifest_without_local_owners(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a/x.txt").write_text("x")
    payload = remote.tar_payload(tmp_path, ["a/x.txt"], {"a/x.txt": "digest"})
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(payload))) as archive:
        members = archive.getmembers()
        assert [member.name for member in members] == ["a/x.txt", remote.SYNC_MANIFEST]
        assert {(member.uid, member.uname) for member in members} == {(0, "")}
        assert remote.parse_manifest(archive.extractfile(members[-1]).read().decode()) == {"a/x.txt": "digest"}


def test_failures_name_the_host_and_say_what_to_do(tmp_path):
    from paramiko import AuthenticationException, BadHostKeyException, SSHException
    from paramiko.ed25519key import Ed25519Key
    from paramiko.ssh_exception import NoValidConnectionsError

    target = Target("box", "alice", 2222)
    known = tmp_path / "known_hosts"
    key = Ed25519Key.from_private_key_file(_keyfile(tmp_path))
    cases = {
        socket.gaierror(-2, "Name or service not known"): ("cannot resolve", ExitCode.UNREACHABLE),
        NoValidConnectionsError({("127.0.0.1", 2222): ConnectionRefusedError()}): ("refused", ExitCode.UNREACHABLE),
        TimeoutError(): ("did not answer", ExitCode.UNREACHABLE),
        BadHostKeyException("box", key, key): ("does not match", ExitCode.PREFLIGHT),
        AuthenticationException(): ("did not accept", ExitCode.PREFLIGHT),
        SSHException("Server '[box]:2222' not found in known_hosts"): ("strict", ExitCode.PREFLIGHT),
        SSHException("Error reading SSH protocol banner"): ("cannot connect", ExitCode.UNREACHABLE),
    }
    for error, (words, code) in cases.items():
        message, hint, exit_code = remote.failure(error, target, known)
        assert "alice@box:2222" in message and words in message and hint and exit_code == code, message


def _keyfile(folder):
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "key")], check=True)
    return str(folder / "key")


def test_errors_get_the_host_and_keep_their_exit_code():
    named = remote.named(Exit("error: docker: not installed\nhint: install it", code=3), Target("box", "a"))
    assert named.message == "error: on a@box: docker: not installed\nhint: install it" and named.code == 3


def test_each_host_without_a_host_runs_the_step_locally(make_context):
    c = make_context()
    outcomes = remote.each_host(c, resolve(c), lambda ctx: ctx is c)
    assert outcomes == [remote.HostOutcome("local", value=True)]


def test_on_host_without_a_host_is_the_local_context(make_context):
    c = make_context()
    with remote.on_host(c, resolve(c)) as ctx:
        assert ctx is c


def test_large_stdin_payloads_reach_the_command_quickly():
    # The sync sends its tar through the runner's stdin; invoke alone reads it a byte per 10 ms.
    payload = "x" * 2_000_000
    started = time.monotonic()
    result = run(Context(), ["wc", "-c"], stdin=payload, hide=True)
    assert result.stdout.strip() == str(len(payload))
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("name", ["deploy", "prepare-secrets", "doctor", "validate", "clean"])
def test_dash_h_is_help_on_tasks_with_host(name):
    """`invoke deploy -h` must print help, not read the next word as a host."""
    root = Path(__file__).resolve().parents[2]
    invoke = Path(sys.executable).with_name("invoke")
    shown = subprocess.run([str(invoke), name, "-h"], cwd=root, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert f"{name} [--options]" in shown.stdout
    assert "--host=STRING" in shown.stdout and "-h STRING" not in shown.stdout


def test_one_unreachable_host_hides_no_other_hosts_results(make_context, monkeypatch):
    from contextlib import contextmanager

    from todoops.checks import Check

    @contextmanager
    def fake_target(cfg, target):
        if target.host == "down":
            raise Exit("error: on b@down: b@down refused the connection on port 22\nhint: check that sshd runs there",
                       code=int(ExitCode.UNREACHABLE))
        yield f"connection to {target.host}"

    monkeypatch.setattr(remote, "on_target", fake_target)
    c = make_context(host="a@up,b@down,c@up2")
    found = remote.checks_everywhere(c, resolve(c), lambda here: [Check("cluster", "ok", here)])
    assert found == [Check("a@up: cluster", "ok", "connection to up"),
                     Check("b@down: host", "fail", "b@down refused the connection on port 22",
                           "check that sshd runs there", ExitCode.UNREACHABLE),
                     Check("c@up2: cluster", "ok", "connection to up2")]
