"""Remote hosts: the suite's steps over SSH with fabric.

Assumptions:
- A step only runs commands through ``c.run`` (via todoops.commands), so a
  fabric ``Connection``, which is an invoke ``Context``, can stand in for the
  local one and the step runs on another machine unchanged.
- Steps still read project files locally (content tags, .env, manifests) and
  name them in commands by their local absolute path. The remote holds a copy
  of the project under its working folder, and the connection maps the local
  project root to that folder in every command, like a volume mount. The copy
  is synced the first time a command names a project path, so tasks that need
  no files (doctor, validate, clean) never write to the remote.
- The copy holds what remote commands read by path: each image's build context
  (only what its ``.dockerignore`` lets in), the chart and the rendered
  manifests. Never ``.env``: secret payloads travel on the command's SSH stdin.
- Host keys are checked strictly by default (unknown or changed keys refused);
  fabric's own default would accept any key.
- fabric is imported inside functions: ``invoke --list`` imports this module
  and must stay fast.
"""
import base64
import hashlib
import io
import json
import os
import re
import socket
import stat
import tarfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path, PurePosixPath

from invoke import Context, Exit, Task, UnexpectedExit
from invoke import task as invoke_task

from .commands import echo, probe, run
from .config import Settings, SshSettings
from .dockerignore import sent_files
from .errors import ExitCode, fail

TARGET = re.compile(
    r"^(?:(?P<user>[A-Za-z0-9._][A-Za-z0-9._-]*)@)?"
    r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?$")
HOST_KEY_POLICIES = ("strict", "accept-new")
# OpenSSH's StrictHostKeyChecking values, as the policy they amount to here. "no"
# still never accepts a changed key: that is always refused.
SSH_CONFIG_POLICIES = {"yes": "strict", "ask": "strict", "accept-new": "accept-new", "no": "accept-new",
                       "off": "accept-new"}
# invoke's ``cd`` escapes spaces only, so the working folder is limited to safe characters.
SAFE_REMOTE_DIR = re.compile(r"^[A-Za-z0-9._/~-]+$")
CONNECT_TIMEOUT = 15
# The remote's record of what was synced, so the next sync sends only what changed.
SYNC_MANIFEST = ".todoops-sync.json"
# Runs on the remote: create the folder, delete what was removed locally ($@), unpack
# the base64 tar.gz from stdin (base64 because invoke passes stdin as text), prune
# folders left empty. Values arrive as positional arguments, never inside the script.
SYNC_SCRIPT = ('set -e; mkdir -p "$1"; cd "$1"; shift; if [ "$#" -gt 0 ]; then rm -f -- "$@"; fi; '
               'base64 -d | tar -xzf - --no-same-owner; find . -mindepth 1 -depth -type d -empty -delete')


class HostTask(Task):
    """A task with --host: its short flag is -o, so -h stays help (`invoke deploy -h`)."""

    def arg_opts(self, name, default, taken_names):
        return super().arg_opts(name, default, taken_names | {"h"})


def task(*args, **kwargs):
    """``invoke.task`` for the tasks that take --host."""
    return invoke_task(*args, klass=HostTask, **kwargs)


@dataclass(frozen=True)
class Target:
    """One remote machine as given on --host: ``[user@]machine[:port]``."""

    host: str
    user: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{user}{self.host}{port}"


def parse_target(text: str) -> Target:
    match = TARGET.match(text.strip())
    port = int(match["port"]) if match and match["port"] else None
    if not match or (port is not None and not 0 < port < 65536):
        fail(f"host {text!r} is not user@machine[:port]",
             "e.g. --host alice@devbox or --host alice@10.0.0.5:2222 (or a Host alias from your SSH config)",
             ExitCode.BAD_INPUT)
    return Target(match["host"].strip("[]"), match["user"], port)


def parse_targets(hosts: str) -> tuple[Target, ...]:
    """The comma-separated ``todoops.host`` / ``--host`` value; empty means local."""
    return tuple(parse_target(item) for item in hosts.split(",") if item.strip())


# -- SSH options: explicit settings first, then the user's SSH config, then defaults.

def host_key_policy(setting: str, ssh_config: Mapping[str, str]) -> str:
    if setting:
        if setting not in HOST_KEY_POLICIES:
            fail(f"ssh.known_hosts {setting!r} is not a host key policy",
                 f"choose one of: {', '.join(HOST_KEY_POLICIES)}", ExitCode.BAD_INPUT)
        return setting
    return SSH_CONFIG_POLICIES.get(ssh_config.get("stricthostkeychecking", "yes").lower(), "strict")


def known_hosts_path(setting: str, ssh_config: Mapping[str, str | list]) -> Path:
    configured = ssh_config.get("userknownhostsfile")
    # paramiko splits the option into a list; OpenSSH uses the first file for new keys.
    first = configured[0] if isinstance(configured, list) else (configured or "").split(" ")[0]
    return Path(setting or first or "~/.ssh/known_hosts").expanduser()


def auth_kwargs(identity_file: str) -> dict:
    """paramiko connect arguments: an explicit identity is the only key offered (IdentitiesOnly)."""
    if not identity_file:
        return {}
    return {"key_filename": [str(Path(identity_file).expanduser())], "allow_agent": False,
            "look_for_keys": False}


def jump_hops(setting: str, ssh_config: Mapping[str, str]) -> tuple[Target, ...]:
    """The ProxyJump chain, first hop first; "none" in the SSH config disables it."""
    chain = setting or ssh_config.get("proxyjump", "")
    return () if chain.lower() == "none" else parse_targets(chain)


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


# -- Sync: only changed files travel, as one tar stream on stdin.

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


# -- Connections.

@cache
def _fabric_types() -> tuple[type, type]:
    """(RemoteContext, AcceptNewPolicy), built on first use so fabric loads only when needed."""
    from fabric import Connection
    from paramiko import MissingHostKeyPolicy

    class AcceptNewPolicy(MissingHostKeyPolicy):
        """OpenSSH's accept-new: trust an unknown host once by appending its key; changed keys still fail."""

        def __init__(self, path: Path) -> None:
            self.path = path

        def missing_host_key(self, client, hostname, key) -> None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as handle:
                handle.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")

    class RemoteContext(Connection):
        """A Connection that sees the project in its remote working folder.

        Commands naming the local project root get the remote folder instead;
        the first such command syncs the folder, and from then on commands run
        inside it. ``output_prefix`` makes todoops.commands start every line
        with the host.
        """

        # Class attributes: invoke turns assignments to unknown attributes into config keys.
        output_prefix = ""
        settings = None
        local_root = ""
        remote_root = ""
        synced = False
        # Parallel steps (the two image builds) wait for the one sync; reentrant
        # because the sync's own commands come back through run().
        sync_lock = threading.RLock()

        def run(self, command, **kwargs):
            remote_command = mapped(command, self.local_root, self.remote_root) if self.local_root else command
            if remote_command != command:
                with self.sync_lock:
                    self._sync_once()
            return super().run(remote_command, **kwargs)

        def _sync_once(self) -> None:
            if self.synced:
                return
            # Set first: the sync's own commands come back through run().
            self.synced = True
            sync(self, self.settings, self.remote_root)
            # A dry run leaves the folder as it was, possibly absent.
            if not self.settings.dry_run:
                self.command_cwds = [self.remote_root]

    return RemoteContext, AcceptNewPolicy


def connection(ssh: SshSettings, target: Target, gateway=None):
    """A not yet opened RemoteContext for ``target``, with host keys checked as configured."""
    from fabric import Config
    from paramiko import RejectPolicy

    remote_type, accept_new = _fabric_types()
    config = Config(runtime_ssh_path=str(Path(ssh.config_file).expanduser()) if ssh.config_file else None)
    options = config.base_ssh_config.lookup(target.host)
    if gateway is None:
        gateway = gateway_for(ssh, options)
    remote = remote_type(target.host, user=target.user, port=target.port, config=config, gateway=gateway,
                         connect_timeout=CONNECT_TIMEOUT, connect_kwargs=auth_kwargs(ssh.identity_file))
    known_hosts = known_hosts_path(ssh.known_hosts_file, options)
    if known_hosts.is_file():
        remote.client.load_host_keys(str(known_hosts))
    policy = host_key_policy(ssh.known_hosts, options)
    remote.client.set_missing_host_key_policy(accept_new(known_hosts) if policy == "accept-new"
                                              else RejectPolicy())
    return remote


def gateway_for(ssh: SshSettings, options: Mapping[str, str]):
    """The jump chain as connections checked like the target (fabric's own would accept any host
    key); else the SSH config's ProxyCommand; else False, meaning a direct connection."""
    hops = jump_hops(ssh.jump_host, options)
    if not hops:
        return options.get("proxycommand") or False
    # Hops use the same key and host key policy, and never jump again themselves.
    hop_settings = replace(ssh, jump_host="none")
    gateway = False
    for hop in hops:
        gateway = connection(hop_settings, hop, gateway=gateway)
    return gateway


def failure(error: BaseException, target: Target, known_hosts: Path) -> tuple[str, str, ExitCode]:
    """(message, hint, exit code) for a connection that could not be opened."""
    from paramiko.ssh_exception import (AuthenticationException, BadHostKeyException, NoValidConnectionsError,
                                        SSHException)

    port = target.port or 22
    if isinstance(error, socket.gaierror):
        return (f"cannot resolve host {target.host!r} ({target})",
                "check the name in --host / todoops.host, or add a Host entry for it to your SSH config",
                ExitCode.UNREACHABLE)
    if isinstance(error, (NoValidConnectionsError, ConnectionRefusedError)):
        return (f"{target} refused the connection on port {port}",
                "check that sshd runs there and listens on that port (the port goes after a colon)",
                ExitCode.UNREACHABLE)
    if isinstance(error, (TimeoutError, socket.timeout)):
        return (f"{target} did not answer on port {port} within {CONNECT_TIMEOUT}s",
                "check the address, the network path and firewalls (or set a jump host)", ExitCode.UNREACHABLE)
    if isinstance(error, BadHostKeyException):
        return (f"the host key of {target} does not match {known_hosts}: the machine was reinstalled, "
                "or someone is in the middle", "verify the new key out of band, then remove the old one with "
                f"`ssh-keygen -R '[{target.host}]:{port}' -f {known_hosts}` and connect again", ExitCode.PREFLIGHT)
    if isinstance(error, AuthenticationException):
        return (f"{target} did not accept any of the offered SSH keys",
                "check todoops.ssh.identity_file (or IdentityFile in your SSH config) and that its public "
                "key is in the remote user's authorized_keys", ExitCode.PREFLIGHT)
    if isinstance(error, SSHException) and "not found in known_hosts" in str(error):
        return (f"the host key of {target} is not in {known_hosts} and the host key policy is strict",
                f"check its fingerprint, then `ssh-keyscan -p {port} {target.host} >> {known_hosts}`; or set "
                "todoops.ssh.known_hosts to accept-new to trust it on first use", ExitCode.PREFLIGHT)
    return (f"cannot connect to {target}: {error}", "try `ssh` to the same host to see the SSH-level problem",
            ExitCode.UNREACHABLE)


def open_remote(cfg: Settings, target: Target):
    """A connected RemoteContext whose commands see the project in the remote working folder."""
    remote = connection(cfg.ssh, target)
    try:
        remote.open()
    except Exception as error:  # paramiko's errors share no base class beyond Exception
        close(remote)
        message, hint, code = failure(error, target, known_hosts_path(cfg.ssh.known_hosts_file,
                                                                      remote.ssh_config))
        fail(message, hint, code)
    home = probe(remote, ["pwd"]).stdout.strip()
    remote.settings = cfg
    remote.output_prefix = f"[{target}] "
    remote.local_root = str(cfg.root)
    remote.remote_root = remote_root(cfg.ssh.remote_dir, home, cfg.root.name)
    return remote


def close(remote) -> None:
    """Close the connection and every jump hop behind it (fabric leaves hops open)."""
    while remote:
        remote.close()
        remote = remote.gateway if not isinstance(remote.gateway, str) else None


def named(error: Exit, target: Target) -> Exit:
    """``error`` with the host in its first line, keeping its exit code."""
    message = str(error.message or "")
    if message.startswith("error: "):
        return Exit(f"error: on {target}: {message.removeprefix('error: ')}", code=error.code)
    return Exit(f"on {target}: {message}", code=error.code)


def command_failure(error: UnexpectedExit, target: Target) -> Exit:
    """A failed remote command as an Exit naming the host; 127 means a tool is missing there."""
    result = error.result
    if result.exited == 127:
        return named(Exit(f"error: a command was not found: {result.stderr.strip() or result.command}\n"
                          "hint: install it there, or put its folder on the PATH of non-interactive SSH "
                          "sessions (e.g. SetEnv in sshd_config)", code=int(ExitCode.PREFLIGHT)), target)
    return named(Exit(f"error: `{result.command}` failed with exit code {result.exited}\n"
                      "hint: see its output above", code=int(ExitCode.FAILED)), target)


@contextmanager
def on_target(cfg: Settings, target: Target) -> Iterator[Context]:
    """A connection to ``target`` for the block; any failure names the host; closed afterwards."""
    remote = open_remote(cfg, target)
    try:
        yield remote
    except UnexpectedExit as error:
        raise command_failure(error, target) from None
    except Exit as error:
        raise named(error, target) from None
    finally:
        close(remote)


@contextmanager
def on_host(c: Context, cfg: Settings) -> Iterator[Context]:
    """The Context a single-host task runs on: ``c`` itself without a host, else the connection."""
    targets = parse_targets(cfg.host)
    if not targets:
        yield c
        return
    if len(targets) > 1:
        fail(f"this task runs on one host, got {len(targets)}: {cfg.host}",
             "pass one --host; validate and doctor accept several", ExitCode.BAD_INPUT)
    with on_target(cfg, targets[0]) as remote:
        yield remote


@dataclass(frozen=True)
class HostOutcome:
    host: str
    value: object = None
    error: str = ""
    code: int = 0


def outcome_of(step: Callable[[Context], object], cfg: Settings, target: Target) -> HostOutcome:
    try:
        with on_target(cfg, target) as remote:
            return HostOutcome(str(target), value=step(remote))
    except Exit as error:
        return HostOutcome(str(target), error=str(error.message or ""), code=error.code)


def checks_everywhere(c: Context, cfg: Settings, gather: Callable[[Context], list]) -> list:
    """``gather(c)`` on every host (here without one); remote checks are named after their host.

    A host that could not be checked (unreachable, refused, a failed read) becomes
    one failed check of its own, with its message, hint and exit code: it never
    hides the other hosts' results.
    """
    outcomes = each_host(c, cfg, gather)
    if not parse_targets(cfg.host):
        return outcomes[0].value
    return [check for outcome in outcomes for check in host_checks(outcome)]


def host_checks(outcome: HostOutcome) -> list:
    if not outcome.error:
        return [replace(check, name=f"{outcome.host}: {check.name}") for check in outcome.value]
    # preflight imports this module for its tasks: importing Check at the top would be circular.
    from .checks import Check

    message, _, hint = outcome.error.partition("\nhint: ")
    detail = message.removeprefix("error: ").removeprefix(f"on {outcome.host}: ")
    code = next((code for code in ExitCode if code == outcome.code), ExitCode.FAILED)
    return [Check(f"{outcome.host}: host", "fail", detail, hint, code)]


def each_host(c: Context, cfg: Settings, step: Callable[[Context], object]) -> list[HostOutcome]:
    """Run ``step(c)`` on every host in turn (locally without a host).

    Every host is visited even after one failed: its outcome holds the error and
    exit code, so one run reports them all.
    """
    targets = parse_targets(cfg.host)
    if not targets:
        return [HostOutcome("local", value=step(c))]
    outcomes = []
    for target in targets:
        echo(f"== {target}")
        outcomes.append(outcome_of(step, cfg, target))
    return outcomes
