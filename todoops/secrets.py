"""`invoke prepare-secrets`: .env -> a validated Kubernetes Secret, applied through stdin.

Assumptions: the keys are those of ``.env.example``. Values are read with
``dotenv_values`` (never into ``os.environ``, no ``${VAR}`` expansion from it)
and every secret value is registered with the redaction filter the moment it is
read, so no later line, error or echo can print it. A value missing from .env
is kept from the Secret already in the cluster (generated passwords stay stable
and a re-run changes nothing), else asked for on a terminal, else generated
when it can be. Messages name keys and line numbers, never values.
"""
import base64
import binascii
import getpass
import io
import json
import os
import re
import secrets as random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dotenv import dotenv_values
from dotenv.parser import parse_stream
from invoke import Context

from .commands import probe, run
from .config import Settings
from .errors import ExitCode, fail
from .kube import ensure_namespace, get_json, kubectl, labels
from .redaction import REDACTOR
from .report import Report

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


KEYS = (
    KeySpec("JWT_SECRET", min_length=32, generate=48),
    KeySpec("POSTGRES_PASSWORD", min_length=16, generate=24),
    KeySpec("DATABASE_URL", schemes=("postgresql", "postgres")),
    KeySpec("OPENAI_API_KEY", min_length=20),
    KeySpec("OPENAI_BASE_URL", secret=False, schemes=("https", "http")),
    KeySpec("OPENAI_MODEL", secret=False),
)
PLACEHOLDER = re.compile(
    r"change[-_ ]?me|replace[-_ ]?me|placeholder|your[-_ ]|example|dummy|xxx|<[^>]*>|\.\.\.|"
    r"^(secret|password|passwd|todo|test|none|null|default|admin|token)$", re.IGNORECASE)
BASE64 = re.compile(r"^[A-Za-z0-9+/]{4,}={0,2}$")


def key_specs(root: Path) -> tuple[KeySpec, ...]:
    """One spec per key of .env.example (known rules, else an optional secret)."""
    example = root / ".env.example"
    if not example.is_file():
        return KEYS
    known = {spec.name: spec for spec in KEYS}
    return tuple(known.get(name, KeySpec(name)) for name in dotenv_values(example, interpolate=False))


def register(name: str, value: str, specs: Mapping[str, KeySpec]) -> None:
    """Teach the redaction filter every spelling of a secret value, and of a password inside a URL."""
    spec = specs.get(name, KeySpec(name))
    if not value or not spec.secret:
        return
    REDACTOR.add(value)
    password = urlsplit(value).password if "://" in value else None
    if password:
        REDACTOR.add(password)
        REDACTOR.add(unquote(password))


def malformed_lines(text: str) -> list[int]:
    return [binding.original.line for binding in parse_stream(io.StringIO(text)) if binding.error]


def read_env(path: Path, specs: Mapping[str, KeySpec]) -> tuple[dict[str, str], list[str]]:
    """The values of a .env file and the problems of its syntax; secrets are registered first."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}, [f"{path} does not exist: copy .env.example to it (empty values are generated) "
                    "or run `invoke prepare-secrets` on a terminal"]
    except (OSError, UnicodeDecodeError) as error:
        return {}, [f"cannot read {path} ({type(error).__name__}): make it a readable UTF-8 text file"]
    values = {key: value or "" for key, value in dotenv_values(stream=io.StringIO(text), interpolate=False).items()}
    for key, value in values.items():
        register(key, value, specs)
    problems = [f"{path.name} line {line} is not KEY=VALUE: fix the quoting or add the '='"
                for line in malformed_lines(text)]
    return values, problems


def is_placeholder(value: str) -> bool:
    """A dummy value, also when base64-encoded (a copied Secret manifest) or a single repeated character."""
    if PLACEHOLDER.search(value) or len(set(value)) < 4:
        return True
    if BASE64.match(value) and len(value) % 4 == 0:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        return decoded.isprintable() and bool(PLACEHOLDER.search(decoded) or len(set(decoded)) < 4)
    return False


def value_problems(spec: KeySpec, value: str) -> list[str]:
    """What is wrong with one value, without ever quoting it."""
    if is_placeholder(value):
        return [f"{spec.name} is a placeholder: put the real value in .env"
                + (" or leave it empty to generate one" if spec.generate else "")]
    problems = []
    if len(value) < spec.min_length:
        problems.append(f"{spec.name} has {len(value)} characters, at least {spec.min_length} are needed"
                        + (": leave it empty to generate one" if spec.generate else ""))
    if spec.schemes:
        parts = urlsplit(value)
        if parts.scheme not in spec.schemes or not parts.hostname:
            problems.append(f"{spec.name} must be a {spec.schemes[0]}://host/... URL")
    if any(char in value for char in "\r\n"):
        problems.append(f"{spec.name} spans several lines: put it on one line")
    return problems


def env_problems(values: Mapping[str, str], specs: tuple[KeySpec, ...]) -> list[str]:
    """Missing, unknown and invalid keys of a .env (pure)."""
    names = [spec.name for spec in specs]
    problems = []
    missing = [name for name in names if name not in values]
    if missing:
        problems.append(f".env lacks {', '.join(missing)}: add each as KEY= (empty is allowed, see .env.example)")
    unknown = sorted(set(values) - set(names))
    if unknown:
        problems.append(f".env has unknown key(s) {', '.join(unknown)}: fix the spelling or add them to .env.example")
    for spec in specs:
        if values.get(spec.name):
            problems.extend(value_problems(spec, values[spec.name]))
    return problems


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


def desired_values(file_values: Mapping[str, str], existing: Mapping[str, str], specs: tuple[KeySpec, ...],
                   ask: Ask | None, force_ask: tuple[str, ...] = ()) -> dict[str, str]:
    """The Secret's content: .env first, then the cluster's, then an answer, then a generated value."""
    lookup = {spec.name: spec for spec in specs}
    result = {}
    for spec in specs:
        value = "" if spec.name in force_ask else file_values.get(spec.name) or existing.get(spec.name, "")
        if not value and ask:
            value = ask(spec.name)
            register(spec.name, value, lookup)
        if not value and spec.generate:
            value = random.token_urlsafe(spec.generate)
            register(spec.name, value, lookup)
        if value:
            result[spec.name] = value
    return result


def secret_manifest(cfg: Settings, values: Mapping[str, str]) -> dict:
    # b64encode never wraps lines (the old script's `base64` did, breaking long URLs).
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": cfg.secret_name, "namespace": cfg.namespace, "labels": labels(cfg)},
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in sorted(values.items())}}


def check_output_path(c: Context, cfg: Settings, path: Path) -> None:
    """Refuse a path git would track: the file holds every secret."""
    ignored = probe(c, ["git", "-C", str(cfg.root), "check-ignore", "-q", str(path)])
    # 0: ignored; 1: git would track it; 128: not inside a repository (git cannot track it).
    if ignored.exited == 1:
        fail(f"{path} is not ignored by git, so it could be committed with every secret in it",
             "write it under a gitignored name (e.g. secrets/todo-app.secret.yaml) or add it to .gitignore",
             ExitCode.BAD_INPUT)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only, also when the file already existed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


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
    values = desired_values(file_values, existing or {}, specs, ask, force_ask)
    problems = [problem for spec in specs if spec.name in values for problem in value_problems(spec, values[spec.name])]
    if problems:
        fail("; ".join(problems), "run again with valid values; nothing was changed", ExitCode.BAD_INPUT)
    text = json.dumps(secret_manifest(cfg, values), indent=2) + "\n"
    if output:
        if not cfg.dry_run:
            write_private(output, text)
        report.line("ok", f"Secret {cfg.secret_name} ({len(values)} keys) written to {output} (mode 0600)")
        return False
    if existing == values:
        report.line("ok", f"Secret {cfg.secret_name} unchanged ({len(values)} keys)")
        return False
    ensure_namespace(c, cfg)
    run(c, kubectl(cfg, "apply", "-f", "-"), mutates=True, dry_run=cfg.dry_run, stdin=text)
    report.line("ok", f"Secret {cfg.secret_name} {'updated' if existing else 'created'} ({len(values)} keys)")
    return existing is not None


def hidden_prompt(name: str) -> str:
    return getpass.getpass(f"{name} (hidden; empty = keep/generate/skip): ").strip()
