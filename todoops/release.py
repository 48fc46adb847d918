"""What a deploy puts in the cluster: the release's objects and the values the suite sets on them.

Both methods deploy the same thing. helm installs the chart with the values the
suite decides (``suite_values``: the built images, the Secret's name and the
checksum of its data) on top of the user's ``chart_values``. kubectl applies
``k8s/``, the chart rendered with its defaults for release ``todo-app``, when it
fits the configuration (same release, same Secret, no extra values files);
otherwise it applies the chart rendered with those same suite values, so
``release`` and ``secret_name`` mean the same on both paths. Whatever the deploy
reads from the objects (external images to load, ingress hosts to offer) comes
from these objects, never from a file that another configuration wrote.

Pods read the Secret only at start: the chart marks the pod templates that read
it with a ``checksum/secret`` annotation, which both paths fill with the hash of
what the cluster's Secret holds at apply time. A Secret changed by any earlier
run (even one stopped before its apply) therefore still restarts those pods,
and an unchanged one never does.
"""
import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import yaml
from invoke import Context

from .config import Settings
from .errors import ExitCode, fail
from .images import BuiltImage, local_images
from .kubectl import component, ensure_namespace, get_json
from .pods import containers
from .preflight import require_cluster
from .providers import provider_for
from .refs import image_name
from .render import template

# The pod-template annotation holding the Secret's hash (see the chart's backend Deployment).
SECRET_CHECKSUM = "checksum/secret"
INSTANCE = "app.kubernetes.io/instance"


def load_manifests(folder: Path) -> list[dict]:
    """Every object in ``folder``, in filename order then document order."""
    files = sorted(path for path in folder.glob("*") if path.suffix in (".yaml", ".yml", ".json"))
    if not files:
        fail(f"no manifests in {folder}", "render them with `invoke chart.render`, or deploy with --method helm",
             ExitCode.PREFLIGHT)
    objects = []
    for path in files:
        try:
            objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
        except yaml.YAMLError as error:
            fail(f"{path} is not valid YAML ({error})", "re-render it with `invoke chart.render`", ExitCode.BAD_INPUT)
    return objects


def secret_checksum(c: Context, cfg: Settings) -> str:
    """sha256 of the data the cluster's Secret holds ("" while there is none); the data is never shown."""
    found = get_json(c, cfg, "secret", cfg.secret_name)
    if found is None:
        return ""
    return hashlib.sha256(json.dumps(found.get("data") or {}, sort_keys=True).encode()).hexdigest()


def suite_values(cfg: Settings, images: Sequence[BuiltImage], checksum: str = "") -> list[str]:
    """helm arguments: the user's values files, then what the suite decides (images, Secret name and checksum).

    A tag is hex, and ``--set`` reads one made of decimal digits only (about one content tag in 280)
    as a number, which the schema refuses: tags go as strings.
    """
    values = [arg for path in cfg.chart_values for arg in ("--values", str(path))]
    pull_policy = provider_for(cfg).pull_policy
    for image in images:
        values += ["--set", f"{image.name}.image.repository={image.cluster_repository}",
                   "--set-string", f"{image.name}.image.tag={image.run_tag}",
                   "--set", f"{image.name}.image.pullPolicy={pull_policy}"]
    return values + ["--set", f"existingSecret={cfg.secret_name}", "--set", f"secretChecksum={checksum}"]


def secret_names(objects: Sequence[Mapping]) -> set[str]:
    """The Secrets the objects' containers read keys from."""
    return {env["valueFrom"]["secretKeyRef"]["name"] for obj in objects for container in containers(obj)
            for env in container.get("env") or [] if "secretKeyRef" in (env.get("valueFrom") or {})}


def fits(cfg: Settings, objects: Sequence[Mapping]) -> bool:
    """Whether ``objects`` (k8s/) were rendered for this release and Secret, with the chart's own defaults."""
    releases = {obj.get("metadata", {}).get("labels", {}).get(INSTANCE) for obj in objects}
    return not cfg.chart_values and releases == {cfg.release} and secret_names(objects) <= {cfg.secret_name}


def step_on_its_own(c: Context, cfg: Settings) -> tuple[Settings, list[BuiltImage], list[dict]]:
    """For `k8s.apply` and `chart.install` run alone: the checked target (its namespace made), the images
    built for today's sources and the objects they go into."""
    cfg = require_cluster(c, cfg)
    ensure_namespace(c, cfg)
    images = local_images(c, cfg)
    return cfg, images, release_objects(c, cfg, images)


def release_objects(c: Context, cfg: Settings, images: Sequence[BuiltImage]) -> list[dict]:
    """The objects this deploy puts in the cluster (images still to be pinned, see ``with_release``)."""
    if cfg.method == "kubectl":
        objects = load_manifests(cfg.manifests)
        if fits(cfg, objects):
            return objects
    return [item.obj for item in template(c, cfg, sets=suite_values(cfg, images))]


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
            ref = by_repository.get(image_name(container.get("image", "")))
            if ref:
                container["image"] = ref
                container["imagePullPolicy"] = pull_policy
    return patched


def external_images(objects: Sequence[Mapping], images: Sequence[BuiltImage]) -> list[str]:
    """Images the objects run that the suite does not build (e.g. postgres)."""
    ours = {image.repository for image in images}
    return sorted({c["image"] for obj in objects for c in containers(obj)
                   if c.get("image") and image_name(c["image"]) not in ours})


def service_port(objects: Sequence[Mapping], name: str) -> int | None:
    """The port of the Service for component ``name`` (the chart's ``<component>.port``), which
    `invoke app.port-forward` forwards to by default; None when the objects hold no such Service."""
    return next((obj["spec"]["ports"][0]["port"] for obj in objects
                 if obj.get("kind") == "Service" and component(obj) == name and obj.get("spec", {}).get("ports")), None)


def ingresses(objects: Sequence[Mapping]) -> list[Mapping]:
    return [obj for obj in objects if obj.get("kind") == "Ingress"]


def ingress_hosts(objects: Sequence[Mapping]) -> list[str]:
    return [rule["host"] for obj in ingresses(objects) for rule in obj.get("spec", {}).get("rules") or []
            if rule.get("host")]


def unserved_classes(objects: Sequence[Mapping], classes: Collection[str]) -> list[str]:
    """The ingress classes the objects ask for that no IngressClass of the cluster (``classes``) provides.

    An Ingress without a class counts as served when the cluster has any class (one may be the default).
    """
    wanted = {obj.get("spec", {}).get("ingressClassName") or "" for obj in ingresses(objects)}
    return sorted(name for name in wanted if (name not in classes if name else not classes))
