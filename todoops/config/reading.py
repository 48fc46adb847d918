"""Reading one layer against the schema: every problem noted with its key and source, then refused at once.

A problem names the key (``todoops.a.b``), where the value came from
(invoke.yaml, an ``INVOKE_TODOOPS_*`` variable, the command line) and what its
kind expects; never the value, which may be a secret pasted in the wrong place.
"""
import os
from collections.abc import Callable, Mapping
from difflib import get_close_matches

from invoke import Config

from ..errors import ExitCode, fail
from .schema import DEFAULTS, ENV_PREFIX, SCHEMA, Key, dotted, env_name, leaves

Source = Callable[[tuple[str, ...]], str]


def problem(path: tuple[str, ...], source: str, expected: str) -> str:
    return f"{dotted(path)} (from {source}) is not {expected}"


def not_a_section(path: tuple[str, ...], source: str, value: object) -> str:
    """invoke cannot merge a null or a value where a section goes."""
    return (f"{dotted(path)} (from {source}) is not a section (settings indented below it)"
            + (": it is empty, remove the line or add settings" if value is None else ""))


def read_value(key: Key, value: object, path: tuple[str, ...], source: str, problems: list[str]) -> object:
    """``value`` read by its key's kind; on failure a problem is noted and the default returned."""
    try:
        return key.kind.read(value)
    except Exception:  # noqa: BLE001 - any reader error is the same bad input; the value is never shown
        problems.append(problem(path, source, key.kind.expected))
        return key.default


def read_tree(tree: object, source: Source, problems: list[str], schema: Mapping = SCHEMA,
              path: tuple[str, ...] = ()) -> dict:
    """A layer's (nested) mapping read against ``schema``: unknown keys, wrong shapes and bad values are noted."""
    if not isinstance(tree, Mapping):
        problems.append(not_a_section(path, source(path), tree))
        return {}
    result = {}
    for name, value in tree.items():
        where = (*path, str(name))
        entry = schema.get(name) if isinstance(name, str) else None
        if entry is None:
            guess = get_close_matches(str(name), list(schema), n=1)
            problems.append(f"{dotted(where)} (from {source(where)}) is not a setting"
                            + (f": did you mean {dotted((*path, guess[0]))}?" if guess else ""))
        elif isinstance(entry, Mapping):
            result[name] = read_tree(value, source, problems, entry, where)
        elif value is None or isinstance(value, Mapping):
            problems.append(problem(where, source(where), entry.kind.expected)
                            + (": it is empty, remove the line or give a value" if value is None else ""))
        else:
            result[name] = read_value(entry, value, where, source(where), problems)
    return result


def refuse(problems: list[str], hint: str) -> None:
    if problems:
        fail("; ".join(problems), hint, ExitCode.BAD_INPUT)


def environment_names(environ: Mapping[str, str] = os.environ) -> set[str]:
    """The INVOKE_TODOOPS_* variables that are set: names only, values stay with invoke."""
    return {name for name in environ if name.startswith(ENV_PREFIX)}


def unknown_variables(names: set[str]) -> list[str]:
    known = {env_name(path) for path, _ in leaves()}
    return [f"{name} is not a setting" + (f": did you mean {guess[0]}?" if (guess := get_close_matches(
        name, sorted(known), n=1)) else "") for name in sorted(names - known)]


def unknown_top_level(config: Mapping) -> list[str]:
    known = set(Config.global_defaults()) | set(DEFAULTS)
    return [f"{key} is not a section invoke or todoops reads" for key in sorted(config) if key not in known]
