"""What makes a fresh kind cluster ready for the suite, each step waiting on a condition.

kind itself installs the default StorageClass (``standard``, local-path
provisioner) from the node image; metrics-server (for `kubectl top` and the
suite's resource checks) is applied here. "Ready" means: every node Ready,
CoreDNS and the storage provisioner rolled out, the default StorageClass in
place and the metrics API available.
"""
from pathlib import Path

from invoke import Context

from ..commands import run
from ..errors import ExitCode, fail

METRICS_SERVER = Path(__file__).parent / "manifests" / "metrics-server.yaml"
# The annotation that makes a StorageClass the default, as a jsonpath (dots escaped).
DEFAULT_CLASS = r"jsonpath={.metadata.annotations.storageclass\.kubernetes\.io/is-default-class}"
WAIT = "180s"


def kubectl(context: str, *args: str) -> list[str]:
    return ["kubectl", "--context", context, *args]


def wait(c: Context, argv: list[str], what: str, hint: str, dry_run: bool) -> None:
    # Read-only, but meaningless in a dry run where nothing was created.
    if run(c, argv, mutates=True, dry_run=dry_run, warn=True).failed:
        fail(f"{what} did not become ready within {WAIT}", hint, ExitCode.UNREACHABLE)


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
    wait(c, kubectl(context, "wait", "--for=condition=Available", "apiservice/v1beta1.metrics.k8s.io",
                    f"--timeout={WAIT}"),
         "the metrics API", f"`kubectl --context {context} describe apiservice v1beta1.metrics.k8s.io`", dry_run)
