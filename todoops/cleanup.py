"""`invoke clean`: remove what the suite created, found by its labels, newest first.

Assumptions: every object of the release carries ``selector(cfg)`` labels and
the helm release (if any) is named ``cfg.release``. The namespace goes only
when its ``managed-by`` label says the suite created it and
nothing the suite did not create lives in it. Images leave the node only when no
pod of another namespace runs them. The whole plan is
gathered first, shown, confirmed, then carried out; a second run finds nothing
and succeeds.
"""
import sys
from collections.abc import Callable

from invoke import Context

from .chart import helm, release_status
from .commands import Argv, probe, run
from .config import Settings, resolve
from .errors import ExitCode, fail
from .kube import MANAGED_BY, MANAGED_BY_LABEL, get_json, kubectl, selector
from .preflight import require_cluster
from .providers import ctr, listed_refs, minikube, normalize
from .remote import on_host, task
from .report import Report

# The reverse of the apply order: entry points first, data last.
KINDS = ("ingresses", "horizontalpodautoscalers", "poddisruptionbudgets", "networkpolicies", "services",
         "deployments", "statefulsets", "configmaps", "secrets", "serviceaccounts", "persistentvolumeclaims")
Step = tuple[str, Argv]


def ours(cfg: Settings, refs: set[str]) -> list[str]:
    """The refs of the suite's own repositories among ``refs``."""
    repositories = {spec.repository for spec in cfg.images}
    return sorted(ref for ref in refs if ref.rsplit("/", 1)[-1].split(":")[0] in repositories)


def cluster_image_steps(c: Context, cfg: Settings) -> list[Step]:
    """Removing our images from the node, where the provider keeps its own image store."""
    if cfg.provider == "containerd":
        listing, remove = ctr(cfg, "images", "ls", "-q"), ctr(cfg, "images", "rm")
    elif cfg.provider == "minikube" and not cfg.build_in_cluster:
        listing, remove = minikube(cfg, "image", "ls"), minikube(cfg, "image", "rm")
    else:
        return []
    result = probe(c, listing)
    refs = ours(cfg, listed_refs(result.stdout)) if result.ok else []
    if refs:
        # The node's image store is shared: an image another namespace's pod runs must stay.
        pods = probe(c, ["kubectl", "--context", cfg.context, "get", "pods", "--all-namespaces", "--no-headers",
                         "-o", "custom-columns=NAMESPACE:.metadata.namespace,IMAGES:.spec.containers[*].image"])
        in_use = images_in_use(pods.stdout, cfg.namespace) if pods.ok else set(refs)
        refs = [ref for ref in refs if ref not in in_use]
    return [(f"{len(refs)} image(s) from the cluster", [*remove, *refs])] if refs else []


def images_in_use(pods_table: str, namespace: str) -> set[str]:
    """Normalized image refs run by pods outside ``namespace`` (``NAMESPACE IMAGE,IMAGE`` lines)."""
    used = set()
    for line in pods_table.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] != namespace:
            used.update(normalize(image) for image in parts[1].split(",") if image and image != "<none>")
    return used


# Every namespace has these from the start; they are nobody's objects.
NAMESPACE_DEFAULTS = {"configmap/kube-root-ca.crt", "serviceaccount/default"}


def foreign_objects(c: Context, cfg: Settings, ours: list[str]) -> list[str]:
    """Objects in the namespace that the suite did not create (deleting the namespace would take them too)."""
    everything = probe(c, kubectl(cfg, "get", ",".join(KINDS), "-o", "name"))
    if not everything.ok:
        return ["(the namespace's objects could not be listed)"]
    return sorted(set(everything.stdout.split()) - set(ours) - NAMESPACE_DEFAULTS)


def local_image_steps(c: Context, cfg: Settings) -> list[Step]:
    found = probe(c, ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                      *(f"--filter=reference={spec.repository}" for spec in cfg.images)])
    refs = sorted(found.stdout.split()) if found.ok else []
    return [(f"{len(refs)} local image(s)", ["docker", "image", "rm", *refs])] if refs else []


def plan(c: Context, cfg: Settings, local_images: bool, notes: list[str] | None = None) -> list[Step]:
    """Everything ``clean`` would remove, in order; empty when nothing is left. ``notes``: what is kept, and why."""
    steps: list[Step] = []
    if release_status(c, cfg)[0]:
        steps.append((f"helm release {cfg.release}",
                      helm(cfg, "uninstall", cfg.release, "--wait", "--timeout", f"{cfg.rollout_timeout}s")))
    listed = probe(c, kubectl(cfg, "get", ",".join(KINDS), "-l", selector(cfg), "-o", "name"))
    names = listed.stdout.split() if listed.ok else []
    if names:
        steps.append((f"{len(names)} labelled object(s): {', '.join(names)}",
                      kubectl(cfg, "delete", *names, "--ignore-not-found", "--wait=true", "--cascade=foreground")))
    steps += cluster_image_steps(c, cfg) + (local_image_steps(c, cfg) if local_images else [])
    namespace = get_json(c, cfg, "namespace", cfg.namespace)
    if namespace and namespace["metadata"].get("labels", {}).get(MANAGED_BY_LABEL) == MANAGED_BY:
        foreign = foreign_objects(c, cfg, names)
        if foreign:
            (notes if notes is not None else []).append(
                f"namespace {cfg.namespace} kept: it holds {len(foreign)} object(s) the suite did not create "
                f"({', '.join(foreign[:5])}{', ...' if len(foreign) > 5 else ''})")
            return steps
        steps.append((f"namespace {cfg.namespace} (created by the suite)",
                      kubectl(cfg, "delete", "namespace", cfg.namespace, "--ignore-not-found", "--wait=true")))
    return steps


def ask_terminal(question: str) -> bool:
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def clean_release(c: Context, cfg: Settings, report: Report, *, yes: bool, local_images: bool = False,
                  confirm: Callable[[str], bool] | None = None) -> None:
    notes: list[str] = []
    steps = plan(c, cfg, local_images, notes)
    for note in notes:
        report.line("info", note)
    if not steps:
        report.line("ok", f"nothing to clean for release {cfg.release} in {cfg.namespace}")
        return
    for what, _ in steps:
        report.line("info", f"{'would remove' if cfg.dry_run else 'remove'}: {what}")
    if not (cfg.dry_run or yes):
        if confirm is None:
            fail("clean deletes the objects listed above and needs confirmation",
                 "run it on a terminal to be asked, or pass --yes", ExitCode.BAD_INPUT)
        if not confirm(f"Delete these from {cfg.context}/{cfg.namespace}?"):
            fail("nothing was deleted", "answer y, or pass --yes", ExitCode.BAD_INPUT)
    for what, argv in steps:
        with report.step(f"remove {what.split(':')[0]}"):
            run(c, argv, mutates=True, dry_run=cfg.dry_run)


@task(help={"yes": "Delete without asking (required when not on a terminal).",
            "local_images": "Also remove the app's images from the local docker.",
            "dry_run": "List what would be removed and remove nothing.",
            "context": "Kube context to clean (a non-local one must be named here explicitly).",
            "host": "Run there over SSH: user@machine[:port] (default todoops.host; empty: this machine).",})
def clean(c, yes=False, local_images=False, dry_run=False, context=None, host=None):
    """Remove the release: helm release, labelled objects, images in the cluster, the namespace if we made it."""
    cfg = resolve(c, dry_run=dry_run, context=context, context_explicit=bool(context), host=host)
    with on_host(c, cfg) as here:
        require_cluster(here, cfg)
        clean_release(here, cfg, Report(), yes=yes, local_images=local_images,
                      confirm=ask_terminal if sys.stdin.isatty() else None)
