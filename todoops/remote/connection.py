"""The remote Context: a fabric Connection that runs the suite's steps on another machine.

Assumptions:
- A step only runs commands through ``c.run`` (via todoops.commands), so a
  fabric ``Connection``, which is an invoke ``Context``, can stand in for the
  local one and the step runs on another machine unchanged.
- Commands naming the local project root run against the remote's copy of the
  project (todoops.remote.sync). The copy is synced the first time a command
  names a project path, so tasks that need no files (doctor, validate, clean)
  never write to the remote.
- Host keys are checked strictly by default; jump hops are checked like the
  target.
- This is the only module that imports fabric and paramiko (slow to load);
  todoops.remote.hosts imports it only once a task is given a host, so
  ``invoke --list`` and local tasks never load them.
"""
import socket
import threading
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from fabric import Config, Connection
from paramiko import MissingHostKeyPolicy, RejectPolicy
from paramiko.ssh_exception import (AuthenticationException, BadHostKeyException, NoValidConnectionsError,
                                    SSHException)

from ..commands import probe
from ..config import Settings, SshSettings
from ..errors import ExitCode, fail
from .options import auth_kwargs, host_key_policy, jump_hops, known_hosts_path
from .sync import mapped, remote_root, sync
from .targets import Target

CONNECT_TIMEOUT = 15


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


def connection(ssh: SshSettings, target: Target, gateway=None) -> RemoteContext:
    """A not yet opened RemoteContext for ``target``, with host keys checked as configured."""
    config = Config(runtime_ssh_path=str(Path(ssh.config_file).expanduser()) if ssh.config_file else None)
    options = config.base_ssh_config.lookup(target.host)
    if gateway is None:
        gateway = gateway_for(ssh, options)
    remote = RemoteContext(target.host, user=target.user, port=target.port, config=config, gateway=gateway,
                           connect_timeout=CONNECT_TIMEOUT, connect_kwargs=auth_kwargs(ssh.identity_file))
    known_hosts = known_hosts_path(ssh.known_hosts_file, options)
    if known_hosts.is_file():
        remote.client.load_host_keys(str(known_hosts))
    policy = host_key_policy(ssh.known_hosts, options)
    remote.client.set_missing_host_key_policy(AcceptNewPolicy(known_hosts) if policy == "accept-new"
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


def open_remote(cfg: Settings, target: Target) -> RemoteContext:
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


def close(remote: RemoteContext) -> None:
    """Close the connection and every jump hop behind it (fabric leaves hops open)."""
    while remote:
        remote.close()
        remote = remote.gateway if not isinstance(remote.gateway, str) else None
