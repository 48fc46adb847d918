"""`invoke test`: every test suite the project has, one verdict.

Each suite installs what it needs (idempotently), runs, and reports counts.
A suite that runs no test fails the command: "nothing collected" is how a
broken test layout hides, so it never passes silently. The real-cluster
tests (tests/e2e, on a kind cluster they bring up when none runs) run only
when asked for or in CI: a cluster that happens to be up is no reason to spend
half an hour on them.
"""
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from invoke import Context, task

from .commands import Argv, run
from .config import resolve
from .errors import ExitCode, fail
from .report import Report


@dataclass(frozen=True)
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.passed + other.passed, self.failed + other.failed, self.skipped + other.skipped)

    def __str__(self) -> str:
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"


# Colour codes (vitest colours even through a pipe) would split the closing line's words.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def _count(pattern: str, text: str) -> int:
    return sum(int(n) for n in re.findall(pattern, text))


def pytest_counts(output: str) -> Counts:
    """Counts from pytest's closing line, e.g. ``3 failed, 10 passed, 1 skipped in 2.1s``."""
    closing = next((line for line in reversed(output.splitlines()) if re.search(r"\bin [\d.]+s\b", line)), "")
    return Counts(_count(r"(\d+) passed", closing),
                  _count(r"(\d+) failed", closing) + _count(r"(\d+) errors?", closing),
                  _count(r"(\d+) skipped", closing))


def vitest_counts(output: str) -> Counts:
    """Counts from vitest's ``Tests  2 failed | 10 passed (12)`` line."""
    closing = next((line for line in reversed(output.splitlines()) if re.match(r"\s*Tests\s", line)), "")
    return Counts(_count(r"(\d+) passed", closing), _count(r"(\d+) failed", closing),
                  _count(r"(\d+) skipped", closing))


def plain_counts(output: str) -> Counts:
    """Counts from the plain closing line ``N passed, N failed[, N skipped]`` our scripts print."""
    pattern = re.compile(r"^(?:\w+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$")
    match = next((m for line in reversed(output.splitlines()) if (m := pattern.match(line.strip()))), None)
    return Counts(int(match[1]), int(match[2]), int(match[3] or 0)) if match else Counts()


@dataclass(frozen=True)
class Suite:
    name: str
    # The suite exists when this path (relative to the root) does.
    marker: str
    setup: tuple[Argv, ...]
    command: Argv
    counts: Callable[[str], Counts]


def suites(root: Path, python: str = sys.executable) -> tuple[Suite, ...]:
    """Every suite, in the order they run: the backend's first, since the suite's smoke-flow tests
    and the browser test start the backend from its venv."""
    backend_python = str(root / "backend/.venv/bin/python")
    npm = ["npm", "--prefix", str(root / "frontend")]
    return (
        Suite("backend", "backend/pyproject.toml",
              ([python, "-m", "venv", str(root / "backend/.venv")],
               [backend_python, "-m", "pip", "install", "-q", "--require-hashes",
                "-r", str(root / "backend/requirements-dev.lock")],
               [backend_python, "-m", "pip", "install", "-q", "--no-deps", "-e", str(root / "backend")]),
              [backend_python, "-m", "pytest", "-q", str(root / "backend/tests")], pytest_counts),
        Suite("suite", "tests/unit", (), [python, "-m", "pytest", "-q", "-m", "not e2e", str(root / "tests")],
              pytest_counts),
        Suite("frontend", "frontend/package.json", ([*npm, "ci", "--no-audit", "--no-fund"],),
              [*npm, "test"], vitest_counts),
        Suite("browser", "frontend/e2e/run.mjs", (), [*npm, "run", "test:e2e"], plain_counts),
        Suite("frontend-image", "frontend/image-test/run.mjs", (), [*npm, "run", "test:image"], plain_counts),
        # Every test's duration in the log: the real-cluster tests take minutes each.
        Suite("e2e", "tests/e2e", (), [python, "-m", "pytest", "-q", "-m", "e2e", "--durations=0",
                                       str(root / "tests")], pytest_counts),
    )


def run_suite(c: Context, suite: Suite, report: Report) -> Counts:
    with report.step(f"{suite.name}: set up"):
        for argv in suite.setup:
            run(c, argv, mutates=True)
    started = time.monotonic()
    result = run(c, suite.command, warn=True)
    counts = suite.counts(ANSI_ESCAPE.sub("", result.stdout))
    if result.exited and not counts.failed:
        # Crashed before its summary, or pytest's "no tests collected" (exit 5).
        counts = Counts(counts.passed, counts.failed + 1, counts.skipped)
    if counts.passed + counts.failed == 0:
        counts = Counts(0, 1, counts.skipped)
        report.line("fail", f"{suite.name}: no test ran")
    report.line("fail" if counts.failed else "ok",
                f"{suite.name}: {counts} ({time.monotonic() - started:.1f}s)")
    return counts


def select(all_suites: tuple[Suite, ...], root: Path, names: tuple[str, ...], e2e: bool) -> list[Suite]:
    known = {suite.name for suite in all_suites}
    unknown = sorted(set(names) - known)
    if unknown:
        fail(f"unknown test suite(s): {', '.join(unknown)}", f"choose from: {', '.join(sorted(known))}",
             ExitCode.BAD_INPUT)
    wanted = [s for s in all_suites if (s.name in names if names else s.name != "e2e" or e2e)]
    return [suite for suite in wanted if (root / suite.marker).exists()]


def e2e_wanted(asked: bool, environ: Mapping[str, str] = os.environ) -> bool:
    """--e2e, or a CI run (``CI`` set to anything but a false word, as CI services set it)."""
    return asked or environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


@task(
    help={
        "suite": "Run only this suite (suite, backend, frontend, browser, frontend-image, e2e); repeatable.",
        "e2e": "Also run the end-to-end tests on a real kind cluster (the running `invoke cluster.up` one, "
               "else one they bring up and delete); the default when CI is set.",
    },
    iterable=["suite"],
)
def test(c, suite=None, e2e=False):
    """Run every test suite the project has; fails on any failure or when a suite runs no test."""
    cfg = resolve(c)
    report = Report()
    chosen = select(suites(cfg.root), cfg.root, tuple(suite or ()), e2e_wanted(e2e))
    results = {s.name: run_suite(c, s, report) for s in chosen}
    report.table(["suite", "passed", "failed", "skipped"],
                 [[name, str(n.passed), str(n.failed), str(n.skipped)] for name, n in results.items()])
    total = sum(results.values(), Counts())
    print(f"tests: {total}")
    if total.failed or not results:
        fail(f"{total.failed} test(s) failed" if results else "no test suite found",
             "read the failures above; re-run one suite with `invoke test --suite NAME`")
