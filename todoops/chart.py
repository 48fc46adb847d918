"""`invoke chart.install`: the release through ``helm upgrade --install`` with the exact image tags.

Assumptions: the chart takes ``<component>.image.{repository,tag,pullPolicy}``
and references the Secret by name (``existingSecret``); the suite creates the
namespace itself. helm does not wait here: the rollout step waits and, on
failure, diagnoses the bad pods first and then rolls the release back to its
previous revision (helm's ``--atomic`` would remove the evidence before anyone
saw it). A release stuck in a pending state (an interrupted helm run) is
detected before upgrading and explained with its fix. Only helm's "release:
not found" means there is no release; any other failure to read it stops.
"""
import json
import re
from collections.abc import Sequence

import yaml
from invoke import Context, task

from .commands import run
from .config import Settings, resolve
from .errors import ExitCode, fail
from .images import BuiltImage, local_images
from .kube import ensure_namespace, read
from .preflight import require_cluster
from .release import secret_checksum, suite_values

PENDING = ("pending-install", "pending-upgrade", "pending-rollback")
# helm's answer for a release that does not exist.
RELEASE_NOT_FOUND = re.compile(r"release: not found")


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


def chart_name(cfg: Settings) -> str:
    """The name this project's chart gives itself in Chart.yaml."""
    return str(yaml.safe_load((cfg.chart / "Chart.yaml").read_text()).get("name", ""))


def stuck_hint(cfg: Settings, status: str, revision: int) -> str:
    if status == "pending-install" or revision <= 1:
        return f"an interrupted first install: `helm -n {cfg.namespace} uninstall {cfg.release}`, then re-run"
    return (f"see `helm -n {cfg.namespace} history {cfg.release}`, then "
            f"`helm -n {cfg.namespace} rollback {cfg.release} {revision - 1}` and re-run")


def install(c: Context, cfg: Settings, images: Sequence[BuiltImage]) -> int:
    """``helm upgrade --install`` with the built tags; returns the revision it replaced (0 if none)."""
    status, revision = release_status(c, cfg)
    if status in PENDING:
        fail(f"release {cfg.release} is {status}: another helm operation is in progress or was interrupted",
             stuck_hint(cfg, status, revision))
    result = run(c, helm(cfg, "upgrade", "--install", cfg.release, str(cfg.chart),
                         *suite_values(cfg, images, secret_checksum(c, cfg))),
                 mutates=True, dry_run=cfg.dry_run, warn=True)
    if result.failed:
        if "another operation" in result.stderr:
            fail(f"helm says another operation on {cfg.release} is in progress",
                 "wait for it to finish, or if it was interrupted: " + stuck_hint(cfg, "pending-upgrade", revision))
        fail(f"helm upgrade --install failed (exit {result.exited})",
             f"read helm's message above; check the chart with `invoke lint`; `helm -n {cfg.namespace} history "
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
                           "context": "Kube context to use (a non-local one must be named here explicitly)."})
def install_chart(c, dry_run=False, context=None):
    """helm upgrade --install the chart with the current content-addressed image tags (see `deploy`)."""
    cfg = resolve(c, dry_run=dry_run, context=context, context_explicit=bool(context), method="helm")
    cfg = require_cluster(c, cfg)
    ensure_namespace(c, cfg)
    install(c, cfg, local_images(c, cfg))
