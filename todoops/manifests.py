"""`invoke k8s.apply`: the release through kubectl.

Assumptions: the release's objects (see todoops.release: usually ``k8s/``) are
applied in filename order as one stream on stdin, with the exact image tags,
the provider's pull policy and the Secret's checksum patched in memory (the
files never change), so a changed image or Secret always rolls out and an
unchanged one leaves every pod alone. Given the objects an earlier apply of the
same process sent (``Applied``: `invoke dev` keeps one), the stream holds only
the objects that differ from those, and nothing runs when none does: kubectl
asks the API server about every object it is given, the unchanged ones too.
"""
from collections.abc import Sequence
from dataclasses import dataclass, field

import yaml
from invoke import Context, task

from .chart import hand_over
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


def apply_manifests(c: Context, cfg: Settings, images: Sequence[BuiltImage], objects: Sequence[dict],
                    applied: Applied | None = None) -> None:
    """``kubectl apply`` of the release's objects with the built image tags; unchanged objects stay untouched.

    With ``applied``, only the objects that differ from it are sent, and it learns them once applied.
    """
    # A helm release of these objects (a deploy with --method helm before) hands them over first.
    hand_over(c, cfg, objects)
    objects = with_release(objects, images, provider_for(cfg).pull_policy, secret_checksum(c, cfg))
    fresh = applied.changed(objects) if applied else objects
    if not fresh:
        return
    stream = "---\n".join(yaml.safe_dump(obj, sort_keys=False) for obj in fresh)
    run(c, kubectl(cfg, "apply", "-f", "-"), mutates=True, dry_run=cfg.dry_run, stdin=stream)
    if applied and not cfg.dry_run:
        applied.record(fresh)


@task(help={"dry_run": "Print the command without running it.", "context": context_help()})
def apply(c, dry_run=False, context=None):
    """Apply k8s/ with the current content-addressed image tags (builds and loads nothing: see `deploy`)."""
    cfg = resolve(c, dry_run=dry_run, context=context, context_explicit=bool(context), method="kubectl")
    apply_manifests(c, *step_on_its_own(c, cfg))
