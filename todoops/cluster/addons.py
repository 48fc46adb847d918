"""What makes a fresh kind cluster ready for the suite, each step waiting on a condition.

kind itself installs the default StorageClass (``standard``, local-path
provisioner) from the node image; metrics-server (for `kubectl top` and the
suite's resource checks) is applied here. "Ready" means: every node Ready,
CoreDNS and the storage provisioner rolled out, the default StorageClass in
place and the metrics API available.
"""
import time
from pathlib import Path

from invoke import Context

from ..commands import probe, run
from ..errors import ExitCode, fail

METRICS_SERVER = Path(__file__).parent / "manifests" / "metrics-server.yaml"
# The annotation that makes a StorageClass the default, as a jsonpath (dots escaped).
DEFAULT_CLASS = r"jsonpath={.metadata.annotations.storageclass\.kubernetes\.io/is-default-class}"
WAIT = "180s"
POLL_SECONDS = 180
METRICS_NODES = "/apis/metrics.k8s.io/v1beta1/nodes"


def kubectl(context: str, *args: str) -> list[str]:
    return ["kubectl", "--context", context, *args]


def wait(c: Context, argv: list[str], what: str, hint: str, dry_run: bool) -> None:
    # Read-only, but meaningless in a dry run where nothing was created.
    if run(c, argv, mutates=True, dry_run=dry_run, warn=True).failed:
        fail(f"{what} did not become ready within {WAIT}", hint, ExitCode.UNREACHABLE)


def poll(c: Context, argv: list[str], what: str, hint: str, dry_run: bool) -> None:
    """Ask again every second until ``argv`` succeeds, for conditions no `kubectl wait` can express."""
    if dry_run:
        return
    deadline = time.monotonic() + POLL_SECONDS
    while not (answer := probe(c, argv)).ok:
        if time.monotonic() > deadline:
            fail(f"{what} did not become ready within {POLL_SECONDS}s: {answer.stderr.strip()[-300:]}", hint,
                 ExitCode.UNREACHABLE)
        time.sleep(1)


def wait_api(c: Context, context: str, dry_run: bool) -> None:
    """Until the API server says it is ready: after a restart it answers before its authorizer has
    loaded the RBAC roles, and every request is Forbidden for a while (`kubectl wait` gives up on that)."""
    poll(c, kubectl(context, "get", "--raw", "/readyz", "--request-timeout", "5s"), "the API server",
         f"`docker logs {context.removeprefix('kind-')}-control-plane`; "
         "`invoke cluster.down` then `invoke cluster.up` makes the cluster again", dry_run)


def wait_nodes(c: Context, context: str, dry_run: bool) -> None:
    wait(c, kubectl(context, "wait", "--for=condition=Ready", "node", "--all", f"--timeout={WAIT}"),
         "the nodes", f"look at `kubectl --context {context} describe nodes` (Conditions) and "
         "`docker exec <node> journalctl -u kubelet`", dry_run)


def rollout(c: Context, context: str, namespace: str, deployment: str, dry_run: bool) -> None:
    wait(c, kubectl(context, "-n", namespace, "rollout", "status", f"deployment/{deployment}",
                    f"--timeout={WAIT}"),
         f"{namespace}/{deployment}", f"`kubectl --context {context} -n {namespace} describe pods` shows why",
         dry_run)


def check_default_storage(c: Context, context: str, dry_run: bool) -> None:
    if dry_run:
        return
    annotation = run(c, kubectl(context, "get", "storageclass", "standard", "-o", DEFAULT_CLASS),
                     hide=True, warn=True)
    if annotation.failed or annotation.stdout.strip() != "true":
        fail("the cluster has no default StorageClass `standard`",
             "kind applies /kind/manifests/default-storage.yaml from the node image; recreate the cluster "
             "with `invoke cluster.down` and `invoke cluster.up`", ExitCode.FAILED)


def install_metrics_server(c: Context, context: str, dry_run: bool) -> None:
    run(c, kubectl(context, "apply", "-f", "-"), stdin=METRICS_SERVER.read_text(), mutates=True,
        dry_run=dry_run, hide=True)
    rollout(c, context, "kube-system", "metrics-server", dry_run)
    # The metrics themselves, not the APIService's Available condition: after a restart that condition
    # still holds the old API server's verdict until the new one has checked again.
    poll(c, kubectl(context, "get", "--raw", METRICS_NODES, "--request-timeout", "10s"), "the metrics API",
         f"`kubectl --context {context} describe apiservice v1beta1.metrics.k8s.io`", dry_run)
