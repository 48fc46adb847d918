"""`invoke validate`: is the release deployed, running what was built, and answering? Checks as data.

Every check is a ``Check`` (name, ok/warn/fail, detail, hint) computed by a pure
function over ``kubectl get -o json`` data, then shown as a table or ``--json``;
the image rows are todoops.running_images', the resource rows todoops.usage's.
Exit 0 only when nothing fails; otherwise PREFLIGHT (the context guard, the
same code as every other task), UNREACHABLE, NOT_DEPLOYED or UNHEALTHY. HTTP
checks go through the API server's service proxy (``kubectl get --raw``): like
a port-forward they need nothing but kubectl access, and they leave no
background process or local port behind. What the app must meet: the API
answers within 1 s, the frontend within 3 s, pods are ready within 2 minutes
of their creation. Details quote the cluster (log lines, the API's answers), so
the secrets are registered with the redaction filter first
(todoops.known_secrets); a read that fails is said so, never taken for
"nothing there".
"""
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from invoke import Context, Result

from .checks import Check, ok, show
from .commands import Argv, command_line, probe, run
from .config import SECONDS, Settings, context_help, read_flag, resolve
from .errors import ExitCode, fail
from .images import BuiltImage
from .known_secrets import load_known_secrets
from .kubectl import component, get_json, kubectl, said, selector
from .preflight import context_checks, targeted
from .remote import checks_everywhere, task
from .report import Report
from .rollout import STUCK
from .running_images import expected_images, image_checks, size_checks, statefulset_image_checks
from .processes import probes
from .smoke import refuse_remote, service_path, smoke_checks
from .usage import usage_checks

# What validate reads of the release, in one request.
CHECKED_KINDS = "deployments,statefulsets,pods,services,endpointslices,ingresses"
# (component, path, seconds allowed): the app's health endpoints and how fast each must answer.
HTTP_CHECKS = (("backend", "/health", 1.0), ("backend", "/ready", 1.0), ("frontend", "/", 3.0),
               ("frontend", "/api/healthz", 3.0))
READY_WITHIN = 120
ERROR_LINE = re.compile(r'"level(name)?":\s*"(error|critical)"|\bERROR\b|Traceback \(most recent call last\)',
                        re.IGNORECASE)


def by_kind(objects: Mapping) -> dict[str, list[dict]]:
    grouped = defaultdict(list)
    for item in objects.get("items", []):
        grouped[item.get("kind", "")].append(item)
    return grouped


def workload_checks(workloads: Sequence[Mapping]) -> list[Check]:
    """Deployments and StatefulSets (the database) alike: every wanted replica updated and ready."""
    checks = []
    for item in workloads:
        kind, name = item["kind"].lower(), item["metadata"]["name"]
        wanted, status = item["spec"].get("replicas", 1), item.get("status", {})
        ready = status.get("availableReplicas" if kind == "deployment" else "readyReplicas", 0)
        updated = status.get("updatedReplicas", 0)
        word = "available" if kind == "deployment" else "ready"
        checks.append(ok(f"{kind} {name}", f"{ready}/{wanted} {word}") if ready >= wanted == updated
                      else Check(f"{kind} {name}", "fail", f"{ready}/{wanted} {word}, {updated} updated",
                                 "run `invoke rollout.wait` for the diagnosis", ExitCode.UNHEALTHY))
    return checks


def waiting_checks(pods: Sequence[Mapping]) -> list[Check]:
    """Containers waiting for something that does not come by itself (an image, a Secret); crash loops are
    the restarts check's."""
    stuck = [f"{pod['metadata']['name']}/{status['name']} {reason} ({status.get('image', '')})"
             for pod in pods for status in pod.get("status", {}).get("containerStatuses") or []
             for reason in [(status.get("state", {}).get("waiting") or {}).get("reason", "")]
             if reason in STUCK - {"CrashLoopBackOff"}]
    return [Check("waiting", "fail", ", ".join(stuck), "run `invoke rollout.wait` for the diagnosis and the fix",
                  ExitCode.UNHEALTHY)] if stuck else [ok("waiting", "no pod waits for an image or configuration")]


def restart_checks(pods: Sequence[Mapping]) -> list[Check]:
    crashing, restarted = [], []
    for pod in pods:
        for status in pod.get("status", {}).get("containerStatuses") or []:
            if (status.get("state", {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff":
                crashing.append(pod["metadata"]["name"])
            elif status.get("restartCount", 0):
                restarted.append(f"{pod['metadata']['name']} ({status['restartCount']})")
    if crashing:
        return [Check("restarts", "fail", f"crash loop: {', '.join(crashing)}",
                      "run `invoke rollout.wait` for events and logs", ExitCode.UNHEALTHY)]
    if restarted:
        return [Check("restarts", "warn", f"restarted: {', '.join(restarted)}", "read `invoke app.logs`")]
    return [ok("restarts", "none")]


def endpoint_checks(services: Sequence[Mapping], slices: Sequence[Mapping]) -> list[Check]:
    ready = defaultdict(int)
    for item in slices:
        owner = item.get("metadata", {}).get("labels", {}).get("kubernetes.io/service-name", "")
        ready[owner] += sum(1 for e in item.get("endpoints") or [] if (e.get("conditions") or {}).get("ready"))
    return [ok(f"service {s['metadata']['name']}", f"{ready[s['metadata']['name']]} ready endpoint(s)")
            if ready[s["metadata"]["name"]] else
            Check(f"service {s['metadata']['name']}", "fail", "no ready endpoint",
                  "its pods are not ready or its selector matches none", ExitCode.UNHEALTHY)
            for s in services]


def ready_time_check(pods: Sequence[Mapping]) -> list[Check]:
    def seconds(pod: Mapping) -> float | None:
        ready = next((c for c in pod.get("status", {}).get("conditions") or []
                      if c.get("type") == "Ready" and c.get("status") == "True"), None)
        if not ready:
            return None
        start = datetime.fromisoformat(pod["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
        return (datetime.fromisoformat(ready["lastTransitionTime"].replace("Z", "+00:00")) - start).total_seconds()

    times = [t for t in map(seconds, pods) if t is not None]
    if not times:
        return []
    slowest = max(times)
    return [ok("pods ready time", f"slowest {slowest:.0f}s") if slowest <= READY_WITHIN else
            Check("pods ready time", "warn", f"slowest {slowest:.0f}s > {READY_WITHIN}s",
                  "check probes' initial delays and resource requests")]


def ingress_checks(ingresses: Sequence[Mapping], classes: str) -> list[Check]:
    checks = []
    for item in ingresses:
        name = f"ingress {item['metadata']['name']}"
        wanted = item["spec"].get("ingressClassName", "")
        if f"ingressclass.networking.k8s.io/{wanted}" not in classes.split():
            checks.append(Check(name, "warn", f"no ingress controller for class {wanted!r}",
                                "use `invoke app.port-forward`, or enable one (minikube addons enable ingress)"))
        elif not item.get("status", {}).get("loadBalancer", {}).get("ingress"):
            checks.append(Check(name, "warn", "no address yet", "check the ingress controller's pods"))
        else:
            checks.append(ok(name, ", ".join(rule.get("host", "*") for rule in item["spec"].get("rules", []))))
    return checks


def log_check(text: str) -> list[Check]:
    errors = [line for line in text.splitlines() if ERROR_LINE.search(line)]
    return [Check("logs", "warn", f"{len(errors)} error line(s), last: {errors[-1][:160]}", "read `invoke app.logs`")
            if errors else ok("logs", "no error lines")]


def unread(name: str, command: Argv, result: Result) -> list[Check]:
    """A check whose input could not be read: a warning that says why, never "nothing found"."""
    return [Check(name, "warn", f"could not be read: {said(result)}", f"run `{command_line(command)}` to see why")]


def http_checks(c: Context, cfg: Settings, services: Sequence[Mapping]) -> list[Check]:
    """GET each health endpoint through the API server's service proxy, all at once, each timed."""
    by_component = {component(s): s for s in services}
    answers = iter(probes(c, [kubectl(cfg, "get", "--raw", f"{service_path(cfg.namespace, by_component[name])}{path}",
                                      "--request-timeout", "10s")
                              for name, path, _ in HTTP_CHECKS if name in by_component]))
    checks = []
    for name, path, limit in HTTP_CHECKS:
        label = f"http {name} {path}"
        if name not in by_component:
            checks.append(Check(label, "fail", f"no {name} Service", "run `invoke deploy`", ExitCode.UNHEALTHY))
            continue
        result, elapsed = next(answers)
        if not result.ok:
            checks.append(Check(label, "fail", said(result), f"read `invoke app.logs --component {name}`",
                                ExitCode.UNHEALTHY))
        elif elapsed > limit:
            checks.append(Check(label, "warn", f"{elapsed:.2f}s > {limit:.0f}s", "see the pod's resources and logs"))
        else:
            checks.append(ok(label, f"{elapsed:.2f}s"))
    return checks


def cluster_objects(c: Context, cfg: Settings) -> dict[str, list[dict]]:
    """The release's objects as the checks judge them: a pod being deleted (an old ReplicaSet's, right after a
    rollout or a rollback) is on its way out, so neither its image nor its crash loop counts."""
    objects = by_kind(get_json(c, cfg, CHECKED_KINDS, "-l", selector(cfg)) or {})
    objects["Pod"] = [pod for pod in objects["Pod"] if not pod["metadata"].get("deletionTimestamp")]
    return objects


def verify(c: Context, cfg: Settings, images: Sequence[BuiltImage]) -> list[Check]:
    """What deploy proves after a rollout: the built images run, services have endpoints, the app answers."""
    objects = cluster_objects(c, cfg)
    return (image_checks(objects["Pod"], images) + endpoint_checks(objects["Service"], objects["EndpointSlice"])
            + http_checks(c, cfg, objects["Service"]))


def checks(c: Context, cfg: Settings, images: Sequence[BuiltImage], smoke: bool = False) -> list[Check]:
    """Every validate check, stopping early when the cluster cannot be reached or nothing is deployed."""
    found = context_checks(c, cfg)
    if any(check.status == "fail" for check in found):
        return found
    load_known_secrets(c, cfg)
    objects = cluster_objects(c, cfg)
    if not objects["Deployment"]:
        return found + [Check("deployed", "fail", f"no Deployment of release {cfg.release} in {cfg.namespace}",
                              "run `invoke deploy`", ExitCode.NOT_DEPLOYED)]
    return (found + workload_checks(objects["Deployment"] + objects["StatefulSet"])
            + image_checks(objects["Pod"], images) + statefulset_image_checks(objects["StatefulSet"], objects["Pod"])
            + restart_checks(objects["Pod"]) + waiting_checks(objects["Pod"])
            + endpoint_checks(objects["Service"], objects["EndpointSlice"])
            + http_checks(c, cfg, objects["Service"]) + logs_checks(c, cfg)
            + ingress_class_checks(c, cfg, objects["Ingress"]) + ready_time_check(objects["Pod"]) + size_checks(images)
            + usage_checks(c, cfg, objects["Pod"])
            + (smoke_checks(c, cfg, objects["Service"], objects["Pod"]) if smoke else []))


def logs_checks(c: Context, cfg: Settings) -> list[Check]:
    command = kubectl(cfg, "logs", "-l", selector(cfg), "--all-containers", "--prefix", "--tail=200",
                      "--max-log-requests=20")
    logs = probe(c, command)
    return log_check(logs.stdout) if logs.ok else unread("logs", command, logs)


def ingress_class_checks(c: Context, cfg: Settings, ingresses: Sequence[Mapping]) -> list[Check]:
    if not ingresses:
        return []
    command = kubectl(cfg, "get", "ingressclasses", "-o", "name")
    classes = probe(c, command)
    return ingress_checks(ingresses, classes.stdout) if classes.ok else unread("ingress classes", command, classes)


def exit_code(found: Sequence[Check]) -> ExitCode | None:
    """None when nothing failed, else the code of the most basic failure."""
    codes = {check.code for check in found if check.status == "fail"}
    # What kept checks from running at all comes first (a host that failed is one of those).
    for code in (ExitCode.BAD_INPUT, ExitCode.PREFLIGHT, ExitCode.UNREACHABLE, ExitCode.FAILED, ExitCode.NOT_DEPLOYED):
        if code in codes:
            return code
    return ExitCode.UNHEALTHY if codes else None


@task(help={"json": "Print the checks as JSON on stdout.",
            "wait": "First wait this long for every Deployment's rollout to complete: seconds or 90s, 3m.",
            "context": context_help("check"),
            "host": "Run there over SSH: user@machine[:port], comma-separated for several (default todoops.host).",
            "smoke": "Also use the app through the frontend as a person would (register, log in, task CRUD, chat) "
                     "with a throw-away account, deleted afterwards: writes to the app's database."})
def validate(c, json=False, wait=None, context=None, host=None, smoke=False):  # noqa: A002 (the flag is --json)
    """Check the deployed app: workloads, images, restarts, waiting pods, endpoints, HTTP, logs, ingress.
    Exit 0 only if all pass."""
    cfg = resolve(c, json=json, context=context, context_explicit=bool(context), host=host)
    seconds = read_flag(SECONDS, wait, "--wait")
    if smoke:
        refuse_remote(cfg)

    def checks_here(here: Context) -> list[Check]:
        # Context and provider are settled where the commands run (the host's kubeconfig).
        settled, untargeted = targeted(here, cfg)
        if untargeted:
            return untargeted
        if seconds:
            # Until each rollout is complete: new pods available and the old ones on their way out (a Deployment
            # stays Available throughout a rollback, while the broken pods it replaced still crash).
            run(here, kubectl(settled, "rollout", "status", "deployment", "-l", selector(settled),
                              f"--timeout={seconds}s"), hide=True, warn=True)
        return checks(here, settled, expected_images(here, settled), smoke)

    found = checks_everywhere(c, cfg, checks_here)
    show(Report(json_mode=cfg.json), found)
    code = exit_code(found)
    if code:
        fail(f"{sum(check.status == 'fail' for check in found)} check(s) failed",
             "each failed check above names its fix", code)
