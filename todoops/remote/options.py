"""SSH options: explicit ``todoops.ssh`` settings first, then the user's SSH config, then defaults.

Assumptions:
- ``ssh_config`` is the lookup of one host in the user's SSH config as paramiko
  returns it: lower-case keys, string values, and lists for options that may
  name several files.
- Host keys are checked strictly by default (unknown or changed keys refused);
  fabric's own default would accept any key.
"""
from collections.abc import Mapping
from pathlib import Path

from ..errors import ExitCode, fail
from .targets import Target, parse_targets

HOST_KEY_POLICIES = ("strict", "accept-new")
# OpenSSH's StrictHostKeyChecking values, as the policy they amount to here. "no"
# still never accepts a changed key: that is always refused.
SSH_CONFIG_POLICIES = {"yes": "strict", "ask": "strict", "accept-new": "accept-new", "no": "accept-new",
                       "off": "accept-new"}


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
