"""The project's consistency rules: what no generic linter can know, as pure functions from objects to findings.

- ports: the port each app listens on is one number: Dockerfile ``EXPOSE`` (of
  the final stage, ``$VAR`` resolved), ``containerPort``, a ``PORT`` env value, the
  probes' ports and the Services' ``targetPort`` (by name or number);
- references: every ``secretKeyRef`` names a key of ``.env.example`` (and of the
  Secret, when one is rendered), every ``configMapKeyRef`` a key its ConfigMap has;
- selectors: each workload's selector matches its own pod labels; Services,
  PodDisruptionBudgets and NetworkPolicies select a pod of the chart; HPAs scale
  and Ingresses route to objects that exist;
- images: an exact tag, never ``latest``; an explicit pull policy that fits how
  images reach the cluster (``Always`` fails where images are loaded into the
  node, ``Never`` where a registry serves them).

Data in (``Manifest``s, ``Dockerfile``s, the ``.env.example`` keys), ``Finding``s
out, naming the file a person edits: no command runs here. ``consistency_findings``
reads them from a project folder (its rendered ``k8s/``), which is how preflight
and doctor check without helm; `invoke chart.lint` (lint.py) also runs them on
every scenario the chart renders.
"""
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from .config import DEFAULTS, Settings
from .pods import container_ports, containers, pod_labels, pod_spec, probe_ports, resolve_port, selects
from .providers import LOCAL_POLICY, PROVIDERS
from .refs import split_ref
from .render import KubeObject, Rendered, read_manifests

# Providers that put images straight into the node's image store (so their pods never pull): a pull
# would go to a registry that never saw the image.
LOADED_IMAGE_PROVIDERS = tuple(name for name, provider in PROVIDERS.items() if provider.pull_policy == LOCAL_POLICY)


@dataclass(frozen=True)
class Finding:
    file: str
    rule: str
    message: str
    fix: str


@dataclass(frozen=True)
class Manifest(KubeObject):
    """One Kubernetes object and the file a person would edit to change it."""

    file: str
    obj: dict


@dataclass(frozen=True)
class Dockerfile:
    """What a Dockerfile declares that the manifests must agree with; ``ports`` is None when it is missing."""

    file: str
    ports: frozenset[int] | None


# ---------------------------------------------------------------- parsing

def dockerfile_ports(text: str) -> frozenset[int]:
    """Ports of the ``EXPOSE`` lines of the final stage, with ``$VAR``/``${VAR}`` from ENV/ARG resolved."""
    variables: dict[str, str] = {}
    ports: set[int] = set()
    for line in re.sub(r"\\\n", " ", text).splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        instruction, args = words[0].upper(), words[1:]
        if instruction == "FROM":
            variables, ports = {}, set()
        elif instruction in ("ENV", "ARG"):
            variables.update(_assignments(args))
        elif instruction == "EXPOSE":
            for arg in args:
                value = re.sub(r"\$\{?(\w+)\}?", lambda m: variables.get(m[1], m[0]), arg).split("/")[0]
                if value.isdigit():
                    ports.add(int(value))
    return frozenset(ports)


def _assignments(args: list[str]) -> dict[str, str]:
    if len(args) == 2 and "=" not in args[0]:  # legacy `ENV KEY value`
        return {args[0]: args[1]}
    pairs = (arg.split("=", 1) for arg in args if "=" in arg)
    return {key: value.strip("\"'") for key, value in pairs}


def env_example_keys(text: str) -> frozenset[str]:
    return frozenset(m[1] for m in re.finditer(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", text, re.MULTILINE))


def manifests_from(items: Iterable[Rendered], prefix: str) -> list[Manifest]:
    return [Manifest(f"{prefix}/{item.source}", item.obj) for item in items]


def load_manifest_dir(directory: Path, root: Path) -> list[Manifest]:
    return [Manifest(str((directory / name).relative_to(root)), obj)
            for name, text in read_manifests(directory).items()
            for obj in yaml.safe_load_all(text) if obj]


def workloads(manifests: Sequence[Manifest]) -> list[Manifest]:
    return [m for m in manifests if pod_spec(m.obj) is not None]


def selected_workloads(selector: Mapping, manifests: Sequence[Manifest]) -> list[Manifest]:
    return [w for w in workloads(manifests) if selects(selector, pod_labels(w.obj))]


# ---------------------------------------------------------------- rules

def port_findings(manifests: Sequence[Manifest], dockerfiles: Mapping[str, Dockerfile]) -> list[Finding]:
    """Dockerfile EXPOSE = containerPort = PORT env = probe ports = Service targetPort."""
    findings = []
    for workload in workloads(manifests):
        for container in containers(workload.obj):
            findings += _container_port_findings(workload, container, dockerfiles)
    for service in (m for m in manifests if m.kind == "Service"):
        findings += _service_port_findings(service, manifests)
    return findings


def _container_port_findings(workload: Manifest, container: Mapping,
                             dockerfiles: Mapping[str, Dockerfile]) -> list[Finding]:
    where = f"{workload.kind} {workload.name}, container {container['name']}"
    ports = container_ports(container)
    findings = [Finding(workload.file, "probe-port", f"{where}: {kind} uses port {port!r}, which the container "
                        f"does not declare (ports: {sorted(ports.values())})",
                        "point the probe at the named port `http` (declared once from the chart's <component>.port)")
                for kind, port in probe_ports(container) if resolve_port(port, ports) not in ports.values()]
    env_port = next((e.get("value") for e in container.get("env", []) if e.get("name") == "PORT"), None)
    if env_port is not None and ports and int(env_port) not in ports.values():
        findings.append(Finding(workload.file, "env-port", f"{where}: PORT={env_port} but containerPort is "
                                f"{sorted(ports.values())}", "derive both from <component>.port in values.yaml"))
    dockerfile = dockerfiles.get(split_ref(container.get("image", ""))[0])
    if dockerfile and dockerfile.ports is None:
        findings.append(Finding(dockerfile.file, "dockerfile-missing", f"{dockerfile.file} not found; it builds "
                                f"the image of {where}", f"write {dockerfile.file} (it must EXPOSE the app's port)"))
    elif dockerfile and dockerfile.ports != frozenset(ports.values()):
        findings.append(Finding(dockerfile.file, "expose-port", f"{dockerfile.file} EXPOSEs "
                                f"{sorted(dockerfile.ports)} but {where} ({workload.file}) listens on "
                                f"containerPort {sorted(ports.values())}",
                                "make them one number: the app's port in the Dockerfile (ENV PORT + EXPOSE) and "
                                "<component>.port in helm/todo-app/values.yaml"))
    return findings


def _service_port_findings(service: Manifest, manifests: Sequence[Manifest]) -> list[Finding]:
    spec = service.obj.get("spec", {})
    pods = selected_workloads(spec.get("selector") or {}, manifests)
    declared = [container_ports(c) for pod in pods for c in containers(pod.obj)]
    findings = []
    for port in spec.get("ports", []):
        target = port.get("targetPort", port.get("port"))
        if pods and not any(resolve_port(target, ports) in ports.values() for ports in declared):
            numbers = sorted({n for ports in declared for n in ports.values()})
            findings.append(Finding(service.file, "service-target-port",
                                    f"Service {service.name} sends port {port.get('port')} to targetPort "
                                    f"{target!r}, which no selected container declares (they declare {numbers})",
                                    "use targetPort: http, the container's named port"))
    return findings


def reference_findings(manifests: Sequence[Manifest], env_keys: frozenset[str], env_file: str) -> list[Finding]:
    """Every secretKeyRef names a key of .env.example (and of the Secret, when rendered);
    every configMapKeyRef a key the ConfigMap defines."""
    data = {(m.kind, m.name): set((m.obj.get("data") or {}) | (m.obj.get("stringData") or {}))
            for m in manifests if m.kind in ("Secret", "ConfigMap")}
    findings = []
    for workload in workloads(manifests):
        for container in containers(workload.obj):
            for env in container.get("env", []):
                source = env.get("valueFrom") or {}
                if "secretKeyRef" in source:
                    findings += _secret_ref_findings(workload, env["name"], source["secretKeyRef"], data,
                                                     env_keys, env_file)
                if "configMapKeyRef" in source:
                    findings += _config_ref_findings(workload, env["name"], source["configMapKeyRef"], data)
    return findings


def _secret_ref_findings(workload: Manifest, variable: str, ref: Mapping, data: Mapping,
                         env_keys: frozenset[str], env_file: str) -> list[Finding]:
    key, name = ref.get("key"), ref.get("name")
    where = f"{workload.kind} {workload.name}, env {variable}"
    if key not in env_keys:
        return [Finding(workload.file, "secret-key", f"{where}: Secret key {key!r} is not in {env_file}, so "
                        "`invoke prepare-secrets` never creates it",
                        f"use one of {', '.join(sorted(env_keys))}, or document the new key in {env_file}")]
    rendered = data.get(("Secret", name))
    if rendered is not None and key not in rendered and not ref.get("optional"):
        return [Finding(workload.file, "secret-key", f"{where}: the rendered Secret {name} has no key {key!r}",
                        f"add {key} to secret.values, or mark the reference optional")]
    return []


def _config_ref_findings(workload: Manifest, variable: str, ref: Mapping, data: Mapping) -> list[Finding]:
    key, name = ref.get("key"), ref.get("name")
    keys = data.get(("ConfigMap", name))
    where = f"{workload.kind} {workload.name}, env {variable}"
    if keys is None:
        return [Finding(workload.file, "configmap-key", f"{where}: ConfigMap {name!r} is not among the objects",
                        "reference the chart's ConfigMap (todo-app.fullname)")]
    if key not in keys:
        return [Finding(workload.file, "configmap-key", f"{where}: ConfigMap {name} has no key {key!r} "
                        f"(it has {', '.join(sorted(keys))})",
                        "fix the key name, or add it to templates/configmap.yaml")]
    return []


def selector_findings(manifests: Sequence[Manifest]) -> list[Finding]:
    """Workload selectors match their own pods; Services, PDBs, NetworkPolicies select a workload;
    HPAs and Ingresses name objects that exist."""
    findings = []
    for workload in workloads(manifests):
        selector = workload.obj.get("spec", {}).get("selector", {}).get("matchLabels") or {}
        if workload.kind != "Pod" and not selects(selector, pod_labels(workload.obj)):
            findings.append(Finding(workload.file, "selector", f"{workload.kind} {workload.name}: selector "
                                    f"{selector} does not match its pod labels {pod_labels(workload.obj)}",
                                    "use the todo-app.selectorLabels helper in both places"))
    selector_of = {"Service": lambda s: s.get("selector"), "PodDisruptionBudget": lambda s: s.get("selector", {}).get(
        "matchLabels"), "NetworkPolicy": lambda s: s.get("podSelector", {}).get("matchLabels")}
    for manifest in (m for m in manifests if m.kind in selector_of):
        selector = selector_of[manifest.kind](manifest.obj.get("spec", {})) or {}
        if not selected_workloads(selector, manifests):
            findings.append(Finding(manifest.file, "selector", f"{manifest.kind} {manifest.name}: selector {selector} "
                                    "matches no pod of the chart", "use the todo-app.selectorLabels helper"))
    return findings + _reference_by_name_findings(manifests)


def _reference_by_name_findings(manifests: Sequence[Manifest]) -> list[Finding]:
    names = {(m.kind, m.name) for m in manifests}
    findings = []
    for hpa in (m for m in manifests if m.kind == "HorizontalPodAutoscaler"):
        target = hpa.obj.get("spec", {}).get("scaleTargetRef", {})
        if (target.get("kind"), target.get("name")) not in names:
            findings.append(Finding(hpa.file, "scale-target", f"HPA {hpa.name} scales {target.get('kind')} "
                                    f"{target.get('name')}, which does not exist", "name the Deployment it scales"))
    for ingress in (m for m in manifests if m.kind == "Ingress"):
        for rule in ingress.obj.get("spec", {}).get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                service = path.get("backend", {}).get("service", {}).get("name")
                if ("Service", service) not in names:
                    findings.append(Finding(ingress.file, "ingress-backend", f"Ingress {ingress.name} routes to "
                                            f"Service {service!r}, which does not exist",
                                            "route to the frontend Service"))
    return findings


def image_findings(manifests: Sequence[Manifest], provider: str) -> list[Finding]:
    """An explicit tag, never ``latest``, and a pull policy that works for how images reach the cluster."""
    findings = []
    for workload in workloads(manifests):
        for container in containers(workload.obj):
            findings += _container_image_findings(workload, container, provider)
    return findings


def _container_image_findings(workload: Manifest, container: Mapping, provider: str) -> list[Finding]:
    image, policy = container.get("image", ""), container.get("imagePullPolicy")
    where = f"{workload.kind} {workload.name}, container {container['name']}"
    _, tag = split_ref(image)
    findings = []
    if tag in ("", "latest") and "@" not in image:
        findings.append(Finding(workload.file, "image-tag", f"{where}: image {image!r} has "
                                f"{'no tag' if not tag else 'the latest tag'}, so what runs depends on when a node "
                                "pulled", "use an exact tag (the suite sets the content tag it built: "
                                "--set <component>.image.tag)"))
    if policy is None:
        findings.append(Finding(workload.file, "pull-policy", f"{where}: imagePullPolicy is unset, so Kubernetes "
                                "picks it from the tag",
                                "set imagePullPolicy explicitly (IfNotPresent for loaded images)"))
    elif provider in LOADED_IMAGE_PROVIDERS and policy == "Always":
        findings.append(Finding(workload.file, "pull-policy", f"{where}: imagePullPolicy Always with provider "
                                f"{provider}, which loads images into the node: the pull fails (ErrImagePull)",
                                "use IfNotPresent (or the registry provider, which pushes images)"))
    # No provider named (lint needs no cluster): only the rules that hold for every provider.
    elif provider and provider not in LOADED_IMAGE_PROVIDERS and policy == "Never":
        findings.append(Finding(workload.file, "pull-policy", f"{where}: imagePullPolicy Never with provider "
                                f"{provider}: nodes never fetch the pushed image", "use IfNotPresent or Always"))
    return findings


def check_objects(manifests: Sequence[Manifest], dockerfiles: Mapping[str, Dockerfile], env_keys: frozenset[str],
                  env_file: str, provider: str) -> list[Finding]:
    """Every consistency rule over one set of objects."""
    return (port_findings(manifests, dockerfiles) + reference_findings(manifests, env_keys, env_file)
            + selector_findings(manifests) + image_findings(manifests, provider))


# ---------------------------------------------------------------- reading the project

def relative(cfg: Settings, path: Path) -> str:
    return str(path.relative_to(cfg.root)) if path.is_relative_to(cfg.root) else str(path)


def images_of(cfg: Settings) -> dict[str, str]:
    return {image.repository: relative(cfg, image.context) for image in cfg.images}


def default_images() -> dict[str, str]:
    return {spec["repository"]: spec["context"] for spec in DEFAULTS["todoops"]["images"].values()}


def read_dockerfiles(root: Path, images: Mapping[str, str]) -> dict[str, Dockerfile]:
    """Image repository -> its Dockerfile (``images``: repository -> build context relative to root)."""
    found = {}
    for repository, context in images.items():
        path = root / context / "Dockerfile"
        ports = dockerfile_ports(path.read_text()) if path.is_file() else None
        found[repository] = Dockerfile(str(path.relative_to(root)), ports)
    return found


def read_env_keys(root: Path) -> frozenset[str]:
    path = root / ".env.example"
    return env_example_keys(path.read_text()) if path.is_file() else frozenset()


def consistency_findings(root: Path, provider: str = "",
                         images: Mapping[str, str] | None = None, manifests_dir: str = "k8s") -> list[Finding]:
    """The consistency rules over the rendered ``k8s/`` of the project at ``root`` (no helm needed)."""
    manifests = load_manifest_dir(root / manifests_dir, root)
    if not manifests:
        return [Finding(manifests_dir, "manifests-missing", f"{manifests_dir}/ holds no manifest",
                        "run `invoke chart.render`")]
    return check_objects(manifests, read_dockerfiles(root, images or default_images()), read_env_keys(root),
                         ".env.example", provider)
