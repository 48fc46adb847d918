"""`invoke e2e.*`: the real single-node cluster the end-to-end tests deploy to.

Thin wrappers: all the work is in the harness (``python -m tests.e2e.harness``),
which test fixtures and CI also call directly. The tasks only run it from the
project root through the Context, so dry runs and MockContext tests see the
exact command.
"""
import sys

from invoke import Context, task

from .commands import run
from .config import resolve
from .errors import ExitCode, fail

HARNESS = "tests.e2e.harness"


def harness_argv(command: str, python: str = sys.executable) -> list[str]:
    return [python, "-m", HARNESS, command]


def run_harness(c: Context, command: str, hint: str, code: ExitCode = ExitCode.FAILED) -> None:
    with c.cd(str(resolve(c).root)):
        result = run(c, harness_argv(command), mutates=command != "status", warn=True)
    if result.failed:
        fail(f"e2e harness `{command}` failed (exit {result.exited})", hint, code)


@task
def build(c):
    """Build the cluster's binaries (etcd, Kubernetes 1.34, CoreDNS) from Go modules; cached by version."""
    run_harness(c, "build", "read the go output above; the cache lives in ${TODOOPS_CACHE:-~/.cache/todoops}")


@task
def up(c):
    """Start the single-node e2e cluster (a no-op when it is already up) and print its KUBECONFIG."""
    run_harness(c, "up", "see the component logs in ${TODOOPS_E2E_DIR:-/tmp/todoops-e2e}/logs, "
                "then `invoke e2e.down`", ExitCode.PREFLIGHT)


@task
def down(c):
    """Stop exactly the processes `e2e.up` started and remove the cluster's state (idempotent)."""
    run_harness(c, "down", "re-run `invoke e2e.down`; it only touches what `e2e.up` recorded")


@task
def status(c):
    """Show each cluster process and the node; exits non-zero when the cluster is not fully up."""
    run_harness(c, "status", "start it with `invoke e2e.up`", ExitCode.UNREACHABLE)
