"""Output for people and for machines.

One line per step with its time, tables for checks, colour only on a terminal,
and ``--json`` for machines (human lines then go to stderr so stdout stays JSON).
"""
import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from .redaction import REDACTOR

COLOURS = {"ok": "32", "warn": "33", "fail": "31", "skip": "36", "info": "0"}


def as_done(dry_run: bool, past: str) -> str:
    """How a line names a change: ``past`` ("created", "written to F") once made, "would be ..." in a dry run.

    Every line that reports a change says it through here, so a dry run, which
    changes nothing, never reads as if it had.
    """
    return f"would be {past}" if dry_run else past


def _paint(status: str, text: str, stream) -> str:
    if not getattr(stream, "isatty", lambda: False)():
        return text
    return f"\033[{COLOURS.get(status, '0')}m{text}\033[0m"


@dataclass
class Report:
    json_mode: bool = False
    timings: list[tuple[str, float, str]] = field(default_factory=list)

    @property
    def stream(self):
        return sys.stderr if self.json_mode else sys.stdout

    def line(self, status: str, text: str) -> None:
        tag = _paint(status, f"[{status:^4}]", self.stream)
        print(REDACTOR(f"{tag} {text}"), file=self.stream, flush=True)

    @contextmanager
    def step(self, name: str, dry_run: bool = False) -> Iterator[None]:
        """Time a step and print one line when it ends, ok or failed.

        ``dry_run`` marks a step that only changes things (``name`` an imperative,
        "remove X"): in a dry run it ran nothing, so its line says "would" and "skip".
        """
        started = time.monotonic()
        status = "fail"
        try:
            yield
            status = "skip" if dry_run else "ok"
        finally:
            elapsed = time.monotonic() - started
            self.timings.append((name, elapsed, status))
            self.line(status, f"would {name} (dry run)" if status == "skip" else f"{name} ({elapsed:.1f}s)")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
        for index, row in enumerate([headers, *rows]):
            cells = [str(cell).ljust(width) for cell, width in zip(row, widths)]
            print(REDACTOR("  ".join(cells).rstrip()), file=self.stream)
            if index == 0:
                print("  ".join("-" * width for width in widths), file=self.stream)
        self.stream.flush()

    def emit(self, data: object) -> None:
        """The machine-readable result, on stdout, only in ``--json`` mode."""
        if self.json_mode:
            print(json.dumps(REDACTOR.data(data), indent=2, sort_keys=True), flush=True)
