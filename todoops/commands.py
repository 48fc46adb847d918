"""The one place that runs external commands (todoops.processes: those that outlive one call).

Commands are argv lists, joined once with ``shlex.join`` so no value lands
unquoted in a shell string. Everything goes through the invoke Context, which
makes dry runs, MockContext tests and fabric remotes work the same way.
Output is streamed through the redaction filter; secrets travel on stdin only.
"""
import io
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from invoke import Context, Result

from .redaction import REDACTOR, RedactingStream

if TYPE_CHECKING:
    from .processes import Together

Argv = Sequence[str]
STDIN_CHUNK = 65536


@dataclass(frozen=True)
class Pipeline:
    """Commands whose stdout feeds the next one's stdin; fails if any stage fails."""

    stages: tuple[Argv, ...]

    def __str__(self) -> str:
        return "set -o pipefail; " + " | ".join(shlex.join(stage) for stage in self.stages)


def pipe(*stages: Argv) -> Pipeline:
    return Pipeline(tuple(tuple(stage) for stage in stages))


def command_line(command: Argv | Pipeline) -> str:
    """The exact shell line for ``command``."""
    if isinstance(command, Pipeline):
        return str(command)
    return shlex.join(command)


def echo(line: str) -> None:
    print(REDACTOR(line), file=sys.stderr, flush=True)


class PrefixedStream(io.TextIOBase):
    """Puts ``prefix`` before every line, so commands running side by side stay readable."""

    def __init__(self, target, prefix: str) -> None:
        self._target = target
        self._prefix = prefix

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._target.write("".join(self._prefix + line for line in text.splitlines(keepends=True)))
        return len(text)

    def flush(self) -> None:
        self._target.flush()


class StdinText(io.StringIO):
    """A command's stdin payload, handed to invoke in large chunks.

    invoke reads an ``in_stream`` that is not a terminal one character per 10 ms
    poll, which made a 20 KB manifest take minutes; ``read`` ignores that size hint.
    """

    def read(self, size: int | None = -1) -> str:
        return super().read(-1 if size is None or size < 0 else max(size, STDIN_CHUNK))


def _stream(target, prefix: str):
    return RedactingStream(PrefixedStream(target, prefix) if prefix else target)


def run(c: Context, command: Argv | Pipeline, *, mutates: bool = False, dry_run: bool = False,
        stdin: str | None = None, hide: bool = False, warn: bool = False, prefix: str = "",
        together: "Together | None" = None) -> Result:
    """Run ``command`` through ``c``.

    ``mutates`` marks commands that change something: in a dry run they are
    printed and not run, while read-only probes still run so the plan is real.
    ``hide`` captures output without showing it (probes); ``warn`` returns a
    failed Result instead of raising. ``prefix`` starts every echoed and
    streamed line (parallel commands); ``together`` is the ``processes.side_by_side``
    group of a command that runs beside others, so that it stops with them.
    """
    line = command_line(command)
    # A Context may name where its commands run (todoops.remote: the host), before every line.
    prefix = getattr(c, "output_prefix", "") + prefix
    if mutates and dry_run:
        echo(f"{prefix}[dry-run] {line}" + (" < (stdin)" if stdin is not None else ""))
        return Result(command=line, exited=0)
    if not hide:
        echo(f"{prefix}$ {line}")
    streams = [] if hide else [_stream(sys.stdout, prefix), _stream(sys.stderr, prefix)]
    try:
        return (together.run if together else c.run)(
            line,
            hide=hide,
            warn=warn,
            in_stream=StdinText(stdin) if stdin is not None else False,
            out_stream=streams[0] if streams else None,
            err_stream=streams[1] if streams else None,
            # A pty (`invoke --pty`, INVOKE_RUN_PTY=1) never delivers end-of-file, so a
            # command reading its stdin to the end would wait forever; and it merges
            # stderr into stdout, so captured output (JSON, a NotFound) would not parse.
            **({"pty": False} if stdin is not None or hide else {}),
        )
    finally:
        # A last line without its newline is shown once the command is done.
        for stream in streams:
            stream.finish()


def probe(c: Context, command: Argv | Pipeline) -> Result:
    """Run a read-only check quietly; the caller looks at ``.ok`` and ``.stdout``."""
    return run(c, command, hide=True, warn=True)
