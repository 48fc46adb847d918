"""Checks as data: the rows of `doctor`, deploy's preflight and `validate`.

A check has a name, a status (ok, warn or fail), what was found and, when it
is not ok, the fix; a failed one carries the exit code it maps to. `show`
prints them as a table (and JSON with ``--json``); `require` stops on the
failed ones with every message and fix at once.
"""
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from .errors import ExitCode, fail
from .report import Report


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    hint: str = ""
    # The exit code this check's failure maps to.
    code: ExitCode = ExitCode.PREFLIGHT


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def show(report: Report, checks: Sequence[Check]) -> None:
    """The checks as a table (and as JSON in ``--json`` mode)."""
    report.table(["check", "status", "detail", "hint"],
                 [[check.name, check.status, check.detail, check.hint if check.status != "ok" else ""]
                  for check in checks])
    report.emit([{**asdict(check), "code": int(check.code)} for check in checks])


def require(checks: Iterable[Check], what: str) -> None:
    """Stop with every failed check (message and fix) and the most serious exit code."""
    failed = [check for check in checks if check.status == "fail"]
    if failed:
        fail(f"{what}: " + "; ".join(f"{check.name}: {check.detail}" for check in failed),
             "; ".join(f"{check.name}: {check.hint}" for check in failed) + "; nothing was changed",
             max(check.code for check in failed))
