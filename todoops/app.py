"""`invoke app.logs` and `app.port-forward`: the running app, from the developer's terminal.

Both find the release's pods and Services by its labels; logs are printed
through the redaction filter, which first learns the cluster Secret's values.
"""
import re

from invoke import Context, task

from .commands import echo, run
from .config import COMPONENT, COUNT, PORT, SERVICE, Settings, context_help, read_flag, resolve
from .errors import ExitCode, fail
from .known_secrets import load_known_secrets
from .kubectl import COMPONENT_LABEL, get_json, kubectl, said, selector
from .preflight import require_cluster
from .processes import NotStarted, Stopped, serve


def component_selector(cfg: Settings, component: str) -> str:
    """The label selector of the release's objects of one component."""
    return f"{selector(cfg)},{COMPONENT_LABEL}={component}"


def component_service(c: Context, cfg: Settings, component: str) -> tuple[str, int]:
    """(name, port) of the release's Service for ``component`` (backend or frontend)."""
    found = get_json(c, cfg, "services", "-l", component_selector(cfg, component))
    items = (found or {}).get("items") or []
    if not items:
        fail(f"no {component} Service of release {cfg.release} in namespace {cfg.namespace}",
             "deploy first: invoke deploy", ExitCode.NOT_DEPLOYED)
    return items[0]["metadata"]["name"], items[0]["spec"]["ports"][0]["port"]


@task(help={"component": "backend, frontend or postgresql (default backend).",
            "tail": "Lines to show per pod (default 100).", "follow": "Keep streaming new lines.",
            "context": context_help()})
def logs(c, component="backend", tail=None, follow=False, context=None):
    """Print the logs of every pod of one component, prefixed with the pod name."""
    cfg = resolve(c, context=context, context_explicit=bool(context))
    component = read_flag(COMPONENT, component, "--component")
    lines = read_flag(COUNT, tail, "--tail") or 100
    cfg = require_cluster(c, cfg)
    load_known_secrets(c, cfg)
    run(c, kubectl(cfg, "logs", "-l", component_selector(cfg, component), "--all-containers", "--prefix",
                   f"--tail={lines}", *(["--follow"] if follow else [])))


# kubectl's line once it listens; a forward that cannot reach a pod fails before printing it.
FORWARDING = re.compile(r"^Forwarding from 127\.0\.0\.1:(\d+)", re.MULTILINE)
FORWARD_START_SECONDS = 30.0


@task(help={"component": "frontend or backend (default frontend).",
            "port": "Local port on 127.0.0.1 (default: the Service's port).", "context": context_help()})
def port_forward(c, component="frontend", port=None, context=None):
    """Reach a Service on 127.0.0.1 (works on every cluster, with or without an ingress); Ctrl-C stops it."""
    cfg = resolve(c, context=context, context_explicit=bool(context))
    component = read_flag(SERVICE, component, "--component")
    port = read_flag(PORT, port, "--port")
    cfg = require_cluster(c, cfg)
    name, service_port = component_service(c, cfg, component)
    forward(c, cfg, name, port or service_port, service_port)


def forward(c: Context, cfg: Settings, service: str, port: int, service_port: int) -> None:
    """Forward 127.0.0.1:``port`` to the Service until kubectl ends or the task is stopped (which stops kubectl)."""
    argv = kubectl(cfg, "port-forward", "--address", "127.0.0.1", f"service/{service}", f"{port}:{service_port}")
    try:
        result = serve(c, argv, FORWARDING, FORWARD_START_SECONDS, lambda ready: print(
            f"http://127.0.0.1:{ready[1]} -> service/{service}:{service_port} (Ctrl-C to stop)", flush=True))
    except NotStarted as error:
        fail(str(error), f"is 127.0.0.1:{port} free, and is a {service} pod ready? invoke status", ExitCode.FAILED)
    except Stopped as stopped:
        echo(f"port-forward stopped ({stopped})")
        return
    if not result.ok:
        fail(f"kubectl port-forward ended: {said(result)}", "is the pod still running? invoke status", ExitCode.FAILED)
