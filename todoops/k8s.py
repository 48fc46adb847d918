"""`invoke k8s.apply`, `status`, `logs`, `port-forward`: the release through kubectl.

Assumptions: the release's objects (see todoops.release: usually ``k8s/``) are
applied in filename order as one stream on stdin, with the exact image tags,
the provider's pull policy and the Secret's checksum patched in memory (the
files never change), so a changed image or Secret always rolls out and an
unchanged one leaves every pod alone.
"""
import re
from collections.abc import Sequence

import yaml
from invoke import Context, task

from .chart import hand_over
from .commands import NotStarted, Stopped, echo, run, serve
from .config import COMPONENT, COUNT, PORT, SERVICE, Settings, read_flag, resolve
from .errors import ExitCode, fail
from .images import BuiltImage, local_images
from .known_secrets import load_known_secrets
from .kube import ensure_namespace, get_json, kubectl, said, selector
from .preflight import require_cluster
from .providers import provider_for
from .release import release_objects, secret_checksum, with_release
from .report import Report
from .status import release_status, show

CONTEXT_HELP = "Kube context to use (a non-local one must be named here explicitly)."


def apply_manifests(c: Context, cfg: Settings, images: Sequence[BuiltImage], objects: Sequence[dict]) -> None:
    """``kubectl apply`` of the release's objects with the built image tags; unchanged objects stay untouched."""
    # A helm release of these objects (a deploy with --method helm before) hands them over first.
    hand_over(c, cfg, objects)
    objects = with_release(objects, images, provider_for(cfg).pull_policy, secret_checksum(c, cfg))
    stream = "---\n".join(yaml.safe_dump(obj, sort_keys=False) for obj in objects)
    run(c, kubectl(cfg, "apply", "-f", "-"), mutates=True, dry_run=cfg.dry_run, stdin=stream)


def component_service(c: Context, cfg: Settings, component: str) -> tuple[str, int]:
    """(name, port) of the release's Service for ``component`` (backend or frontend)."""
    found = get_json(c, cfg, "services", "-l", f"{selector(cfg)},app.kubernetes.io/component={component}")
    items = (found or {}).get("items") or []
    if not items:
        fail(f"no {component} Service of release {cfg.release} in namespace {cfg.namespace}",
             "deploy first: invoke deploy", ExitCode.NOT_DEPLOYED)
    return items[0]["metadata"]["name"], items[0]["spec"]["ports"][0]["port"]


@task(help={"dry_run": "Print the command without running it.", "context": CONTEXT_HELP})
def apply(c, dry_run=False, context=None):
    """Apply k8s/ with the current content-addressed image tags (builds and loads nothing: see `deploy`)."""
    cfg = resolve(c, dry_run=dry_run, context=context, context_explicit=bool(context), method="kubectl")
    cfg = require_cluster(c, cfg)
    ensure_namespace(c, cfg)
    images = local_images(c, cfg)
    apply_manifests(c, cfg, images, release_objects(c, cfg, images))


@task(help={"context": CONTEXT_HELP, "json": "Print the components as JSON on stdout."})
def status(c, context=None, json=False):  # noqa: A002 (the flag is --json)
    """Per component: ready/desired, the image tag running and whether it is today's source, restarts, last rollout."""
    cfg = resolve(c, context=context, context_explicit=bool(context), json=json)
    cfg = require_cluster(c, cfg)
    statuses = release_status(c, cfg)
    if not statuses:
        fail(f"nothing of release {cfg.release} in namespace {cfg.namespace}", "deploy first: invoke deploy",
             ExitCode.NOT_DEPLOYED)
    show(Report(json_mode=cfg.json), statuses)


@task(help={"component": "backend, frontend or postgresql (default backend).",
            "tail": "Lines to show per pod (default 100).", "follow": "Keep streaming new lines.",
            "context": CONTEXT_HELP})
def logs(c, component="backend", tail=None, follow=False, context=None):
    """Print the logs of every pod of one component, prefixed with the pod name."""
    cfg = resolve(c, context=context, context_explicit=bool(context))
    component = read_flag(COMPONENT, component, "--component")
    lines = read_flag(COUNT, tail, "--tail") or 100
    cfg = require_cluster(c, cfg)
    load_known_secrets(c, cfg)
    run(c, kubectl(cfg, "logs", "-l", f"{selector(cfg)},app.kubernetes.io/component={component}",
                   "--all-containers", "--prefix", f"--tail={lines}", *(["--follow"] if follow else [])))


# kubectl's line once it listens; a forward that cannot reach a pod fails before printing it.
FORWARDING = re.compile(r"^Forwarding from 127\.0\.0\.1:(\d+)", re.MULTILINE)
FORWARD_START_SECONDS = 30.0


@task(help={"component": "frontend or backend (default frontend).",
            "port": "Local port on 127.0.0.1 (default: the Service's port).", "context": CONTEXT_HELP})
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
