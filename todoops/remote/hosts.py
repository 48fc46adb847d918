"""Where a task's steps run: here without a host, on the one host, or on each host in turn.

Assumptions:
- ``cfg.host`` holds the targets (todoops.remote.targets); empty means here,
  and the local Context is used as it is.
- Any failure on a host names that host and keeps its exit code; a task over
  several hosts visits them all, so one run reports every host.
- todoops.remote.connection (and so fabric) is imported only once a host is
  used: every task module imports this one, and ``invoke --list`` must stay fast.
"""
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from invoke import Context, Exit, UnexpectedExit

from ..checks import Check
from ..commands import echo
from ..config import Settings
from ..errors import ExitCode, fail
from .targets import Target, parse_targets


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
    from .connection import close, open_remote  # fabric loads here, once a host is used

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


def checks_everywhere(c: Context, cfg: Settings, gather: Callable[[Context], list[Check]]) -> list[Check]:
    """``gather(c)`` on every host (here without one); remote checks are named after their host.

    A host that could not be checked (unreachable, refused, a failed read) becomes
    one failed check of its own, with its message, hint and exit code: it never
    hides the other hosts' results.
    """
    outcomes = each_host(c, cfg, gather)
    if not parse_targets(cfg.host):
        return outcomes[0].value
    return [check for outcome in outcomes for check in host_checks(outcome)]


def host_checks(outcome: HostOutcome) -> list[Check]:
    if not outcome.error:
        return [replace(check, name=f"{outcome.host}: {check.name}") for check in outcome.value]
    message, _, hint = outcome.error.partition("\nhint: ")
    detail = message.removeprefix("error: ").removeprefix(f"on {outcome.host}: ")
    code = next((code for code in ExitCode if code == outcome.code), ExitCode.FAILED)
    return [Check(f"{outcome.host}: host", "fail", detail, hint, code)]
