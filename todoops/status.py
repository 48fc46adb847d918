"""`invoke status`: per component, what the cluster runs and whether it is this source tree's code.

One ``kubectl get -o json`` of the release's workloads, their pods and their
revisions (a Deployment's ReplicaSets, a StatefulSet's ControllerRevisions) is
all it reads. An image the suite builds is current when the content part of the
tag the pods run (run tags are ``<content tag>-<image id>``) equals the content
tag of the sources now; a changed file shows as stale before any deploy.
"""
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from invoke import Context, task

from .config import Settings, context_help, resolve
from .errors import ExitCode, fail
from .images import planned_images
from .kubectl import component, get_json, selector
from .preflight import require_cluster
from .refs import split_ref
from .report import Report

WORKLOADS = {"Deployment": "ReplicaSet", "StatefulSet": "ControllerRevision"}


@dataclass(frozen=True)
class ComponentStatus:
    component: str
    desired: int
    ready: int
    # The tags the component's pods run (two while a rollout is under way).
    tags: tuple[str, ...]
    # The content tag of the sources now; "" for an image the suite does not build (postgresql).
    source_tag: str
    restarts: int
    # Seconds since the newest ReplicaSet / ControllerRevision was made; None: none found.
    rollout_age: float | None

    @property
    def current(self) -> bool | None:
        """Whether every pod runs the sources' content tag (None: not built here, nothing to compare)."""
        if not self.source_tag:
            return None
        return bool(self.tags) and all(tag.split("-", 1)[0] == self.source_tag for tag in self.tags)


def component_statuses(found: Mapping, source_tags: Mapping[str, str], now: datetime) -> list[ComponentStatus]:
    """One status per workload of the release, from ``kubectl get -o json`` of workloads, revisions and pods."""
    items = found.get("items") or []
    statuses = []
    for workload in (item for item in items if item.get("kind") in WORKLOADS):
        name = component(workload) or workload["metadata"]["name"]
        mine = [item for item in items if component(item) == name]
        pods = [pod for pod in mine if pod["kind"] == "Pod"]
        containers = [status for pod in pods for status in pod.get("status", {}).get("containerStatuses") or []]
        statuses.append(ComponentStatus(
            component=name,
            desired=workload.get("spec", {}).get("replicas", 1),
            ready=workload.get("status", {}).get("readyReplicas", 0),
            tags=tuple(sorted({split_ref(container["image"])[1]
                               for pod in pods for container in pod["spec"]["containers"]
                               if container["name"] == name})),
            source_tag=source_tags.get(name, ""),
            restarts=sum(status.get("restartCount", 0) for status in containers),
            rollout_age=newest_age([item for item in mine if item["kind"] == WORKLOADS[workload["kind"]]], now),
        ))
    return sorted(statuses, key=lambda status: status.component)


def newest_age(revisions: Sequence[Mapping], now: datetime) -> float | None:
    made = [datetime.fromisoformat(item["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
            for item in revisions]
    return (now - max(made)).total_seconds() if made else None


def age(seconds: float | None) -> str:
    """``kubectl``'s way: 45s, 12m, 3h20m, 5d."""
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60}m"
    return f"{seconds // 86400}d"


def current_text(status: ComponentStatus) -> str:
    if status.current is None:
        return "-"
    return "yes" if status.current else f"STALE (source {status.source_tag})"


def show(report: Report, statuses: Sequence[ComponentStatus]) -> None:
    report.table(["component", "ready", "image tag", "current", "restarts", "last rollout"],
                 [[status.component, f"{status.ready}/{status.desired}", ",".join(status.tags) or "-",
                   current_text(status), str(status.restarts), age(status.rollout_age)] for status in statuses])
    report.emit([{**asdict(status), "current": status.current} for status in statuses])


def release_status(c: Context, cfg: Settings) -> list[ComponentStatus]:
    """The release's components as the cluster has them now (empty: nothing deployed)."""
    found = get_json(c, cfg, "deployments,statefulsets,replicasets,controllerrevisions,pods", "-l", selector(cfg))
    source_tags = {image.name: image.tag for image in planned_images(cfg)}
    return component_statuses(found or {}, source_tags, datetime.now(timezone.utc))


@task(help={"context": context_help(), "json": "Print the components as JSON on stdout."})
def status(c, context=None, json=False):  # noqa: A002 (the flag is --json)
    """Per component: ready/desired, the image tag running and whether it is today's source, restarts, last rollout."""
    cfg = resolve(c, context=context, context_explicit=bool(context), json=json)
    cfg = require_cluster(c, cfg)
    statuses = release_status(c, cfg)
    if not statuses:
        fail(f"nothing of release {cfg.release} in namespace {cfg.namespace}", "deploy first: invoke deploy",
             ExitCode.NOT_DEPLOYED)
    show(Report(json_mode=cfg.json), statuses)
