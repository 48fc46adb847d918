"""`invoke k8s.apply`, `status`, `logs`, `port-forward`: the release through kubectl.

Assumptions: ``k8s/`` holds manifests rendered from the chart, without
``metadata.namespace``; they are applied in filename order as one stream on
stdin, with the exact image tags and the provider's pull policy patched in
memory (the files never change), so a changed image always rolls out and an
unchanged one leaves every pod alone. Pods read the Secret only at start: the
chart marks the pod templates that read it with a ``checksum/secret``
annotation, which both paths fill with the hash of what the cluster's Secret
holds at apply time. A Secret changed by any earlier run (even one stopped
before its apply) therefore still restarts those pods, and an unchanged one
never does.
"""
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml
from invoke import Context, task

from .commands import run
from .config import Settings, resolve
from .errors import ExitCode, fail
from .images import BuiltImage, planned_images
from .kube import ensure_namespace, get_json, kubectl, selector
from .preflight import require_cluster
from .providers import provider_for

CONTEXT_HELP = "Kube context to use (a non-local one must be named here explicitly)."
# The pod-template annotation holding the Secret's hash (see the chart's backend Deployment).
SECRET_CHECKSUM = "checksum/secret"


def repository_of(image: str) -> str:
    """``reg:5000/team/todo-backend:tag`` -> ``todo-backend`` (the last path part, no tag or digest)."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return name.split(":", 1)[0]


def load_manifests(folder: Path) -> list[dict]:
    """Every object in ``folder``, in filename order then document order."""
    files = sorted(path for path in folder.glob("*") if path.suffix in (".yaml", ".yml", ".json"))
    if not files:
        fail(f"no manifests in {folder}", "render them with `invoke render`, or deploy with --method helm",
             ExitCode.PREFLIGHT)
    objects = []
    for path in files:
        try:
            objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
        except yaml.YAMLError as error:
            fail(f"{path} is not valid YAML ({error})", "re-render it with `invoke render`", ExitCode.BAD_INPUT)
    return objects


def containers(obj: Mapping) -> list[dict]:
    spec = obj.get("spec", {}).get("template", {}).get("spec") or {}
    return spec.get("initContainers", []) + spec.get("containers", [])


def secret_checksum(c: Context, cfg: Settings) -> str:
    """sha256 of the data the cluster's Secret holds ("" while there is none); the data is never shown."""
    found = get_json(c, cfg, "secret", cfg.secret_name)
    if found is None:
        return ""
    return hashlib.sha256(json.dumps(found.get("data") or {}, sort_keys=True).encode()).hexdigest()


def with_release(objects: Sequence[dict], images: Sequence[BuiltImage], pull_policy: str,
                 checksum: str) -> list[dict]:
    """Copies of ``objects`` running the exact built refs, their ``checksum/secret`` annotations set to ``checksum``.

    The chart decides which pod templates carry the annotation; this only fills it in.
    """
    by_repository = {image.repository: image.cluster_ref for image in images}
    patched = json.loads(json.dumps(list(objects)))
    for obj in patched:
        annotations = obj.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations") or {}
        if SECRET_CHECKSUM in annotations:
            annotations[SECRET_CHECKSUM] = checksum
        for container in containers(obj):
            ref = by_repository.get(repository_of(container.get("image", "")))
            if ref:
                container["image"] = ref
                container["imagePullPolicy"] = pull_policy
    return patched


def external_images(objects: Sequence[Mapping], images: Sequence[BuiltImage]) -> list[str]:
    """Images the manifests run that the suite does not build (e.g. postgres)."""
    ours = {image.repository for image in images}
    return sorted({c["image"] for obj in objects for c in containers(obj)
                   if c.get("image") and repository_of(c["image"]) not in ours})


def apply_manifests(c: Context, cfg: Settings, images: Sequence[BuiltImage]) -> None:
    """``kubectl apply`` of k8s/ with the built image tags; unchanged objects stay untouched."""
    objects = with_release(load_manifests(cfg.manifests), images, provider_for(cfg).pull_policy,
                           secret_checksum(c, cfg))
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
    require_cluster(c, cfg)
    ensure_namespace(c, cfg)
    apply_manifests(c, cfg, planned_images(cfg))


@task(help={"context": CONTEXT_HELP})
def status(c, context=None):
    """Show every object of the release (workloads, pods, services, ingress, Secret, volumes)."""
    cfg = resolve(c, context=context, context_explicit=bool(context))
    require_cluster(c, cfg)
    run(c, kubectl(cfg, "get", "all,ingress,secret,pvc", "-l", selector(cfg), "-o", "wide"), warn=True)


@task(help={"component": "backend or frontend (default backend).", "tail": "Lines to show per pod.",
            "follow": "Keep streaming new lines.", "context": CONTEXT_HELP})
def logs(c, component="backend", tail=100, follow=False, context=None):
    """Print the logs of every pod of one component, prefixed with the pod name."""
    cfg = resolve(c, context=context, context_explicit=bool(context))
    require_cluster(c, cfg)
    run(c, kubectl(cfg, "logs", "-l", f"{selector(cfg)},app.kubernetes.io/component={component}",
                   "--all-containers", "--prefix", f"--tail={tail}", *(["--follow"] if follow else [])))


@task(help={"component": "frontend or backend (default frontend).",
            "port": "Local port on 127.0.0.1 (default: the Service's port).", "context": CONTEXT_HELP})
def port_forward(c, component="frontend", port=0, context=None):
    """Reach a Service on 127.0.0.1 (works on every cluster, with or without an ingress); Ctrl-C stops it."""
    cfg = resolve(c, context=context, context_explicit=bool(context))
    require_cluster(c, cfg)
    name, service_port = component_service(c, cfg, component)
    print(f"http://127.0.0.1:{port or service_port} -> service/{name}:{service_port} (Ctrl-C to stop)")
    run(c, kubectl(cfg, "port-forward", "--address", "127.0.0.1", f"service/{name}",
                   f"{port or service_port}:{service_port}"))
