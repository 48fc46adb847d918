"""`invoke k8s.apply`: the release through kubectl.

Assumptions: the release's objects (see todoops.release: usually ``k8s/``) are
applied in filename order as one stream on stdin, with the exact image tags,
the provider's pull policy and the Secret's checksum patched in memory (the
files never change), so a changed image or Secret always rolls out and an
unchanged one leaves every pod alone. The stream holds only the objects that
differ from what was applied before, and nothing runs when none does (kubectl
spends about a second on a no-change apply of the release, on its schemas).
What was applied before: the objects this process sent (``Applied``: `invoke
dev` keeps one), or else those the cluster holds exactly as an apply of them
left them: kubectl's record of its last apply (an annotation) is the object,
and the live object still has every field the object sets, so nobody edited,
scaled or `set image`d it since (an edit is put right by the next deploy).
"""
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import yaml
from invoke import Context, task

from .chart import existing, hand_over
from .commands import run
from .config import Settings, context_help, resolve
from .images import BuiltImage
from .kubectl import kubectl, object_ref
from .providers import provider_for
from .release import secret_checksum, step_on_its_own, with_release


@dataclass
class Applied:
    """The objects this process applied last, by ``kind[.group]/name`` (see the module's docstring)."""

    objects: dict[str, dict] = field(default_factory=dict)

    def changed(self, objects: Sequence[dict]) -> list[dict]:
        return [obj for obj in objects if self.objects.get(object_ref(obj)) != obj]

    def record(self, objects: Sequence[dict]) -> None:
        self.objects.update((object_ref(obj), obj) for obj in objects)


# Where kubectl records the object of its last apply, as JSON.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def as_recorded(obj: Mapping) -> dict:
    """``obj`` without what kubectl adds to its record: the namespace, an empty annotations map."""
    metadata = {key: value for key, value in (obj.get("metadata") or {}).items()
                if key != "namespace" and (value or key != "annotations")}
    return {**obj, "metadata": metadata}


def holds(live: object, wanted: object) -> bool:
    """Every field ``wanted`` sets has that value in ``live`` (which also has the server's defaults and status)."""
    if isinstance(wanted, dict):
        return isinstance(live, dict) and all(key in live and holds(live[key], value) for key, value in wanted.items())
    if isinstance(wanted, list):
        return isinstance(live, list) and len(live) == len(wanted) and all(map(holds, live, wanted))
    return live == wanted


def as_applied(live: Mapping, obj: Mapping) -> bool:
    """Whether ``live`` is ``obj`` as ``kubectl apply`` of it left it (see the module's docstring)."""
    record = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    return bool(record) and as_recorded(json.loads(record)) == as_recorded(obj) and holds(live, obj)


def applied_before(c: Context, cfg: Settings, objects: Sequence[dict]) -> list[dict]:
    """Those of ``objects`` the cluster holds as an apply of them left them (one read of them all)."""
    live = {object_ref(item): item for item in existing(c, cfg, objects)}
    return [obj for obj in objects if (item := live.get(object_ref(obj))) and as_applied(item, obj)]


def apply_manifests(c: Context, cfg: Settings, images: Sequence[BuiltImage], objects: Sequence[dict],
                    applied: Applied | None = None) -> None:
    """``kubectl apply`` of the release's objects with the built image tags, of those that changed only.

    ``applied``: what this process applied before (it learns what this apply sends); when it knows nothing
    yet, it learns what the cluster holds as applied first.
    """
    # A helm release of these objects (a deploy with --method helm before) hands them over first.
    hand_over(c, cfg, objects)
    objects = with_release(objects, images, provider_for(cfg).pull_policy, secret_checksum(c, cfg))
    applied = applied if applied is not None else Applied()
    if not applied.objects:
        applied.record(applied_before(c, cfg, objects))
    fresh = applied.changed(objects)
    if not fresh:
        return
    stream = "---\n".join(yaml.safe_dump(obj, sort_keys=False) for obj in fresh)
    run(c, kubectl(cfg, "apply", "-f", "-"), mutates=True, dry_run=cfg.dry_run, stdin=stream)
    if not cfg.dry_run:
        applied.record(fresh)


@task(help={"dry_run": "Print the command without running it.", "context": context_help()})
def apply(c, dry_run=False, context=None):
    """Apply k8s/ with the current content-addressed image tags (builds and loads nothing: see `deploy`)."""
    cfg = resolve(c, dry_run=dry_run, context=context, context_explicit=bool(context), method="kubectl")
    apply_manifests(c, *step_on_its_own(c, cfg))
