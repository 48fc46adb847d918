"""`invoke deploy` and `invoke prepare-secrets`: the user-facing sequences of steps.

They live here, above every step module, because they compose the preflight
guard with the steps (the preflight itself reads .env through the secrets module).
"""
import sys
from pathlib import Path

from invoke import task

from .config import resolve
from .errors import ExitCode, fail
from .preflight import require_cluster
from .report import Report
from .secrets import hidden_prompt, prepare


@task(
    help={
        "from_env": "Read the values from this file instead of .env.",
        "set": "Ask for this key's value (hidden input) even when .env has one; repeatable; needs a terminal.",
        "output": "Write the Secret manifest to this gitignored file (mode 0600) instead of applying it.",
        "context": "Kube context to use (a non-local one must be named here explicitly).",
        "namespace": "Namespace of the Secret.",
        "dry_run": "Check and print the plan without changing anything.",
    },
    iterable=["set"],
)
def prepare_secrets(c, from_env=None, set=None, output=None, context=None, namespace=None, dry_run=False):  # noqa: A002
    """Create or update the app's Secret from .env: validated, generated where possible, applied via stdin."""
    cfg = resolve(c, dry_run=dry_run, context=context, context_explicit=bool(context), namespace=namespace)
    interactive = sys.stdin.isatty()
    if set and not interactive:
        fail("--set asks for values with hidden input and needs a terminal",
             "run it in a terminal, or put the values in a gitignored file and pass --from-env FILE",
             ExitCode.BAD_INPUT)
    if not output:
        require_cluster(c, cfg)
    prepare(c, cfg, Report(), env_file=Path(from_env).resolve() if from_env else None,
            ask=hidden_prompt if interactive else None, force_ask=tuple(set or ()),
            output=Path(output).resolve() if output else None)
