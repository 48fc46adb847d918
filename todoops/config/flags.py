"""Task flags: the last layer of the settings, and a task's own flags read by the same kinds.

A flag that is left out arrives as None and leaves the layers below it alone;
a flag a task passes on as a top-level setting is read by that setting's kind,
so ``rollout.wait --timeout 3m`` and ``INVOKE_TODOOPS_ROLLOUT_TIMEOUT=3m`` mean the same.
"""
from collections.abc import Mapping

from ..errors import ExitCode, fail
from .kinds import Kind
from .reading import read_value
from .schema import Key, leaves

# The settings a task flag can set: the top-level ones (a section has no flag).
FLAG_KEYS = {path[0]: key for path, key in leaves() if len(path) == 1}


def read_flags(flags: Mapping[str, object], problems: list[str]) -> dict:
    """Task flags that were given (None: not given), read by their key's kind like every other layer."""
    read = {}
    for name, value in flags.items():
        if value is None:
            continue
        key = FLAG_KEYS.get(name)
        read[name] = value if key is None else read_value(key, value, (name,), "the command line", problems)
    return read


def read_flag(kind: Kind, value: object, flag: str) -> object:
    """A task's own flag (not a setting) read by a schema kind: None when not given, exit 2 when unreadable."""
    problems: list[str] = []
    read = None if value is None else read_value(Key(kind, None), value, (), flag, problems)
    if problems:
        fail(f"{flag} is not {kind.expected}", f"pass a valid value to {flag} or leave it out", ExitCode.BAD_INPUT)
    return read


def context_help(action: str = "use") -> str:
    """The ``--context`` help of every task that reaches the cluster."""
    return f"Kube context to {action} (a non-local one must be named here explicitly)."
