"""`invoke rollout.wait`: wait for the release's workloads, and say why when they do not come up.

Waiting is ``kubectl rollout status`` per Deployment/StatefulSet not rolled out already, bounded by
``rollout_timeout``, in short slices: between two slices the release's pods are
read, and the wait stops as soon as every new pod of some workload is stuck in a
state that does not pass by itself (a crash loop after its first restart, an
image that cannot be pulled, missing configuration), instead of running out the
timeout. On failure every pod that is not ready is classified from
``kubectl get pods -o json`` (pure functions over that data: image pull, crash
loop, probe failure, config error such as a missing Secret key, unschedulable),
shown with its latest events and log tail (``--previous`` after a crash), and
given the fix; a StatefulSet's (the database's) pods come first, named as the
cause, and the app pods that wait on them get one line each. Repeated log lines
are shown once with their count. Events and logs are the cluster's text: the task registers the
secrets with the redaction filter before it quotes them (todoops.known_secrets).
"""
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from invoke import Context, task

from .commands import probe, run
from .config import Settings, context_help, resolve
from .errors import ExitCode, fail
from .known_secrets import load_known_secrets
from .kubectl import get_json, kubectl, said, selector
from .preflight import require_cluster
from .report import Report

IMAGE_PULL = {"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "RegistryUnavailable"}
CONFIG = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
ADVICE = {
    "image-pull": "the node does not have the image and cannot pull it: check the image reference in the message "
                  "(does that tag exist?), then re-run `invoke deploy` (it loads what this docker has) and check "
                  "the provider and its settings (e.g. todoops.containerd.address)",
    "crash-loop": "the app exits on start: read the log above (often a missing setting or an unreachable "
                  "database), fix it, re-deploy",
    "probe-failure": "the app runs but its health endpoint fails: check the probe path and port in the chart and "
                     "the log above",
    "config-error": "the pod references configuration that does not exist: run `invoke prepare-secrets` "
                    "(missing Secret or key) or fix the ConfigMap",
    "unschedulable": "no node can take the pod: lower the resource requests in the chart values or free the node",
    "unbound-volume": "the pod waits for its PersistentVolumeClaim: check `kubectl get pvc,storageclass` "
                      "(a default StorageClass whose provisioner runs) and the claim's events",
    "pending": "the pod has not started yet: read its events above",
}
LOGGED = ("crash-loop", "probe-failure")
# Waiting reasons that do not pass by themselves: a new pod in one of them will not become ready.
STUCK = IMAGE_PULL | {"CreateContainerConfigError", "CrashLoopBackOff"}
# Seconds of one `rollout status` slice: how soon a stuck rollout is noticed.
SLICE = 5
# What `kubectl rollout status` says when its --timeout ran out (anything else is a verdict).
TIMED_OUT = "timed out waiting for the condition"
REVISION = "deployment.kubernetes.io/revision"
# Diagnoses of an app pod that a database which cannot start explains (it waits on the database).
WAITS_ON_DATABASE = ("probe-failure", "crash-loop", "pending")
# Timestamps in log lines: a retry loop's lines differ only by them.
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?")


@dataclass(frozen=True)
class Diagnosis:
    pod: str
    container: str
    kind: str
    reason: str
    message: str
    # Logs of the previous (crashed) container rather than the current one.
    previous: bool = False
    # The StatefulSet the pod belongs to ("" for the Deployments' pods).
    statefulset: str = ""


def is_ready(pod: Mapping) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def probe_events(events: Sequence[Mapping]) -> list[str]:
    return [e.get("message", "") for e in events if e.get("reason") == "Unhealthy"]


def probe_kills(events: Sequence[Mapping]) -> list[str]:
    """Kubelet's "Container X failed liveness/startup probe, will be restarted" events."""
    return [e.get("message", "") for e in events if e.get("reason") == "Killing" and "probe" in e.get("message", "")]


def classify(pod: Mapping, events: Sequence[Mapping]) -> Diagnosis | None:
    """Why one pod is not ready, from its status and events; None when it is ready."""
    if is_ready(pod):
        return None
    name = pod["metadata"]["name"]
    status = pod.get("status", {})
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
            message = condition.get("message", "")
            # A claim without a volume is a storage problem, not a lack of CPU or memory.
            kind = "unbound-volume" if "unbound" in message and "PersistentVolumeClaim" in message else "unschedulable"
            return Diagnosis(name, "", kind, "Unschedulable", message)
    statuses = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    unhealthy = probe_events(events)
    for container in statuses:
        waiting = container.get("state", {}).get("waiting") or {}
        reason, message = waiting.get("reason", ""), waiting.get("message", "")
        if reason in IMAGE_PULL:
            return Diagnosis(name, container["name"], "image-pull", reason, message)
        if reason in CONFIG:
            return Diagnosis(name, container["name"], "config-error", reason, message)
        crashed = container.get("lastState", {}).get("terminated")
        if reason == "CrashLoopBackOff" or (crashed and container.get("restartCount", 0)):
            # Only a kubelet kill makes a restart the probe's fault: an app that exits on start is often
            # probed once before it dies ("Startup probe failed: connection refused"), which is no cause.
            liveness = [m for m in unhealthy if m.startswith(("Liveness", "Startup"))]
            if liveness and probe_kills(events):
                return Diagnosis(name, container["name"], "probe-failure", "Unhealthy", liveness[-1], previous=True)
            detail = f"exit code {crashed.get('exitCode')} ({crashed.get('reason', '')})" if crashed else message
            return Diagnosis(name, container["name"], "crash-loop", reason or "Restarted", detail, previous=True)
    if unhealthy:
        container = statuses[0]["name"] if statuses else ""
        return Diagnosis(name, container, "probe-failure", "Unhealthy", unhealthy[-1])
    return Diagnosis(name, "", "pending", status.get("phase", "Unknown"), status.get("message", ""))


def events_of(events: Mapping, pod: str, limit: int = 5) -> list[Mapping]:
    """The latest events about ``pod``, oldest first."""
    mine = [e for e in events.get("items", []) if e.get("involvedObject", {}).get("name") == pod]
    mine.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return mine[-limit:]


def statefulset_of(pod: Mapping) -> str:
    return next((o.get("name", "") for o in pod["metadata"].get("ownerReferences") or []
                 if o.get("kind") == "StatefulSet"), "")


def diagnose(pods: Mapping, events: Mapping) -> list[Diagnosis]:
    """Each bad pod's diagnosis, the StatefulSets' (the database) first: the app's pods wait on it."""
    found = [(classify(pod, events_of(events, pod["metadata"]["name"])), statefulset_of(pod))
             for pod in pods.get("items", [])]
    diagnoses = [replace(diagnosis, statefulset=owner) for diagnosis, owner in found if diagnosis]
    return sorted(diagnoses, key=lambda item: not item.statefulset)


def collapsed(lines: Sequence[str]) -> list[str]:
    """Each line once, where it first came, with how often it came (timestamps aside): a retry loop is one line."""
    counts = Counter(TIMESTAMP.sub("", text) for text in lines)
    shown, kept = set(), []
    for text in lines:
        key = TIMESTAMP.sub("", text)
        if key not in shown:
            shown.add(key)
            kept.append(f"{text} (repeated {counts[key]} times)" if counts[key] > 1 else text)
    return kept


def explain(c: Context, cfg: Settings, report: Report) -> list[Diagnosis]:
    """Print what is wrong with each bad pod: class, events, log tail, fix; a database that cannot start first,
    as the cause of the app pods that wait on it."""
    pods = get_json(c, cfg, "pods", "-l", selector(cfg)) or {}
    events = get_json(c, cfg, "events") or {}
    diagnoses = diagnose(pods, events)
    databases = sorted({item.statefulset for item in diagnoses if item.statefulset})
    for item in diagnoses:
        where = f"{item.pod}/{item.container}" if item.container else item.pod
        if databases and not item.statefulset and item.kind in WAITS_ON_DATABASE:
            report.line("info", f"{where}: {item.kind}: waits on statefulset {', '.join(databases)} (the cause above)")
            continue
        cause = f"cause: statefulset {item.statefulset} cannot start: " if item.statefulset else ""
        report.line("fail", f"{cause}{where}: {item.kind} ({item.reason}) {item.message}".rstrip())
        for event in events_of(events, item.pod):
            report.line("info", f"  event {event.get('type', '')} {event.get('reason', '')}: {event.get('message', '')}")
        if item.kind in LOGGED and item.container:
            show_log(c, cfg, report, item)
        report.line("info", f"  fix: {ADVICE[item.kind]}")
    return diagnoses


def show_log(c: Context, cfg: Settings, report: Report, item: Diagnosis) -> None:
    tail = probe(c, kubectl(cfg, "logs", item.pod, "-c", item.container, f"--tail={cfg.log_tail}",
                            *(["--previous"] if item.previous else [])))
    for text in collapsed(tail.stdout.splitlines()):
        report.line("info", f"  log | {text}")
    if not tail.ok:
        # No log lines because they could not be read is not the same as a silent crash.
        report.line("info", f"  log unavailable: {said(tail)}")


def workloads(c: Context, cfg: Settings) -> list[dict]:
    """The release's Deployments and StatefulSets, by name."""
    found = (get_json(c, cfg, "deployments,statefulsets", "-l", selector(cfg)) or {}).get("items", [])
    return sorted(found, key=workload_name)


def workload_name(workload: Mapping) -> str:
    """``deployment.apps/NAME``: how kubectl names it."""
    return f"{workload['kind'].lower()}.apps/{workload['metadata']['name']}"


def rolled_out(workload: Mapping) -> bool:
    """What `kubectl rollout status` waits for is so already: its controller has seen the latest spec, and
    every replica runs that and is ready (a re-deploy that changed nothing then waits on nothing)."""
    status, wanted = workload.get("status", {}), workload.get("spec", {}).get("replicas", 1)
    if status.get("observedGeneration", 0) < workload["metadata"].get("generation", 1):
        return False
    if workload["kind"] == "StatefulSet":
        return status.get("readyReplicas", 0) >= wanted and status.get("currentRevision") == status.get(
            "updateRevision")
    updated = status.get("updatedReplicas", 0)
    # Replicas beyond the updated ones are old pods still terminating.
    return updated >= wanted and status.get("replicas", 0) <= updated <= status.get("availableReplicas", 0)


def owned_by(item: Mapping, kind: str, name: str) -> bool:
    return any(o.get("kind") == kind and o.get("name") == name for o in item["metadata"].get("ownerReferences") or [])


def revision(item: Mapping) -> int:
    return int(item["metadata"].get("annotations", {}).get(REVISION, "0") or 0)


def new_pods(workload: Mapping, objects: Mapping[str, Sequence[Mapping]]) -> list[Mapping]:
    """The pods of a workload's current revision (a rolling update's old pods still run the old one)."""
    name, pods = workload["metadata"]["name"], objects.get("Pod", [])
    if workload.get("kind") == "StatefulSet":
        current = workload.get("status", {}).get("updateRevision")
        return [p for p in pods if owned_by(p, "StatefulSet", name)
                and p["metadata"].get("labels", {}).get("controller-revision-hash") == current]
    sets = [r["metadata"]["name"] for r in objects.get("ReplicaSet", [])
            if owned_by(r, "Deployment", name) and revision(r) == revision(workload)]
    return [p for p in pods if any(owned_by(p, "ReplicaSet", r) for r in sets)]


def stuck_reason(pod: Mapping) -> str:
    """The waiting reason that keeps ``pod`` from ever becoming ready by itself, else ""."""
    if is_ready(pod):
        return ""
    status = pod.get("status", {})
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        reason = (container.get("state", {}).get("waiting") or {}).get("reason", "")
        if reason in STUCK:
            return reason
    return ""


def database_starting(objects: Mapping[str, Sequence[Mapping]]) -> bool:
    """Whether a StatefulSet's new pod is still coming up (neither ready nor stuck)."""
    return any(not is_ready(pod) and not stuck_reason(pod)
               for workload in objects.get("StatefulSet", []) for pod in new_pods(workload, objects))


def stuck(objects: Mapping[str, Sequence[Mapping]]) -> list[str]:
    """``kind/name (reasons)`` of each workload whose new pods are all stuck (see STUCK).

    An app that only crash-loops while the database is still starting is not stuck yet: it may be waiting
    for it (on a slow machine PostgreSQL can take longer than the app's first restarts)."""
    found, waiting = [], database_starting(objects)
    for workload in objects.get("Deployment", []) + objects.get("StatefulSet", []):
        reasons = [stuck_reason(pod) for pod in new_pods(workload, objects)]
        if waiting and workload["kind"] == "Deployment" and set(reasons) == {"CrashLoopBackOff"}:
            continue
        if reasons and all(reasons):
            name = f"{workload['kind'].lower()}/{workload['metadata']['name']}"
            found.append(f"{name} ({', '.join(sorted(set(reasons)))})")
    return found


def release_state(c: Context, cfg: Settings) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    listing = get_json(c, cfg, "deployments,replicasets,statefulsets,pods", "-l", selector(cfg)) or {}
    for item in listing.get("items", []):
        grouped.setdefault(item.get("kind", ""), []).append(item)
    return grouped


def slices(total: int) -> list[int]:
    """``total`` seconds as SLICE-long `rollout status` timeouts (the reads between them add a little)."""
    count = max(1, math.ceil(total / SLICE))
    return [SLICE] * (count - 1) + [total - SLICE * (count - 1) or SLICE]


def workload_rolled_out(c: Context, cfg: Settings, report: Report, name: str) -> bool:
    """Wait for one workload; False at the timeout, at kubectl's verdict, or once some workload is stuck."""
    shown = ""
    for seconds in slices(cfg.rollout_timeout):
        result = run(c, kubectl(cfg, "rollout", "status", name, f"--timeout={seconds}s"), hide=True, warn=True)
        progress = (result.stdout.strip().splitlines() or [""])[-1]
        if progress and progress != shown:
            # Each slice repeats kubectl's last line: show it once, when it changes.
            report.line("info", progress)
            shown = progress
        if result.ok:
            return True
        if TIMED_OUT not in result.stderr:
            report.line("fail", f"{name}: {said(result)}")
            return False
        hopeless = stuck(release_state(c, cfg))
        if hopeless:
            report.line("fail", f"not waiting for the timeout: every new pod of {', '.join(hopeless)} is stuck")
            return False
    report.line("fail", f"{name} was not ready within {cfg.rollout_timeout}s")
    return False


def release_rolled_out(c: Context, cfg: Settings, report: Report) -> bool:
    """Wait for every workload of the release; on failure explain each bad pod. True when all are ready."""
    found = workloads(c, cfg)
    if not found:
        fail(f"release {cfg.release} has no Deployment or StatefulSet in {cfg.namespace}",
             "deploy it: invoke deploy", ExitCode.NOT_DEPLOYED)
    for workload in found:
        if not rolled_out(workload) and not workload_rolled_out(c, cfg, report, workload_name(workload)):
            explain(c, cfg, report)
            return False
    return True


def undo_hint(c: Context, cfg: Settings) -> str:
    """What to do after a failed kubectl rollout: the exact undo of each Deployment not rolled out that has a
    previous revision; a first revision has nothing to return to."""
    pending = [d for d in release_state(c, cfg).get("Deployment", [])
               if d.get("status", {}).get("updatedReplicas", 0) < d["spec"].get("replicas", 1)
               or d.get("status", {}).get("unavailableReplicas", 0)]
    undo = [f"kubectl --context {cfg.context} -n {cfg.namespace} rollout undo deployment/{d['metadata']['name']}"
            for d in pending if revision(d) > 1]
    first = [d["metadata"]["name"] for d in pending if revision(d) <= 1]
    hints = [f"fix the cause above and deploy again, or return to the previous version: {' && '.join(undo)}"] \
        if undo else []
    if first:
        hints.append(f"nothing to roll back to for {', '.join(first)} (a first revision): fix and deploy again")
    return "; ".join(hints) or "fix the cause above and deploy again"


@task(help={"context": context_help(),
            "timeout": "How long to wait per workload: seconds or 90s, 3m (default: todoops.rollout_timeout)."})
def wait(c, context=None, timeout=None):
    """Wait for the release's rollout; when it fails, classify each bad pod and print events, logs and the fix."""
    cfg = resolve(c, context=context, context_explicit=bool(context),
                  rollout_timeout=timeout)
    cfg = require_cluster(c, cfg)
    # The diagnosis quotes pods' events and logs.
    load_known_secrets(c, cfg)
    if not release_rolled_out(c, cfg, Report()):
        fail("the rollout did not become ready", f"see the diagnosis above; {undo_hint(c, cfg)}", ExitCode.ROLLOUT)
