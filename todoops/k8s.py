"""`invoke k8s.apply`, `status`, `logs`, `port-forward`: the release through kubectl.

Assumptions: the release's objects (see todoops.release: usually ``k8s/``) are
applied in filename order as one stream on stdin, with the exact image tags,
the provider's pull policy and the Secret's checksum patched in memory (the
files never change), so a changed image or Secret always rolls out and an
unchanged one leaves every pod alone.
"""
from collections.abc import Sequence

import yaml
from invoke import Context, task

from .commands import run
from .config import COUNT, PORT, Settings, read_flag, resolve
from .errors import ExitCode, fail
from .images import BuiltImage, local_images
from .kube import ensure_namespace, get_json, kubectl, selector
from .preflight import require_cluster
from .providers import provider_for
from .release import release_objects, secret_checksum, with_release

CONTEXT_HELP = "Kube context to use (a non-local one must be named here explicitly)."


def apply_manifests(c: Context, cfg: Settings, images: Sequence[BuiltImage], objects: Sequence[dict]) -> None:
    """``kubectl apply`` of the release's objects with the built image tags; unchanged objects stay untouched."""
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


@task(help={"context": CONTEXT_HELP})
def status(c, context=None):
    """Show every object of the release (workloads, pods, services, ingress, Secret, volumes)."""
    cfg = resolve(c, context=context, context_explicit=bool(context))
    cfg = require_cluster(c, cfg)
    run(c, kubectl(cfg, "get", "all,ingress,secret,pvc", "-l", selector(cfg), "-o", "wide"), warn=True)


@task(help={"component": "backend or frontend (default backend).", "tail": "Lines to show per pod (default 100).",
            "follow": "Keep streaming new lines.", "context": CONTEXT_HELP})
def logs(c, component="backend", tail=None, follow=False, context=None):
    """Print the logs of every pod of one component, prefixed with the pod name."""
    cfg = resolve(c, context=context, context_explicit=bool(context))
    lines = read_flag(COUNT, tail, "--tail") or 100
    cfg = require_cluster(c, cfg)
    run(c, kubectl(cfg, "logs", "-l", f"{selector(cfg)},app.kubernetes.io/component={component}",
                   "--all-containers", "--prefix", f"--tail={lines}", *(["--follow"] if follow else [])))


@task(help={"component": "frontend or backend (default frontend).",
            "port": "Local port on 127.0.0.1 (default: the Service's port).", "context": CONTEXT_HELP})
def port_forward(c, component="frontend", port=None, context=None):
    """Reach a Service on 127.0.0.1 (works on every cluster, with or without an ingress); Ctrl-C stops it."""
    cfg = resolve(c, context=context, context_explicit=bool(context))
    port = read_flag(PORT, port, "--port")
    cfg = require_cluster(c, cfg)
    name, service_port = component_service(c, cfg, component)
    print(f"http://127.0.0.1:{port or service_port} -> service/{name}:{service_port} (Ctrl-C to stop)")
    run(c, kubectl(cfg, "port-forward", "--address", "127.0.0.1", f"service/{name}",
                   f"{port or service_port}:{service_port}"))
