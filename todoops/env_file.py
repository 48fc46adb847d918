""".env and .env.example read and checked, never loaded into ``os.environ``.

Assumptions: the keys are those of ``.env.example``, whose values are dummies.
Both files are parsed with python-dotenv's parser (no ``${VAR}`` expansion) and
every secret value is registered with the redaction filter the moment it is read.
Messages name known keys and line numbers, never values or unknown text: a
line that is not an assignment may be half of a wrapped secret.
"""
import difflib
import io
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from dotenv.parser import parse_stream

from .config import Settings
from .env_keys import KEYS, KeySpec, env_problems, register
from .errors import ExitCode, fail

KEY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def key_specs(root: Path) -> tuple[KeySpec, ...]:
    """One spec per key of .env.example (known rules, else an optional secret), with its dummy value."""
    example = root / ".env.example"
    if not example.is_file():
        return KEYS
    known = {spec.name: spec for spec in KEYS}
    examples, _ = parse_env(example.read_text(), None)
    return tuple(replace(known.get(name, KeySpec(name)), example=value) for name, value in examples.items())


def line_list(numbers: Iterable[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"lines 1-3, 7"``: a symlinked key file must not give one problem per line."""
    runs: list[list[int]] = []
    for number in sorted(set(numbers)):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    text = ", ".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)
    return ("lines " if len(runs) > 1 or len(runs[0]) > 1 else "line ") + text


def _first_line(binding) -> int:
    # The parser hands blank lines to the binding after them; count them to name the line itself.
    text = binding.original.string
    return binding.original.line + text[:len(text) - len(text.lstrip())].count("\n")


def parse_env(text: str, known: Collection[str] | None) -> tuple[dict[str, str], list[str]]:
    """.env text -> (values, problems); pure. ``known`` None accepts any key (reading .env.example).

    Problems name line numbers and known keys only: a line without "=" or with
    an unknown key may be a wrapped value, a pasted "KEY: value" or some other
    file behind a symlink.
    """
    values: dict[str, str] = {}
    malformed, unknown, seen = [], defaultdict(list), defaultdict(list)
    for binding in parse_stream(io.StringIO(text)):
        if not binding.error and binding.key is None:
            continue  # a comment or blank lines
        line = _first_line(binding)
        if binding.error or binding.value is None or not KEY_NAME.match(binding.key):
            malformed.append(line)
        elif known is not None and binding.key not in known:
            guess = difflib.get_close_matches(binding.key, list(known), n=1)
            unknown[guess[0] if guess else ""].append(line)
        else:
            seen[binding.key].append(line)
            values[binding.key] = binding.value
    problems = [f"{line_list(malformed)} {'is' if len(malformed) == 1 else 'are'} not KEY=VALUE: "
                "fix the quoting or add the '=' (the content is not shown, it may be a secret)"] if malformed else []
    problems += [f"{line_list(lines)} set{'s' if len(lines) == 1 else ''} a key .env.example does not have"
                 + (f" (did you mean {guess}?)" if guess else "") + ": fix the spelling or add it to .env.example"
                 for guess, lines in unknown.items()]
    problems += [f"{line_list(lines)} all set {name}: keep one" for name, lines in seen.items() if len(lines) > 1]
    return values, problems


def read_env(path: Path, specs: Mapping[str, KeySpec]) -> tuple[dict[str, str], list[str]]:
    """The values of a .env file and the problems of its syntax; secrets are registered first."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}, [f"{path} does not exist: copy .env.example to it (empty values are generated) "
                    "or run `invoke prepare-secrets` on a terminal"]
    except (OSError, UnicodeDecodeError) as error:
        return {}, [f"cannot read {path} ({type(error).__name__}): make it a readable UTF-8 text file"]
    values, problems = parse_env(text, specs)
    for key, value in values.items():
        register(key, value, specs)
    return values, [f"{path.name} {problem}" for problem in problems]


def check_env(cfg: Settings, path: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """Read and check .env (or ``path``) without touching the cluster: (values, problems)."""
    specs = key_specs(cfg.root)
    values, problems = read_env(path or cfg.env_file, {spec.name: spec for spec in specs})
    return values, problems + (env_problems(values, specs) if values else [])


def env_values(cfg: Settings, path: Path | None = None, terminal: bool = False) -> dict[str, str]:
    """The values .env (or ``path``) gives, or stop (bad input) before anything changed.

    On a ``terminal`` a missing file is fine: every value is asked for.
    """
    path = path or cfg.env_file
    values, problems = check_env(cfg, path)
    if problems and not (terminal and not path.exists()):
        fail("; ".join(problems), "fix .env (see .env.example); nothing was changed", ExitCode.BAD_INPUT)
    return values
