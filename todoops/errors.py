"""The suite's error style: one exception type, a hint, and a distinct exit code.

Exit codes are part of the interface: CI scripts branch on them, so each class
of failure keeps its number forever.
"""
from enum import IntEnum
from typing import NoReturn

from invoke import Exit

from .redaction import REDACTOR


class ExitCode(IntEnum):
    FAILED = 1  # a command or step failed
    BAD_INPUT = 2  # bad flag, config or .env: nothing was changed
    PREFLIGHT = 3  # a prerequisite is missing (tool, daemon, context)
    UNREACHABLE = 4  # the cluster cannot be reached
    NOT_DEPLOYED = 5  # validate found nothing deployed
    UNHEALTHY = 6  # validate found the deployment unhealthy
    ROLLOUT = 7  # a rollout did not become ready
    INTERRUPTED = 130  # stopped by Ctrl-C (128 + SIGINT, as shells report it)


def fail(message: str, hint: str, code: ExitCode = ExitCode.FAILED) -> NoReturn:
    """Stop the task with an actionable message; invoke prints it and exits ``code``."""
    raise Exit(REDACTOR(f"error: {message}\nhint: {hint}"), code=int(code))
