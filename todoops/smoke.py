"""`invoke validate --smoke`: use the deployed app as a person would, one check row per step.

Through the frontend Service, reached like validate's HTTP checks through the
API server's service proxy. ``kubectl get --raw`` only GETs and carries no
cookie, so a ``kubectl proxy`` (127.0.0.1, a port the kernel picks) runs for as
long as the flow does, and this process speaks HTTP to it (todoops.smoke_http),
with a ``kubectl port-forward`` to each serving backend pod for the session
check on every pod (todoops.smoke_steps). The flow (``flow(base_url,
backend_pods)``) needs only base URLs, so tests run it against backends directly.

A failed step stops the flow (later steps build on it); its row names the step,
the HTTP status and the app's error code, with a hint. Every step is timed. The
throw-away account is deleted after the steps, also when one of them failed.
"""
import re
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack

from invoke import Context

from .checks import Check, ok
from .processes import NotStarted, background
from .config import Settings
from .errors import ExitCode, fail
from .kubectl import kubectl
from .redaction import REDACTOR
from .smoke_http import Client, StepFailed
from .smoke_steps import POD_STEP, Run, Step, delete_account, steps_for, throwaway_account

PROXY_READY = re.compile(r"Starting to serve on 127\.0\.0\.1:(?P<port>\d+)")
FORWARD_READY = re.compile(r"Forwarding from 127\.0\.0\.1:(?P<port>\d+) ->")
PROXY_START_SECONDS = 30
# The app's API is meant to answer within a second: a slower step is a warning, not a failure.
STEP_WARN_SECONDS = 1.0


def hint(step: str, failure: StepFailed, email: str) -> str:
    """What to look at, from where the flow stopped and how."""
    if step == "delete account":
        return (f"remove {email} by hand (psql in the database pod: DELETE FROM users WHERE email = '{email}'); "
                "its tasks go with it")
    if failure.status is None and step == POD_STEP[0]:
        return "the port-forward to the pod did not answer: is the pod still running?"
    if failure.status is None:
        return "the API server's service proxy did not answer: run `invoke validate` for the cluster checks"
    if failure.code in ("backend_unavailable", "backend_timeout"):
        return "the frontend cannot reach the backend: check the backend Service's endpoints and BACKEND_URL"
    if failure.status == 503 and failure.code == "ServiceUnavailable":
        return "the frontend Service has no ready pod: run `invoke rollout.wait`"
    if failure.status == 401 and step != "log in":
        return ("the backend refused a token it issued: do all backend pods run with the same JWT_SECRET? "
                "(`invoke prepare-secrets`, then restart them)")
    if failure.status >= 500:
        return "the backend failed: is its database up? read `invoke app.logs --component backend`"
    return "read `invoke app.logs --component backend` and `invoke app.logs --component frontend`"


def timed(name: str, step: Step, run: Run) -> Check:
    """Run one step: a check row with its time, or with the failure and its hint."""
    started = time.monotonic()
    try:
        step(run)
    except StepFailed as failure:
        took = time.monotonic() - started
        return Check(f"smoke {name}", "fail", REDACTOR(f"{failure} ({took:.2f}s)"),
                     hint(name, failure, run.account.email), ExitCode.UNHEALTHY)
    took = time.monotonic() - started
    if took > STEP_WARN_SECONDS:
        return Check(f"smoke {name}", "warn", f"{took:.2f}s > {STEP_WARN_SECONDS:.0f}s",
                     "see the pods' resources and `invoke app.logs`")
    return ok(f"smoke {name}", f"{took:.2f}s")


def flow(base_url: str, backend_pods: Sequence[tuple[str, str]] = ()) -> list[Check]:
    """Every step against ``base_url`` (the app's origin: /api/... below it), then the account's removal.

    ``backend_pods``: (name, base URL) of each backend pod, to check the session on each.
    """
    account = throwaway_account()
    run = Run(Client(base_url, account.email.split("@")[0]), account, backend_pods)
    steps = steps_for(run)
    found: list[Check] = []
    try:
        for index, (name, step) in enumerate(steps):
            found.append(timed(name, step, run))
            if found[-1].status == "fail":
                found += [Check(f"smoke {later}", "skip", f"not run: {name} failed") for later, _ in steps[index + 1:]]
                break
    finally:
        if run.registered:
            found.append(timed("delete account", delete_account, run))
    return found


def service_path(namespace: str, service: Mapping) -> str:
    """The API server's proxy to ``service``'s first port (the path validate's HTTP checks use too)."""
    port = service["spec"]["ports"][0]["port"]
    return f"/api/v1/namespaces/{namespace}/services/http:{service['metadata']['name']}:{port}/proxy"


def refuse_remote(cfg: Settings) -> None:
    """The flow's HTTP runs in this process, and a ``kubectl proxy`` over --host would listen on the other machine."""
    if cfg.host:
        fail(f"--smoke does not run over --host ({cfg.host})",
             "run `invoke validate --smoke` on that machine, or validate without --smoke", ExitCode.BAD_INPUT)


def of_component(objects: Sequence[Mapping], name: str) -> list[Mapping]:
    return [item for item in objects
            if item.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/component") == name]


def serving_backends(pods: Sequence[Mapping]) -> list[tuple[str, int]]:
    """(name, port) of each Ready backend pod (validate has dropped those on their way out)."""
    serving = []
    for pod in of_component(pods, "backend"):
        ready = any(condition.get("type") == "Ready" and condition.get("status") == "True"
                    for condition in pod.get("status", {}).get("conditions") or [])
        ports = [port["containerPort"] for container in pod["spec"]["containers"] if container["name"] == "backend"
                 for port in container.get("ports") or []]
        if ready and ports:
            serving.append((pod["metadata"]["name"], ports[0]))
    return serving


def smoke_checks(c: Context, cfg: Settings, services: Sequence[Mapping], pods: Sequence[Mapping]) -> list[Check]:
    """The flow through the release's frontend Service, while a ``kubectl proxy`` runs for it and a
    port-forward to each serving backend pod (all stopped again when the flow ends)."""
    frontend = of_component(services, "frontend")
    if not frontend:
        return [Check("smoke", "fail", "no frontend Service", "run `invoke deploy`", ExitCode.UNHEALTHY)]
    try:
        with ExitStack() as running:
            proxy_argv = kubectl(cfg, "proxy", "--port", "0", "--address", "127.0.0.1")
            proxy = running.enter_context(background(c, proxy_argv, PROXY_READY, PROXY_START_SECONDS))
            backend_pods = [(name, f"http://127.0.0.1:{running.enter_context(forward(c, cfg, name, port))['port']}")
                            for name, port in serving_backends(pods)]
            return flow(f"http://127.0.0.1:{proxy['port']}{service_path(cfg.namespace, frontend[0])}", backend_pods)
    except NotStarted as error:
        return [Check("smoke proxy", "fail", str(error), "check that kubectl can proxy and port-forward with this "
                      "context", ExitCode.UNHEALTHY)]


def forward(c: Context, cfg: Settings, pod: str, port: int):
    """A ``kubectl port-forward`` to ``pod`` on a 127.0.0.1 port the kernel picks (the match's "port")."""
    return background(c, kubectl(cfg, "port-forward", "--address", "127.0.0.1", f"pod/{pod}", f":{port}"),
                      FORWARD_READY, PROXY_START_SECONDS)
