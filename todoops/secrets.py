"""`invoke prepare-secrets`: .env -> a validated Kubernetes Secret, applied through stdin.

Assumptions: the keys are those of ``.env.example``, whose values are dummies.
``.env`` is parsed with python-dotenv's parser (never into ``os.environ``, no
``${VAR}`` expansion) and every secret value is registered with the redaction
filter the moment it is read, so no later line, error or echo can print it. The
Secret holds exactly what .env says: a key .env leaves out or empty is not in
it, except a generatable one (JWT_SECRET, POSTGRES_PASSWORD), which keeps the
value the cluster Secret already has (generated passwords stay stable and a
re-run changes nothing), else is asked for on a terminal, else generated.
Messages name known keys and line numbers, never values or unknown text: a
line that is not an assignment may be half of a wrapped secret.
"""
import base64
import binascii
import difflib
import functools
import getpass
import io
import json
import os
import re
import secrets as random
import tempfile
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dotenv.parser import parse_stream
from invoke import Context

from .commands import probe, run
from .config import Settings
from .errors import ExitCode, fail
from .kubectl import ensure_namespace, get_json, kubectl, labels
from .redaction import REDACTOR
from .report import Report, as_done

Ask = Callable[[str], str]


@dataclass(frozen=True)
class KeySpec:
    name: str
    # Registered with the redaction filter; False only for harmless settings.
    secret: bool = True
    min_length: int = 0
    # Bytes of randomness when the value may be generated; 0 = cannot be.
    generate: int = 0
    schemes: tuple[str, ...] = ()
    # The dummy value .env.example shows for it ("" for none); copying it is a placeholder.
    example: str = ""


KEYS = (
    KeySpec("JWT_SECRET", min_length=32, generate=48),
    KeySpec("POSTGRES_PASSWORD", min_length=16, generate=24),
    KeySpec("DATABASE_URL", schemes=("postgresql", "postgres")),
    KeySpec("OPENAI_API_KEY", min_length=20),
    KeySpec("OPENAI_BASE_URL", secret=False, schemes=("https", "http")),
    KeySpec("OPENAI_MODEL", secret=False),
)
# A placeholder is a whole value that stands for one: a word such as "changeme"
# (any case and separators), a "<...>" or "your-..." template, one repeated
# character, an example host. A value merely containing "xxx", "test" or
# "default" is real: 1 in 500 random tokens contains "xxx", and "o1" is a model.
PLACEHOLDER_WORDS = frozenset({
    "changeme", "replaceme", "placeholder", "dummy", "example", "sample", "secret", "password", "passwd",
    "apikey", "token", "todo", "tbd", "fixme", "test", "none", "null", "nil", "undefined", "admin", "empty"})
PLACEHOLDER_SHAPES = re.compile(
    r"^(change[-_ .]?me|replace[-_ .]?me|your[-_ ]|insert[-_ ]|put[-_ ]your)|^<.*>$|^\.\.\.$|^\$\{?[A-Z_]+\}?$",
    re.IGNORECASE)
EXAMPLE_HOSTS = re.compile(r"^(host|hostname|example\.(com|org|net)|.*\.example(\.(com|org|net))?)$")
BASE64 = re.compile(r"^[A-Za-z0-9+/]{4,}={0,2}$")
KEY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def value_free(on_error: Callable[[str], object]):
    """Make any exception from looking at a value ``on_error(name)`` instead.

    Parsers put what they reject into their messages (urlsplit's port error
    quotes it), and a traceback shows it too: every function that inspects a
    secret value takes ``(spec_or_name, value)`` and wears this guard, so no
    input can turn validation into a leak.
    """
    def decorate(function):
        @functools.wraps(function)
        def guarded(subject, value: str, *args, **kwargs):
            try:
                return function(subject, value, *args, **kwargs)
            except Exception:  # noqa: BLE001 - whatever the parser raised, its text may hold the value
                return on_error(getattr(subject, "name", subject))
        return guarded
    return decorate


def key_specs(root: Path) -> tuple[KeySpec, ...]:
    """One spec per key of .env.example (known rules, else an optional secret), with its dummy value."""
    example = root / ".env.example"
    if not example.is_file():
        return KEYS
    known = {spec.name: spec for spec in KEYS}
    examples, _ = parse_env(example.read_text(), None)
    return tuple(replace(known.get(name, KeySpec(name)), example=value) for name, value in examples.items())


@value_free(lambda name: None)
def url_password(name: str, value: str) -> str | None:
    return urlsplit(value).password if "://" in value else None


def register(name: str, value: str, specs: Mapping[str, KeySpec]) -> None:
    """Teach the redaction filter every spelling of a secret value, and of a password inside a URL."""
    spec = specs.get(name, KeySpec(name))
    if not value or not spec.secret:
        return
    REDACTOR.add(value)
    password = url_password(name, value)
    if password:
        REDACTOR.add(password)
        REDACTOR.add(unquote(password))


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


def _is_placeholder_text(value: str, examples: Collection[str]) -> bool:
    words = re.sub(r"[-_ .]", "", value.lower())
    host = urlsplit(value).hostname if "://" in value else None
    return (value in examples or words in PLACEHOLDER_WORDS or bool(PLACEHOLDER_SHAPES.search(value))
            or (len(value) > 2 and len(set(value)) == 1) or bool(host and EXAMPLE_HOSTS.match(host)))


def is_placeholder(value: str, examples: Collection[str] = ()) -> bool:
    """A dummy value (``examples``: the .env.example values), also when base64-encoded (a copied Secret manifest)."""
    if _is_placeholder_text(value, examples):
        return True
    if BASE64.match(value) and len(value) % 4 == 0:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        return decoded.isprintable() and _is_placeholder_text(decoded, examples)
    return False


@value_free(lambda name: [f"{name} cannot be read as a value of its kind: see .env.example for its format"])
def value_problems(spec: KeySpec, value: str, examples: Collection[str] = ()) -> list[str]:
    """What is wrong with one value given by the user, without ever quoting it."""
    if is_placeholder(value, examples):
        return [f"{spec.name} is a placeholder: put the real value in .env"
                + (" or leave it empty to generate one" if spec.generate else "")]
    problems = []
    if len(value) < spec.min_length:
        problems.append(f"{spec.name} has {len(value)} characters, at least {spec.min_length} are needed"
                        + (": leave it empty to generate one" if spec.generate else ""))
    if spec.schemes:
        parts = urlsplit(value)
        # .port raises for a port that is not a number; the guard turns that into a problem.
        if parts.scheme not in spec.schemes or not parts.hostname or (parts.port is not None and not parts.port):
            problems.append(f"{spec.name} must be a {spec.schemes[0]}://host/... URL")
    if any(char in value for char in "\r\n"):
        problems.append(f"{spec.name} spans several lines: put it on one line")
    elif CONTROL.search(value):
        problems.append(f"{spec.name} holds a control character (e.g. NUL): remove it")
    return problems


def env_problems(values: Mapping[str, str], specs: tuple[KeySpec, ...]) -> list[str]:
    """The problems of the values .env gives (pure); absent and empty keys are fine."""
    examples = {spec.example for spec in specs if spec.example}
    return [problem for spec in specs if values.get(spec.name)
            for problem in value_problems(spec, values[spec.name], examples)]


def check_env(cfg: Settings, path: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """Read and check .env (or ``path``) without touching the cluster: (values, problems)."""
    specs = key_specs(cfg.root)
    values, problems = read_env(path or cfg.env_file, {spec.name: spec for spec in specs})
    return values, problems + (env_problems(values, specs) if values else [])


def cluster_values(c: Context, cfg: Settings, specs: Mapping[str, KeySpec]) -> dict[str, str] | None:
    """The values of the Secret in the cluster (registered at once), or None when there is none."""
    found = get_json(c, cfg, "secret", cfg.secret_name)
    if found is None:
        return None
    values = {key: base64.b64decode(data).decode() for key, data in (found.get("data") or {}).items()}
    for key, value in values.items():
        register(key, value, specs)
    return values


def checked_answers(ask: Ask, specs: tuple[KeySpec, ...]) -> Ask:
    """``ask``, whose answers are registered and checked like .env values (generated ones never are)."""
    lookup = {spec.name: spec for spec in specs}
    examples = {spec.example for spec in specs if spec.example}

    def answer(name: str) -> str:
        value = ask(name)
        register(name, value, lookup)
        problems = value_problems(lookup[name], value, examples) if value else []
        if problems:
            fail("; ".join(problems), "run again with valid values; nothing was changed", ExitCode.BAD_INPUT)
        return value

    return answer


def desired_values(file_values: Mapping[str, str], existing: Mapping[str, str], specs: tuple[KeySpec, ...],
                   ask: Ask | None, force_ask: tuple[str, ...] = ()) -> dict[str, str]:
    """The Secret's content: what .env (or an answer) says, and nothing else.

    A key without a value is left out, so emptying it in .env removes it from the
    Secret; only a generatable key keeps the cluster's value (else gets a new one),
    since a new database password would lock the backend out of its volume.
    """
    lookup = {spec.name: spec for spec in specs}
    result = {}
    for spec in specs:
        value = "" if spec.name in force_ask else file_values.get(spec.name, "")
        if not value and ask:
            value = ask(spec.name)
        if not value and spec.generate:
            value = existing.get(spec.name) or random.token_urlsafe(spec.generate)
            register(spec.name, value, lookup)
        if value:
            result[spec.name] = value
    return result


def secret_manifest(cfg: Settings, values: Mapping[str, str]) -> dict:
    # b64encode never wraps lines (the old script's `base64` did, breaking long URLs).
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": cfg.secret_name, "namespace": cfg.namespace, "labels": labels(cfg)},
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in sorted(values.items())}}


def output_problem(cfg: Settings, path: Path) -> str | None:
    """Why ``path`` (resolved) cannot hold the Secret file, judged on the file system alone."""
    if not path.is_relative_to(cfg.root):
        return f"{path} is outside the project {cfg.root}"
    if path.is_dir():
        return f"{path} is a folder"
    if not nearest_folder(path).is_dir():
        return f"{path} is under {nearest_folder(path)}, which is a file"
    return None


def nearest_folder(path: Path) -> Path:
    """The closest ancestor of ``path`` that exists (where git can be asked about it)."""
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    return folder


def check_output_path(c: Context, cfg: Settings, path: Path) -> None:
    """Refuse a place where the file, which holds every secret, could be committed or does not fit."""
    hint = "write it under a gitignored name inside the project, e.g. secrets/todo-app.secret.yaml"
    problem = output_problem(cfg, path)
    if problem:
        fail(f"--output {problem}", hint, ExitCode.BAD_INPUT)
    project, target = (probe(c, ["git", "-C", str(folder), "rev-parse", "--show-toplevel"])
                       for folder in (cfg.root, nearest_folder(path)))
    if (project.ok, project.stdout.strip()) != (target.ok, target.stdout.strip()):
        fail(f"--output {path} is inside another git repository than the project's", hint, ExitCode.BAD_INPUT)
    # check-ignore: 0 ignored; 1 git would track it; 128 it cannot tell (e.g. inside a submodule).
    if project.ok and probe(c, ["git", "-C", str(cfg.root), "check-ignore", "-q", str(path)]).exited != 0:
        fail(f"{path} is not ignored by git, so it could be committed with every secret in it",
             hint + " (or add it to .gitignore)", ExitCode.BAD_INPUT)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only, all or nothing.

    The text goes to a private temporary file beside ``path`` that then replaces
    it in one rename: an interrupt leaves the old file (or none), never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def prepare(c: Context, cfg: Settings, report: Report, *, env_file: Path | None = None, ask: Ask | None = None,
            force_ask: tuple[str, ...] = (), output: Path | None = None) -> bool:
    """Make the cluster Secret (or ``output`` file) match .env; True when the cluster Secret changed."""
    specs = key_specs(cfg.root)
    lookup = {spec.name: spec for spec in specs}
    path = env_file or cfg.env_file
    file_values, problems = check_env(cfg, path)
    # On a terminal a missing .env is fine: every value is asked for.
    if problems and not (ask and not path.exists()):
        fail("; ".join(problems), "fix .env (see .env.example); nothing was changed", ExitCode.BAD_INPUT)
    if output:
        check_output_path(c, cfg, output)
    existing = {} if output else cluster_values(c, cfg, lookup)
    values = desired_values(file_values, existing or {}, specs, ask and checked_answers(ask, specs), force_ask)
    text = json.dumps(secret_manifest(cfg, values), indent=2) + "\n"
    if output:
        if not cfg.dry_run:
            write_private(output, text)
        written = as_done(cfg.dry_run, f"written to {output}")
        report.line("ok", f"Secret {cfg.secret_name} ({len(values)} keys) {written} (mode 0600)")
        return False
    if existing == values:
        report.line("ok", f"Secret {cfg.secret_name} unchanged ({len(values)} keys)")
        return False
    ensure_namespace(c, cfg)
    run(c, kubectl(cfg, "apply", "-f", "-"), mutates=True, dry_run=cfg.dry_run, stdin=text)
    report.line("ok", f"Secret {cfg.secret_name} {as_done(cfg.dry_run, 'updated' if existing else 'created')} "
                f"({len(values)} keys)")
    return existing is not None


def hidden_prompt(name: str) -> str:
    return getpass.getpass(f"{name} (hidden; empty: kept or generated when it can be, else left out): ").strip()
