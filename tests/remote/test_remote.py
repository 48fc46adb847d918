"""todoops.remote against a real sshd (see conftest.py): commands, sync, secrets, bad input."""
import base64
import hashlib
from dataclasses import replace
from pathlib import Path

import pytest
from invoke import Context, Exit

from tests.remote.conftest import keygen
from tests.remote.observed import SECRET, process_snapshots, tree
from todoops import remote
from todoops.remote.hosts import each_host
from todoops.remote.sync import SYNC_MANIFEST, SyncPlan, sync
from todoops.commands import probe, run
from todoops.errors import ExitCode
from todoops.redaction import REDACTOR, spellings

def test_commands_run_over_ssh_with_the_host_before_every_line(sshd, settings_for, capfd):
    cfg = settings_for(sshd)
    with remote.on_host(Context(), cfg) as c:
        run(c, ["sh", "-c", "echo first; echo second >&2"])
        assert probe(c, ["id", "-un"]).stdout.strip() == sshd.target.split("@")[0]
    out, err = capfd.readouterr()
    prefix = f"[{sshd.target}] "
    assert f"{prefix}first\n" in out and f"{prefix}second\n" in err
    assert f"{prefix}$ sh -c" in err


def test_sync_sends_only_what_dockerignore_lets_in_and_never_env(sshd, settings_for, project, remote_dir):
    cfg = settings_for(sshd)
    with remote.on_host(Context(), cfg) as c:
        plan = sync(c, cfg, str(remote_dir))
    assert sorted(tree(remote_dir)) == sorted([
        "backend/.dockerignore", "backend/Dockerfile", "backend/app/main.py", "frontend/.dockerignore",
        "frontend/Dockerfile", "frontend/src/page.tsx", "helm/todo-app/Chart.yaml", "k8s/00-namespace.yaml",
        SYNC_MANIFEST])
    assert set(plan.send) == set(tree(remote_dir)) - {SYNC_MANIFEST}
    assert tree(remote_dir)["backend/app/main.py"] == (project / "backend/app/main.py").read_bytes()


def test_sync_is_incremental_and_mirrors_deletions(sshd, settings_for, project, remote_dir):
    cfg = settings_for(sshd)
    with remote.on_host(Context(), cfg) as c:
        first = sync(c, cfg, str(remote_dir))
        second = sync(c, cfg, str(remote_dir))
        (project / "backend/app/main.py").write_text("print('changed')\n")
        (project / "backend/debug.log").write_text("ignored files never travel")
        changed = sync(c, cfg, str(remote_dir))
        (project / "frontend/src/page.tsx").unlink()
        deleted = sync(c, cfg, str(remote_dir))
    assert len(first.send) == 8 and not first.delete
    assert second.empty
    assert changed == SyncPlan(send=("backend/app/main.py",), delete=())
    assert deleted == SyncPlan(send=(), delete=("frontend/src/page.tsx",))
    files = tree(remote_dir)
    assert files["backend/app/main.py"] == b"print('changed')\n"
    # The emptied folder goes too: the remote tree is exactly what docker would see.
    assert not (remote_dir / "frontend/src").exists() and "frontend/src/page.tsx" not in files


def test_a_command_naming_a_project_file_syncs_first_and_runs_in_the_working_folder(
        sshd, settings_for, project, remote_dir):
    cfg = settings_for(sshd)
    with remote.on_host(Context(), cfg) as c:
        assert probe(c, ["docker", "--version"]).ok
        assert not remote_dir.exists(), "a command that names no project file must not sync"
        shown = probe(c, ["cat", str(project / "backend/app/main.py")])
        where = probe(c, ["pwd"])
    assert shown.stdout == "print('hello')\n"
    assert where.stdout.strip() == str(remote_dir)


def test_a_dry_run_changes_nothing_on_the_remote(sshd, settings_for, project, remote_dir, capfd):
    cfg = replace(settings_for(sshd), dry_run=True)
    with remote.on_host(Context(), cfg) as c:
        run(c, ["docker", "build", str(project / "backend")], mutates=True, dry_run=True)
        probe(c, ["ls", str(project / "backend")])
    assert not remote_dir.exists()
    assert "8 file(s) would be sent" in capfd.readouterr().err


def test_secrets_travel_on_ssh_stdin_only(sshd, settings_for, project, remote_dir, capfd):
    REDACTOR.add(SECRET)
    payload = "apiVersion: v1\nkind: Secret\ndata:\n  JWT_SECRET: " + base64.b64encode(SECRET.encode()).decode()
    payload += f"\nstringData:\n  DATABASE_URL: postgresql://app:{SECRET}@db/app\n"
    cfg = settings_for(sshd)
    with process_snapshots() as snapshots, remote.on_host(Context(), cfg) as c:
        # Like `kubectl apply -f -`: reads the payload, runs a while, in the working folder.
        run(c, ["cat", str(project / "k8s/00-namespace.yaml")], hide=True)
        received = run(c, ["sh", "-c", "sleep 0.5; sha256sum; sleep 0.5"], stdin=payload)
    assert received.stdout.split()[0] == hashlib.sha256(payload.encode()).hexdigest()
    assert len(snapshots) > 10
    forms = spellings(SECRET)
    leaks = {
        "process list": "\n".join(snapshots),
        "shell history": sshd.history.read_text() if sshd.history.exists() else "",
        "home history": (Path.home() / ".bash_history").read_text(errors="replace")
        if (Path.home() / ".bash_history").exists() else "",
        "remote working folder": "\n".join(data.decode(errors="replace") for data in tree(remote_dir).values()),
        "output": "".join(capfd.readouterr()),
    }
    assert tree(remote_dir), "the working folder was synced, so it was really checked"
    for where, text in leaks.items():
        assert not [form for form in forms if form in text], f"the secret leaked into the {where}"


def _assert_refused(cfg, target: str, code: ExitCode, *words: str) -> str:
    with pytest.raises(Exit) as raised:
        with remote.on_host(Context(), cfg) as c:
            run(c, ["touch", str(cfg.root / "k8s/touched")])
    message = str(raised.value.message)
    assert raised.value.code == code, message
    assert target in message, message
    for word in words:
        assert word in message, message
    return message


@pytest.fixture
def unchanged(project, remote_dir, sshd):
    """Asserts afterwards that neither the project, the known_hosts file nor the remote folder changed."""
    before = (tree(project), sshd.known_hosts.read_bytes())
    yield
    assert (tree(project), sshd.known_hosts.read_bytes()) == before
    assert not remote_dir.exists()


def test_unknown_host_is_named(sshd, settings_for, monkeypatch, unchanged):
    import socket

    real = socket.getaddrinfo

    # The resolver's answer for a name that does not exist, without asking a DNS server.
    def resolve(host, *args, **kwargs):
        if host == "nosuch.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    _assert_refused(settings_for(sshd, host="me@nosuch.invalid"), "me@nosuch.invalid", ExitCode.UNREACHABLE,
                    "cannot resolve")


def test_refused_connection_is_named(sshd, settings_for, unchanged):
    from tests.remote.conftest import free_port

    target = f"root@127.0.0.1:{free_port()}"
    _assert_refused(settings_for(sshd, host=target), target, ExitCode.UNREACHABLE, "refused the connection")


def test_wrong_key_is_named(sshd, settings_for, tmp_path, unchanged):
    other = keygen(tmp_path / "other_key")
    _assert_refused(settings_for(sshd, identity_file=str(other)), sshd.target, ExitCode.PREFLIGHT,
                    "did not accept")


def test_host_key_mismatch_is_named(sshd, settings_for, tmp_path, unchanged):
    impostor = keygen(tmp_path / "impostor_host_key")
    kind, key = impostor.with_suffix(".pub").read_text().split()[:2]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"{sshd.host_entry} {kind} {key}\n")
    message = _assert_refused(settings_for(sshd, known_hosts_file=str(known_hosts)), sshd.target,
                              ExitCode.PREFLIGHT, "does not match")
    assert known_hosts.read_text() == f"{sshd.host_entry} {kind} {key}\n"
    assert "ssh-keygen -R" in message


def test_unknown_host_key_is_refused_when_strict(sshd, settings_for, tmp_path, unchanged):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    _assert_refused(settings_for(sshd, known_hosts_file=str(known_hosts)), sshd.target, ExitCode.PREFLIGHT,
                    "not in", "strict")
    assert known_hosts.read_text() == ""


def test_accept_new_trusts_a_new_host_once(sshd, settings_for, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    with remote.on_host(Context(), settings_for(sshd, known_hosts="accept-new",
                                                known_hosts_file=str(known_hosts))) as c:
        assert probe(c, ["true"]).ok
    assert known_hosts.read_text().split() == sshd.known_hosts.read_text().split()
    with remote.on_host(Context(), settings_for(sshd, known_hosts_file=str(known_hosts))) as c:
        assert probe(c, ["true"]).ok


def test_remote_missing_docker_is_named(sshd_without_docker, settings_for, project, remote_dir):
    before = tree(project)
    cfg = settings_for(sshd_without_docker)
    with pytest.raises(Exit) as raised:
        with remote.on_host(Context(), cfg) as c:
            assert not probe(c, ["sh", "-c", "command -v docker"]).ok, "precondition: no docker on the PATH"
            run(c, ["docker", "version"])
    message = str(raised.value.message)
    assert raised.value.code == ExitCode.PREFLIGHT
    assert sshd_without_docker.target in message and "docker" in message and "not found" in message
    assert tree(project) == before and not remote_dir.exists()


def test_jump_host(sshd, settings_for):
    # The server is its own jump host: the hop's channel reaches the same port.
    with remote.on_host(Context(), settings_for(sshd, jump_host=sshd.target)) as c:
        assert probe(c, ["echo", "through the jump"]).stdout == "through the jump\n"


def test_ssh_config_supplies_name_port_user_key_and_known_hosts(sshd, settings_for, tmp_path):
    config = tmp_path / "ssh_config"
    user = sshd.target.split("@")[0]
    config.write_text(f"Host devbox\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User {user}\n"
                      f"  IdentityFile {sshd.user_key}\n  UserKnownHostsFile {sshd.known_hosts}\n")
    cfg = settings_for(sshd, host="devbox", identity_file="", known_hosts="", known_hosts_file="",
                       config_file=str(config))
    with remote.on_host(Context(), cfg) as c:
        assert probe(c, ["id", "-un"]).stdout.strip() == user


def test_each_host_visits_every_host_and_keeps_the_failed_ones_error(sshd, settings_for):
    from tests.remote.conftest import free_port

    closed = f"root@127.0.0.1:{free_port()}"
    cfg = settings_for(sshd, host=f"{closed},{sshd.target}")
    outcomes = each_host(Context(), cfg, lambda c: probe(c, ["echo", "ok"]).stdout)
    # The unreachable first host does not stop the visit of the second.
    assert [(outcome.host, outcome.value) for outcome in outcomes] == [(closed, None), (sshd.target, "ok\n")]
    assert outcomes[0].code == ExitCode.UNREACHABLE and closed in outcomes[0].error
    assert not outcomes[1].error


def test_only_one_host_for_single_host_tasks(sshd, settings_for):
    with pytest.raises(Exit) as raised:
        with remote.on_host(Context(), settings_for(sshd, host=f"{sshd.target},{sshd.target}")):
            pass
    assert raised.value.code == ExitCode.BAD_INPUT


def test_doctor_over_ssh_finds_what_doctor_finds_here(sshd, settings_for):
    from todoops import preflight

    cfg = settings_for(sshd)
    local, _ = preflight.gather(Context(), cfg)
    with remote.on_host(Context(), cfg) as c:
        far, _ = preflight.gather(c, cfg)
    # The "remote" is this machine: same tools, daemon and kubeconfig, so the same verdicts
    # (details such as a tool's version may differ: the SSH login shell has its own PATH).
    assert [(check.name, check.status) for check in far] == [(check.name, check.status) for check in local]


def test_doctor_names_the_host_that_lacks_docker(sshd_without_docker, settings_for, project, remote_dir):
    from todoops import preflight

    before = tree(project)
    cfg = settings_for(sshd_without_docker)
    checks = remote.checks_everywhere(Context(), cfg, lambda c: preflight.gather(c, cfg)[0])
    assert (f"{sshd_without_docker.target}: docker", "fail", "not installed") in [
        (check.name, check.status, check.detail) for check in checks]
    with pytest.raises(Exit) as raised:
        preflight.require(checks, "doctor found problems")
    assert raised.value.code >= ExitCode.PREFLIGHT
    assert f"{sshd_without_docker.target}: docker: not installed" in str(raised.value.message)
    assert tree(project) == before and not remote_dir.exists()


def test_a_build_dry_run_over_ssh_plans_without_touching_the_remote(sshd, settings_for, project, remote_dir,
                                                                     capfd):
    from todoops import images
    from todoops.report import Report

    cfg = replace(settings_for(sshd), dry_run=True)
    with remote.on_host(Context(), cfg) as c:
        built = images.build(c, cfg, Report())
    err = capfd.readouterr().err
    assert {image.name for image in built} == {"backend", "frontend"}
    # Counted, not split into lines: the two builds echo from parallel threads.
    assert err.count(f"[{sshd.target}] [backend] [dry-run] env DOCKER_BUILDKIT") == 1, err
    assert err.count(f"[{sshd.target}] [frontend] [dry-run] env DOCKER_BUILDKIT") == 1, err
    assert not remote_dir.exists()
