"""`invoke chart.install`: the release through ``helm upgrade --install`` with the exact image tags.

Assumptions: the chart takes ``<component>.image.{repository,tag,pullPolicy}``
and references the Secret by name (``existingSecret``); the suite creates the
namespace itself. helm does not wait here: the rollout step waits and, on
failure, diagnoses the bad pods first and then rolls the release back to its
previous revision (helm's ``--atomic`` would remove the evidence before anyone
saw it). A release stuck in a pending state (an interrupted helm run) is
detected before upgrading and explained with its fix. Only helm's "release:
not found" means there is no release; any other failure to read it stops.

Switching methods: objects ``kubectl apply`` made carry the chart's labels but
not helm's ownership annotations, so a first helm install would refuse them
("invalid ownership metadata"). Before one, the objects the chart will own that
already exist are adopted (helm's ``managed-by`` label and release annotations)
when they carry the release's labels; any other object of those names stops the
deploy before anything changes. The other way, kubectl takes the objects over
and the release's helm records are deleted (``hand_over``): left behind, a
later helm upgrade would revert what kubectl applied and a helm uninstall would
remove it. The objects and their data stay either way.
"""
import json
import re
from collections.abc import Sequence

from invoke import Context, task

from .commands import run
from .config import Settings, context_help, resolve
from .errors import ExitCode, fail
from .images import BuiltImage
from .kubectl import MANAGED_BY_LABEL, get_json, get_names, kubectl, object_ref, of_release, read
from .release import secret_checksum, step_on_its_own, suite_values

PENDING = ("pending-install", "pending-upgrade", "pending-rollback")
# helm's answer for a release that does not exist.
RELEASE_NOT_FOUND = re.compile(r"release: not found")
HELM_RELEASE_ANNOTATION = "meta.helm.sh/release-name"
HELM_NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace"


def helm(cfg: Settings, *args: str) -> list[str]:
    return ["helm", "--kube-context", cfg.context, "--namespace", cfg.namespace, *args]


def release_status(c: Context, cfg: Settings) -> tuple[str, int]:
    """(status, revision) of the release; ("", 0) when it is not installed."""
    text = read(c, helm(cfg, "status", cfg.release, "-o", "json"), RELEASE_NOT_FOUND)
    if text is None:
        return "", 0
    info = json.loads(text)
    return info.get("info", {}).get("status", ""), int(info.get("version", 0))


def release_metadata(c: Context, cfg: Settings) -> dict | None:
    """``helm get metadata`` of the release (its chart's name among it); None when it is not installed."""
    text = read(c, helm(cfg, "get", "metadata", cfg.release, "-o", "json"), RELEASE_NOT_FOUND)
    return json.loads(text) if text is not None else None


def stuck_hint(cfg: Settings, status: str, revision: int) -> str:
    if status == "pending-install" or revision <= 1:
        return f"an interrupted first install: `helm -n {cfg.namespace} uninstall {cfg.release}`, then re-run"
    return (f"see `helm -n {cfg.namespace} history {cfg.release}`, then "
            f"`helm -n {cfg.namespace} rollback {cfg.release} {revision - 1}` and re-run")


def existing(c: Context, cfg: Settings, objects: Sequence[dict]) -> list[dict]:
    """Those of ``objects`` (by kind and name) that the namespace already holds, as the cluster has them."""
    refs = [object_ref(obj) for obj in objects if obj.get("kind") != "Namespace"]
    found = get_json(c, cfg, *refs, "--ignore-not-found") if refs else None
    return (found or {}).get("items", []) if found and "items" in found else ([found] if found else [])


def refuse_foreign(found: Sequence[dict], cfg: Settings) -> None:
    """Stop before any change when an object of the release's names is not the release's."""
    foreign = [object_ref(obj) for obj in found if not of_release(obj, cfg)]
    if foreign:
        fail(f"{', '.join(foreign)} already exist(s) in {cfg.namespace} without the labels of release {cfg.release}",
             "they are not this suite's to take over: remove them, or deploy to another namespace or release; "
             "nothing was changed")


def adopt(c: Context, cfg: Settings, objects: Sequence[dict]) -> list[str]:
    """Give helm the release's existing objects (made by `--method kubectl`); the refs adopted."""
    found = existing(c, cfg, objects)
    refuse_foreign(found, cfg)
    refs = [object_ref(obj) for obj in found
            if ((obj.get("metadata") or {}).get("annotations") or {}).get(HELM_RELEASE_ANNOTATION) != cfg.release]
    if refs:
        run(c, kubectl(cfg, "label", "--overwrite", *refs, f"{MANAGED_BY_LABEL}=Helm"),
            mutates=True, dry_run=cfg.dry_run)
        run(c, kubectl(cfg, "annotate", "--overwrite", *refs, f"{HELM_RELEASE_ANNOTATION}={cfg.release}",
                       f"{HELM_NAMESPACE_ANNOTATION}={cfg.namespace}"), mutates=True, dry_run=cfg.dry_run)
    return refs


def record_selector(cfg: Settings) -> str:
    """helm's records of the release (Secrets, its default storage)."""
    return f"owner=helm,name={cfg.release}"


def hand_over(c: Context, cfg: Settings, objects: Sequence[dict]) -> int:
    """Before `--method kubectl` applies: forget a helm release of ours (its records), keeping its objects.

    Returns how many records were deleted (0: there was no helm release).
    """
    records = get_names(c, cfg, "secrets", "-l", record_selector(cfg))
    if not records:
        return 0
    refuse_foreign(existing(c, cfg, objects), cfg)
    run(c, kubectl(cfg, "delete", "secrets", "-l", record_selector(cfg), "--ignore-not-found"),
        mutates=True, dry_run=cfg.dry_run)
    return len(records)


def install(c: Context, cfg: Settings, images: Sequence[BuiltImage], objects: Sequence[dict] = ()) -> int:
    """``helm upgrade --install`` with the built tags; returns the revision it replaced (0 if none).

    A first install adopts the release's ``objects`` that `--method kubectl` made.
    """
    status, revision = release_status(c, cfg)
    if status in PENDING:
        fail(f"release {cfg.release} is {status}: another helm operation is in progress or was interrupted",
             stuck_hint(cfg, status, revision))
    if not status:
        adopt(c, cfg, objects)
    result = run(c, helm(cfg, "upgrade", "--install", cfg.release, str(cfg.chart),
                         *suite_values(cfg, images, secret_checksum(c, cfg))),
                 mutates=True, dry_run=cfg.dry_run, warn=True)
    if result.failed:
        if "another operation" in result.stderr:
            fail(f"helm says another operation on {cfg.release} is in progress",
                 "wait for it to finish, or if it was interrupted: " + stuck_hint(cfg, "pending-upgrade", revision))
        fail(f"helm upgrade --install failed (exit {result.exited})",
             f"read helm's message above; check the chart with `invoke chart.lint`; `helm -n {cfg.namespace} history "
             f"{cfg.release}` shows the revisions")
    return revision


def rollback(c: Context, cfg: Settings, revision: int) -> None:
    """Return to ``revision`` (the one before a failed upgrade); a failed first install stays for diagnosis.

    A rollback that fails stops here: the caller only ever reports one that happened.
    """
    if not revision:
        return
    result = run(c, helm(cfg, "rollback", cfg.release, str(revision), "--wait", "--timeout",
                         f"{cfg.rollout_timeout}s"), mutates=True, dry_run=cfg.dry_run, warn=True)
    if result.failed:
        fail(f"the rollout did not become ready, and the rollback to revision {revision} failed too "
             f"(helm exit {result.exited})",
             f"the release may be between versions: read helm's message above and `helm -n {cfg.namespace} "
             f"history {cfg.release}`, then `helm -n {cfg.namespace} rollback {cfg.release} {revision}`",
             ExitCode.ROLLOUT)


@task(name="install", help={"dry_run": "Print the command without running it.",
                           "context": context_help()})
def install_chart(c, dry_run=False, context=None):
    """helm upgrade --install the chart with the current content-addressed image tags (see `deploy`)."""
    cfg = resolve(c, dry_run=dry_run, context=context, context_explicit=bool(context), method="helm")
    install(c, *step_on_its_own(c, cfg))
