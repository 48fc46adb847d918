"""`invoke prepare-secrets`: .env -> a validated Kubernetes Secret, applied through stdin.

Assumptions: the Secret holds exactly what .env says (read and checked by
todoops.env_file, by the rules of todoops.env_keys): a key .env leaves out or
empty is not in it, except a generatable one (JWT_SECRET, POSTGRES_PASSWORD),
which keeps the value the cluster Secret already has (generated passwords stay
stable and a re-run changes nothing), else is asked for on a terminal, else
generated. Every value is registered with the redaction filter before anything
could print it; the manifest travels on stdin, never on argv.
"""
import base64
import getpass
import json
import secrets as random
from collections.abc import Callable, Mapping
from pathlib import Path

from invoke import Context

from .commands import run
from .config import Settings
from .env_file import env_values, key_specs
from .env_keys import KeySpec, register, value_problems
from .errors import ExitCode, fail
from .kubectl import get_json, kubectl, labels
from .report import Report, as_done
from .secret_file import check_output_path, write_private

Ask = Callable[[str], str]


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
    # b64encode never wraps lines (the base64 command wraps at 76 columns, which breaks a long URL).
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": cfg.secret_name, "namespace": cfg.namespace, "labels": labels(cfg)},
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in sorted(values.items())}}


def secret_text(cfg: Settings, values: Mapping[str, str]) -> str:
    return json.dumps(secret_manifest(cfg, values), indent=2) + "\n"


def prepare(c: Context, cfg: Settings, report: Report, *, env_file: Path | None = None, ask: Ask | None = None,
            force_ask: tuple[str, ...] = (), output: Path | None = None) -> bool:
    """Make the cluster Secret (or ``output`` file) match .env; True when the cluster Secret changed."""
    specs = key_specs(cfg.root)
    file_values = env_values(cfg, env_file, terminal=bool(ask))
    if output:
        check_output_path(c, cfg, output)
    existing = None if output else cluster_values(c, cfg, {spec.name: spec for spec in specs})
    values = desired_values(file_values, existing or {}, specs, ask and checked_answers(ask, specs), force_ask)
    if output:
        write_secret(cfg, report, values, output)
        return False
    return apply_secret(c, cfg, report, values, existing)


def write_secret(cfg: Settings, report: Report, values: Mapping[str, str], output: Path) -> None:
    if not cfg.dry_run:
        write_private(output, secret_text(cfg, values))
    written = as_done(cfg.dry_run, f"written to {output}")
    report.line("ok", f"Secret {cfg.secret_name} ({len(values)} keys) {written} (mode 0600)")


def apply_secret(c: Context, cfg: Settings, report: Report, values: Mapping[str, str],
                 existing: Mapping[str, str] | None) -> bool:
    """Apply the Secret through stdin unless it holds ``values`` already; True when an existing one changed.

    The namespace exists: deploy and prepare-secrets make it in a step of its own before this one.
    """
    if existing == values:
        report.line("ok", f"Secret {cfg.secret_name} unchanged ({len(values)} keys)")
        return False
    run(c, kubectl(cfg, "apply", "-f", "-"), mutates=True, dry_run=cfg.dry_run, stdin=secret_text(cfg, values))
    report.line("ok", f"Secret {cfg.secret_name} {as_done(cfg.dry_run, 'updated' if existing else 'created')} "
                f"({len(values)} keys)")
    return existing is not None


def hidden_prompt(name: str) -> str:
    return getpass.getpass(f"{name} (hidden; empty: kept or generated when it can be, else left out): ").strip()
