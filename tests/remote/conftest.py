"""A real OpenSSH server for the remote tests, on 127.0.0.1 and a free port.

Each server gets its own folder: a throwaway host key and user key pair, its
own sshd_config (key login only, no PAM), a known_hosts file naming its key,
and a history file the sessions are pointed at (HISTFILE), so a test can prove
nothing landed there. The server is stopped by its PID in teardown. The remote
user is the local one, so "remote" files are visible to the test directly.
"""
import getpass
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from invoke import Context

from tests.conftest import context_config
from todoops.config import resolve

SSHD = Path("/usr/sbin/sshd")
# What the remote shell needs besides docker, for a server whose PATH lacks docker.
BASIC_TOOLS = ("sh", "bash", "cat", "env", "pwd", "ls", "mkdir", "rm", "find", "tar", "gzip", "base64",
               "sleep", "sha256sum", "id")


def pytest_configure(config):
    config.addinivalue_line("markers", "remote: starts a real sshd on 127.0.0.1 (tests/remote)")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/remote/" in str(item.fspath):
            item.add_marker(pytest.mark.remote)


@dataclass(frozen=True)
class Sshd:
    port: int
    folder: Path
    user_key: Path
    known_hosts: Path
    history: Path

    @property
    def target(self) -> str:
        return f"{getpass.getuser()}@127.0.0.1:{self.port}"

    @property
    def host_entry(self) -> str:
        return f"[127.0.0.1]:{self.port}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "todoops-test", "-f", str(path)],
                   check=True)
    return path


def sshd_config(folder: Path, port: int, env: Mapping[str, str]) -> str:
    set_env = " ".join(f"{name}={value}" for name, value in {"HISTFILE": folder / "history", **env}.items())
    return "\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {folder / 'host_key'}",
        f"PidFile {folder / 'sshd.pid'}", f"AuthorizedKeysFile {folder / 'authorized_keys'}",
        "PermitRootLogin prohibit-password", "PubkeyAuthentication yes", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "UsePAM no",
        # The throwaway files live under the world-writable /tmp, which StrictModes refuses.
        "StrictModes no", f"SetEnv {set_env}", ""])


def wait_listening(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited: {log.read_text()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"sshd did not listen on {port}: {log.read_text()}")


def start_sshd(folder: Path, env: Mapping[str, str] | None = None) -> tuple[Sshd, subprocess.Popen]:
    """A listening sshd whose sessions get ``env`` (sshd's SetEnv; values without spaces)."""
    if not SSHD.exists():
        pytest.fail("openssh-server is missing: `apt-get install openssh-server` (.ci/run installs it)")
    # Debian's sshd refuses to start without its privilege separation folder.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    host_key, user_key = keygen(folder / "host_key"), keygen(folder / "user_key")
    shutil.copy(user_key.with_suffix(".pub"), folder / "authorized_keys")
    known_hosts = folder / "known_hosts"
    kind, key = host_key.with_suffix(".pub").read_text().split()[:2]
    known_hosts.write_text(f"[127.0.0.1]:{port} {kind} {key}\n")
    (folder / "sshd_config").write_text(sshd_config(folder, port, env or {}))
    log = folder / "sshd.log"
    process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(folder / "sshd_config")],
                               stdout=subprocess.DEVNULL, stderr=log.open("w"))
    wait_listening(port, process, log)
    return Sshd(port, folder, user_key, known_hosts, folder / "history"), process


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    server, process = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    stop(process)


@pytest.fixture
def sshd_without_docker(tmp_path):
    """A server whose sessions' PATH holds basic tools only (no docker)."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in BASIC_TOOLS:
        (tools / name).symlink_to(shutil.which(name))
    server, process = start_sshd(tmp_path / "sshd", env={"PATH": str(tools)})
    yield server
    stop(process)


@pytest.fixture
def project(tmp_path) -> Path:
    """A small project: two build contexts with .dockerignore, a chart, manifests and a .env."""
    root = tmp_path / "project"
    files = {
        "backend/Dockerfile": "FROM python:3.11-slim\nCOPY . /app\n",
        "backend/.dockerignore": "**/__pycache__\n.venv\n*.log\n",
        "backend/app/main.py": "print('hello')\n",
        "backend/app/__pycache__/main.cpython-311.pyc": "bytecode",
        "backend/.venv/lib/site.py": "venv",
        "backend/debug.log": "log",
        "frontend/Dockerfile": "FROM node:20-slim\n",
        "frontend/.dockerignore": "node_modules\n",
        "frontend/src/page.tsx": "export default 1\n",
        "frontend/node_modules/react/index.js": "module",
        "helm/todo-app/Chart.yaml": "apiVersion: v2\nname: todo-app\nversion: 0.1.0\n",
        "k8s/00-namespace.yaml": "kind: Namespace\n",
        ".env": "JWT_SECRET=never-leaves-this-machine-123\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def ssh_settings(server: Sshd, remote_dir: Path, **overrides: str) -> dict:
    # An empty SSH config file keeps the developer's ~/.ssh/config out of the tests.
    empty_config = server.folder / "ssh_config"
    empty_config.touch()
    return {"identity_file": str(server.user_key), "known_hosts": "strict",
            "known_hosts_file": str(server.known_hosts), "jump_host": "", "remote_dir": str(remote_dir),
            "config_file": str(empty_config), **overrides}


@pytest.fixture
def remote_dir(tmp_path) -> Path:
    return tmp_path / "remote-work"


@pytest.fixture
def settings_for(project, remote_dir):
    """``settings_for(server, host=..., **ssh_overrides)``: resolved Settings for a remote run."""

    def factory(server: Sshd, host: str | None = None, **ssh: str):
        config = context_config(project, host=host or server.target, ssh=ssh_settings(server, remote_dir, **ssh))
        return resolve(Context(config=config))

    return factory
