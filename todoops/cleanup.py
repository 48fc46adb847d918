"""`invoke clean`: remove what the suite created, found by its labels, newest first.

Assumptions: every object of the release carries ``selector(cfg)`` labels.
What the namespace holds is read once, by discovery: every namespaced kind the
server can list and delete (what deleting the namespace would take with it).
An object is the release's when it carries those labels, or Kubernetes made it
for one that does (ownerReferences, Endpoints of its Services, claims of its
StatefulSets), or it is helm's record of the release; Events and what every
namespace holds from the start are nobody's. Anything else is foreign.

- The namespace goes only when its ``managed-by`` label says the suite created
  it and it holds nothing foreign.
- The helm release (found by helm's record of it in the namespace) is
  uninstalled only when it is this chart (Chart.yaml's name) and its objects
  carry the release's labels. A foreign release of the same name is kept and
  said so; like a foreign object that keeps the namespace, it does not make
  clean fail: clean removed all that was its own, and a re-run does the same.
- Images: only the refs the suite recorded loading (loaded.py) leave the node,
  and only when no pod of another namespace runs them. minikube removes an
  image with every name it has, so one that also carries a name the suite did
  not load stays (said so). A removal minikube reports as failed ("Failed to
  remove", with exit code 0) fails clean. ``--prune-cache`` also deletes the
  tarballs of those refs from minikube's host-side cache
  (``$MINIKUBE_HOME/cache/images``), which grows by one per changed image.
- Every listing must succeed: a failed one stops clean before anything is
  deleted, with the command's message.

The whole plan is gathered first, shown, confirmed, then carried out; a second
run finds nothing and succeeds.
"""
import json
import posixpath
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from invoke import Context, Result

from .chart import HELM_RELEASE_ANNOTATION, helm, release_metadata
from .commands import Argv, probe, run
from .config import Settings, context_help, resolve
from .errors import ExitCode, fail
from .kubectl import MANAGED_BY, MANAGED_BY_LABEL, get_json, kubectl, object_ref, of_release, part_of, read
from .loaded import forget, recorded
from .preflight import require_cluster
from .providers import ctr, minikube
from .refs import cache_names, listed_refs, normalize
from .remote import on_host, task
from .report import Report

# The reverse of the apply order: entry points first, data last; kinds the chart does not make go first.
DELETE_ORDER = ("Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "Service", "Deployment",
                "StatefulSet", "ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim")
# Every namespace has these from the start; they are nobody's objects.
NAMESPACE_DEFAULTS = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}
# helm's record of a release: a Secret (default storage driver) or ConfigMap labelled with its name.
HELM_RECORD_KINDS = ("Secret", "ConfigMap")
# How `minikube image rm` reports a name it could not remove: on stderr, with exit code 0.
MINIKUBE_RM_FAILED = "Failed to remove"


class Step(NamedTuple):
    what: str
    argv: Argv
    # Checks the command's result (a failure it reports with exit code 0) and records what it did.
    after: Callable[[Result], None] | None = None


def minikube_images(text: str) -> dict[str, str]:
    """Normalized ref -> image ID, from ``minikube image ls --format json`` (each image lists its names)."""
    try:
        images = json.loads(text or "[]")
    except ValueError:
        return {}
    return {normalize(tag): str(image.get("id", "")) for image in images if isinstance(image, dict)
            for tag in image.get("repoTags") or [] if isinstance(tag, str)} if isinstance(images, list) else {}


def node_images(c: Context, cfg: Settings) -> tuple[dict[str, str], Argv] | None:
    """The node's image names (ref -> what removing it takes along) and the remove command; None: no image store."""
    if cfg.provider == "containerd":
        # containerd removes a name alone: each name stands for itself.
        return {ref: ref for ref in listed_refs(read(c, ctr(cfg, "images", "ls", "-q")) or "")}, \
            ctr(cfg, "images", "rm")
    if cfg.provider == "minikube":
        return minikube_images(read(c, minikube(cfg, "image", "ls", "--format", "json")) or ""), \
            minikube(cfg, "image", "rm")
    return None


def removal_checked(cfg: Settings, refs: Sequence[str]) -> Callable[[Result], None]:
    def after(result: Result) -> None:
        failures = [line.strip() for line in f"{result.stdout}\n{result.stderr}".splitlines()
                    if MINIKUBE_RM_FAILED in line]
        if failures:
            fail(f"the cluster kept image(s) it was asked to remove: {failures[-1][:300]}",
                 f"see what is left with `minikube -p {cfg.context} image ls`; run `invoke clean` again once "
                 "minikube's message is dealt with", ExitCode.FAILED)
        forget(cfg, refs)
    return after


def cluster_image_steps(c: Context, cfg: Settings, notes: list[str]) -> list[Step]:
    """Removing the images the suite loaded from the node, where the provider keeps its own image store."""
    found = node_images(c, cfg)
    if found is None:
        return []
    names, remove = found
    refs = sorted(recorded(cfg) & set(names))
    if refs:
        # The node's image store is shared: an image another namespace's pod runs must stay.
        pods = read(c, ["kubectl", "--context", cfg.context, "get", "pods", "--all-namespaces", "--no-headers",
                        "-o", "custom-columns=NAMESPACE:.metadata.namespace,IMAGES:.spec.containers[*].image"])
        in_use = images_in_use(pods or "", cfg.namespace)
        refs = [ref for ref in refs if ref not in in_use]
    shared = {ref: sorted(other for other, image in names.items() if image == names[ref] and other not in refs)
              for ref in refs}
    for ref, others in shared.items():
        if others:
            notes.append(f"image {ref} kept: the same image is also {', '.join(others)}, which the suite did not "
                         "load (removing one name would remove them all)")
    refs = [ref for ref in refs if not shared[ref]]
    return [Step(f"{len(refs)} image(s) from the cluster", [*remove, *refs], removal_checked(cfg, refs))] \
        if refs else []


def minikube_home(c: Context) -> str:
    """Where minikube keeps its files, as minikube itself decides (MINIKUBE_HOME, or ~/.minikube)."""
    configured = probe(c, ["printenv", "MINIKUBE_HOME"]).stdout.strip()
    if not configured:
        return posixpath.join(probe(c, ["printenv", "HOME"]).stdout.strip(), ".minikube")
    return configured if posixpath.basename(configured.rstrip("/")) == ".minikube" else \
        posixpath.join(configured, ".minikube")


def cache_steps(c: Context, cfg: Settings, refs: set[str]) -> list[Step]:
    """Deleting the tarballs of ``refs`` from minikube's host-side cache (``cache/images/<arch>/<ref>``)."""
    folder = posixpath.join(minikube_home(c), "cache", "images")
    listing = probe(c, ["find", folder, "-type", "f"])
    wanted = set().union(*(cache_names(ref) for ref in refs))
    files = sorted(path for path in listing.stdout.splitlines()
                   if path.startswith(folder + "/") and
                   path[len(folder) + 1:].partition("/")[2] in wanted) if listing.ok else []
    return [Step(f"{len(files)} cached image(s) in {folder}", ["rm", "-f", "--", *files])] if files else []


def images_in_use(pods_table: str, namespace: str) -> set[str]:
    """Normalized image refs run by pods outside ``namespace`` (``NAMESPACE IMAGE,IMAGE`` lines)."""
    used = set()
    for line in pods_table.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] != namespace:
            used.update(normalize(image) for image in parts[1].split(",") if image and image != "<none>")
    return used


def local_image_steps(c: Context, cfg: Settings) -> list[Step]:
    found = read(c, ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                     *(f"--filter=reference={spec.repository}" for spec in cfg.images)])
    refs = sorted((found or "").split())
    return [Step(f"{len(refs)} local image(s)", ["docker", "image", "rm", *refs])] if refs else []


# -- What the namespace holds, and whose it is (pure functions over `kubectl get -o json` items).

def served_kinds(c: Context, cfg: Settings) -> list[str]:
    """Namespaced kinds the server can list and delete, without Events (nobody's objects)."""
    kinds = (read(c, kubectl(cfg, "api-resources", "--verbs=list,delete", "--namespaced", "-o", "name")) or "").split()
    return sorted(kind for kind in set(kinds) if kind.split(".", 1)[0] != "events")


def namespace_objects(c: Context, cfg: Settings) -> list[dict]:
    """Every object the namespace holds, of every kind the server serves."""
    return (get_json(c, cfg, ",".join(served_kinds(c, cfg))) or {}).get("items", [])


def metadata(obj: Mapping) -> Mapping:
    return obj.get("metadata") or {}


def name_of(obj: Mapping) -> str:
    return metadata(obj).get("name", "")


def uid_of(obj: Mapping) -> str:
    return metadata(obj).get("uid", "")


def owned(obj: Mapping, owners: set[str]) -> bool:
    return any(ref.get("uid") in owners for ref in metadata(obj).get("ownerReferences") or [])


def helm_record(obj: Mapping, release: str) -> bool:
    """Whether ``obj`` is helm's own record of ``release`` (``sh.helm.release.v1.<release>.v<N>``)."""
    found = metadata(obj).get("labels") or {}
    return obj.get("kind") in HELM_RECORD_KINDS and found.get("owner") == "helm" and found.get("name") == release


def claims(statefulsets: Sequence[Mapping]) -> set[str]:
    """Name prefixes of the volume claims the StatefulSets make (``<template>-<statefulset>-<ordinal>``)."""
    return {f"{metadata(template).get('name')}-{metadata(sts).get('name')}-" for sts in statefulsets
            for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []}


def made_for(obj: Mapping, uids: set[str], services: set[str]) -> bool:
    """Whether Kubernetes made ``obj`` for one of ``uids`` (Services ``services``): they take it with them."""
    return owned(obj, uids) or (obj.get("kind") == "Endpoints" and name_of(obj) in services)


def names_of(objects: Sequence[Mapping], kind: str) -> set[str]:
    return {name_of(obj) for obj in objects if obj.get("kind") == kind}


def release_objects(objects: Sequence[Mapping], cfg: Settings) -> list[Mapping]:
    """The labelled objects, all that Kubernetes made for them (owners' owners too), and their volume claims."""
    mine = [obj for obj in objects if of_release(obj, cfg)]
    prefixes = tuple(claims([obj for obj in mine if obj.get("kind") == "StatefulSet"]))
    mine += [obj for obj in objects if obj.get("kind") == "PersistentVolumeClaim" and not of_release(obj, cfg)
             and name_of(obj).startswith(prefixes) and name_of(obj).rpartition("-")[2].isdigit()]
    while True:
        uids, refs = {uid_of(obj) for obj in mine}, {object_ref(obj) for obj in mine}
        more = [obj for obj in objects
                if object_ref(obj) not in refs and made_for(obj, uids, names_of(mine, "Service"))]
        if not more:
            return mine
        mine += more


def to_delete(objects: Sequence[Mapping], cfg: Settings) -> list[str]:
    """Refs of the labelled objects in delete order, without those Kubernetes made for the others
    (the foreground cascade and the controllers remove them)."""
    mine = release_objects(objects, cfg)
    uids, services = {uid_of(obj) for obj in mine}, names_of(mine, "Service")
    tops = [obj for obj in mine if of_release(obj, cfg) and not made_for(obj, uids, services)]
    order = {kind: index for index, kind in enumerate(DELETE_ORDER)}
    return [object_ref(obj) for obj in sorted(tops, key=lambda obj: order.get(obj.get("kind"), -1))]


def foreign(objects: Sequence[Mapping], cfg: Settings, release_is_ours: bool) -> list[str]:
    """Refs of the objects the suite did not create (deleting the namespace would take them too)."""
    mine = {object_ref(obj) for obj in release_objects(objects, cfg)}
    return sorted(object_ref(obj) for obj in objects
                  if object_ref(obj) not in mine
                  and (obj.get("kind"), name_of(obj)) not in NAMESPACE_DEFAULTS
                  and not (release_is_ours and helm_record(obj, cfg.release)))


def release_problem(found: Mapping, chart: str, objects: Sequence[Mapping], cfg: Settings) -> str:
    """Why the helm release of our name is not ours to uninstall; "" when it is."""
    if found.get("chart") != chart:
        return f"it is chart {found.get('chart')!r}, not {chart!r}"
    theirs = [object_ref(obj) for obj in objects if not of_release(obj, cfg)
              and (metadata(obj).get("annotations") or {}).get(HELM_RELEASE_ANNOTATION) == cfg.release]
    if theirs:
        return f"its objects lack the release's labels ({', '.join(theirs[:3])}{', ...' if len(theirs) > 3 else ''})"
    return ""


def our_release(c: Context, cfg: Settings, objects: Sequence[Mapping], notes: list[str]) -> bool:
    """Whether a helm release named ``cfg.release`` is here and ours to uninstall (a kept one is noted)."""
    if not any(helm_record(obj, cfg.release) for obj in objects):
        return False
    found = release_metadata(c, cfg)
    if found is None:
        return False
    problem = release_problem(found, part_of(cfg), objects, cfg)
    if problem:
        notes.append(f"helm release {cfg.release} kept: {problem}; it is not this suite's to remove")
    return not problem


def plan(c: Context, cfg: Settings, local_images: bool, notes: list[str] | None = None,
         prune_cache: bool = False) -> list[Step]:
    """Everything ``clean`` would remove, in order; empty when nothing is left. ``notes``: what is kept, and why."""
    notes = notes if notes is not None else []
    # Read before anything is removed: removing forgets.
    loaded = recorded(cfg)
    objects = namespace_objects(c, cfg)
    release = our_release(c, cfg, objects, notes)
    steps: list[Step] = []
    if release:
        steps.append(Step(f"helm release {cfg.release}",
                      helm(cfg, "uninstall", cfg.release, "--wait", "--timeout", f"{cfg.rollout_timeout}s")))
    names = to_delete(objects, cfg)
    if names:
        steps.append(Step(f"{len(names)} labelled object(s): {', '.join(names)}",
                      kubectl(cfg, "delete", *names, "--ignore-not-found", "--wait=true", "--cascade=foreground")))
    steps += cluster_image_steps(c, cfg, notes) + (cache_steps(c, cfg, loaded) if prune_cache else []) \
        + (local_image_steps(c, cfg) if local_images else [])
    namespace = get_json(c, cfg, "namespace", cfg.namespace)
    if namespace and (metadata(namespace).get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY:
        kept = foreign(objects, cfg, release)
        if kept:
            notes.append(f"namespace {cfg.namespace} kept: it holds {len(kept)} object(s) the suite did not create "
                         f"({', '.join(kept[:5])}{', ...' if len(kept) > 5 else ''})")
            return steps
        steps.append(Step(f"namespace {cfg.namespace} (created by the suite)",
                      kubectl(cfg, "delete", "namespace", cfg.namespace, "--ignore-not-found", "--wait=true")))
    return steps


def ask_terminal(question: str) -> bool:
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def clean_release(c: Context, cfg: Settings, report: Report, *, yes: bool, local_images: bool = False,
                  confirm: Callable[[str], bool] | None = None, prune_cache: bool = False) -> None:
    if prune_cache and cfg.provider != "minikube":
        fail(f"--prune-cache is for minikube's host-side image cache; provider {cfg.provider} keeps none",
             "leave --prune-cache out", ExitCode.BAD_INPUT)
    notes: list[str] = []
    steps = plan(c, cfg, local_images, notes, prune_cache)
    for note in notes:
        report.line("info", note)
    if not steps:
        report.line("ok", f"nothing to clean for release {cfg.release} in {cfg.namespace}")
        return
    for step in steps:
        report.line("info", f"{'would remove' if cfg.dry_run else 'remove'}: {step.what}")
    if not (cfg.dry_run or yes):
        if confirm is None:
            fail("clean deletes the objects listed above and needs confirmation",
                 "run it on a terminal to be asked, or pass --yes", ExitCode.BAD_INPUT)
        if not confirm(f"Delete these from {cfg.context}/{cfg.namespace}?"):
            fail("nothing was deleted", "answer y, or pass --yes", ExitCode.BAD_INPUT)
    for step in steps:
        with report.step(f"remove {step.what.split(':')[0]}", dry_run=cfg.dry_run):
            result = run(c, step.argv, mutates=True, dry_run=cfg.dry_run)
            if step.after and not cfg.dry_run:
                step.after(result)


@task(help={"yes": "Delete without asking (required when not on a terminal).",
            "local_images": "Also remove the app's images from the local docker.",
            "dry_run": "List what would be removed and remove nothing.",
            "prune_cache": "minikube: also delete the suite's loaded images from minikube's host-side cache "
                           "($MINIKUBE_HOME/cache/images).",
            "context": context_help("clean"),
            "host": "Run there over SSH: user@machine[:port] (default todoops.host; empty: this machine).",})
def clean(c, yes=False, local_images=False, dry_run=False, context=None, host=None, prune_cache=False):
    """Remove the release: helm release, labelled objects, images in the cluster, the namespace if we made it."""
    cfg = resolve(c, dry_run=dry_run, context=context, context_explicit=bool(context), host=host)
    with on_host(c, cfg) as here:
        cfg = require_cluster(here, cfg)
        clean_release(here, cfg, Report(), yes=yes, local_images=local_images, prune_cache=prune_cache,
                      confirm=ask_terminal if sys.stdin.isatty() else None)
