"""Targets: the remote machines named by ``--host`` / ``todoops.host``.

Assumption: a target is ``[user@]machine[:port]``, where machine is a host
name, an SSH config Host alias or a bracketed IPv6 address; several are
separated by commas, and none means the local machine.
"""
import re
from dataclasses import dataclass

from ..errors import ExitCode, fail

TARGET = re.compile(
    r"^(?:(?P<user>[A-Za-z0-9._][A-Za-z0-9._-]*)@)?"
    r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?$")


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
