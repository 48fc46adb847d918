"""`invoke chart.lint`: static checks of the chart, k8s/ and the Dockerfiles, before anything runs.

Tools: `helm lint --strict` on every ``ci/*-values.yaml`` scenario, the Kubernetes
OpenAPI schema (kubernetes-validate, bundled schemas, offline), kube-score as the
policy check, hadolint on both Dockerfiles. The scenarios all set image tags, so
the chart is also rendered with nothing but its own defaults, as a bare
``helm install`` would: whatever that runs must have exact tags. Then the project's own consistency
rules, which catch what no generic linter can: the port each app listens on
equals Dockerfile ``EXPOSE``, ``containerPort``, probe ports and Service
``targetPort``; every secret/config key reference exists; selectors select;
image tags and pull policies fit how images reach the cluster.

The rules are pure functions over parsed objects returning ``Finding``s, so
preflight and doctor reuse them through ``consistency_findings(root)`` without
helm. In `invoke chart.lint` they also run on each scenario's render, where a finding
names the chart template to fix, and on k8s/, where it names the rendered file.
"""
import importlib.util
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import yaml
from invoke import Context, task

from .commands import probe
from .config import DEFAULTS, Settings, resolve
from .errors import ExitCode, fail
from .render import (KUBE_VERSION, KubeObject, Rendered, expected_manifests, read_manifests, split_documents,
                     stale_files, template, template_argv)
from .refs import split_ref
from .report import Report
from .tools import HADOLINT, TOOLS

# Providers that put images straight into the node's image store: a pull would go
# to a registry that never saw the image.
LOADED_IMAGE_PROVIDERS = ("minikube", "kind", "k3d", "docker-desktop", "containerd")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
# Given to each image whose default tag is empty when the chart refuses to render without one.
STAND_IN_TAG = "lint-stand-in"
TAG_DEFAULT_FIX = ("give the image an exact default tag in values.yaml, or leave the tag empty so the chart refuses "
                   "to install without one")
# kube-score tests we decline, each for a reason that holds for this project.
KUBE_SCORE_IGNORED = {
    # Images are loaded into the node, not pulled; our own pull-policy rule checks the fit per provider.
    "container-image-pull-policy": "images are loaded, not pulled",
    # The test cluster runs with localStorageCapacityIsolation off, so these would not be enforced.
    "container-ephemeral-storage-request-and-limit": "no ephemeral-storage accounting on local clusters",
    # NetworkPolicy is opt-in (networkPolicy.enabled): many local CNIs do not enforce it.
    "pod-networkpolicy": "NetworkPolicy is opt-in",
    # The images run as UID 1001 (app) and 999 (postgres), fixed by the image contract.
    "container-security-context-user-group-id": "UIDs fixed by the images",
}


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


# ---------------------------------------------------------------- parsing (pure)

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


# ---------------------------------------------------------------- helpers over objects (pure)

def pod_spec(manifest: Manifest) -> dict | None:
    if manifest.kind in WORKLOAD_KINDS:
        return manifest.obj.get("spec", {}).get("template", {}).get("spec", {})
    return manifest.obj.get("spec", {}) if manifest.kind == "Pod" else None


def pod_labels(manifest: Manifest) -> dict:
    if manifest.kind == "Pod":
        return manifest.obj.get("metadata", {}).get("labels") or {}
    return manifest.obj.get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}


def workloads(manifests: Sequence[Manifest]) -> list[Manifest]:
    return [m for m in manifests if pod_spec(m) is not None]


def containers(manifest: Manifest) -> list[dict]:
    spec = pod_spec(manifest) or {}
    return spec.get("containers", []) + spec.get("initContainers", [])


def selects(selector: Mapping, labels: Mapping) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def selected_workloads(selector: Mapping, manifests: Sequence[Manifest]) -> list[Manifest]:
    return [w for w in workloads(manifests) if selects(selector, pod_labels(w))]


def resolve_port(port: object, ports: Mapping[str, int]) -> int | None:
    """A port given by name or number, as a number; None when the name is unknown."""
    if isinstance(port, int):
        return port
    return ports.get(str(port)) if not str(port).isdigit() else int(str(port))


def container_ports(container: Mapping) -> dict[str, int]:
    return {p.get("name", str(p["containerPort"])): p["containerPort"] for p in container.get("ports", [])}


def probe_ports(container: Mapping) -> list[tuple[str, object]]:
    found = []
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        handler = container.get(kind) or {}
        for action in ("httpGet", "tcpSocket", "grpc"):
            if action in handler:
                found.append((kind, handler[action].get("port")))
    return found


# ---------------------------------------------------------------- consistency rules (pure)

def port_findings(manifests: Sequence[Manifest], dockerfiles: Mapping[str, Dockerfile]) -> list[Finding]:
    """Dockerfile EXPOSE = containerPort = PORT env = probe ports = Service targetPort."""
    findings = []
    for workload in workloads(manifests):
        for container in containers(workload):
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
    declared = [container_ports(c) for pod in pods for c in containers(pod)]
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
        for container in containers(workload):
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
                        f"(it has {', '.join(sorted(keys))})", "fix the key name, or add it to templates/configmap.yaml")]
    return []


def selector_findings(manifests: Sequence[Manifest]) -> list[Finding]:
    """Workload selectors match their own pods; Services, PDBs, NetworkPolicies select a workload;
    HPAs and Ingresses name objects that exist."""
    findings = []
    for workload in workloads(manifests):
        selector = workload.obj.get("spec", {}).get("selector", {}).get("matchLabels") or {}
        if workload.kind != "Pod" and not selects(selector, pod_labels(workload)):
            findings.append(Finding(workload.file, "selector", f"{workload.kind} {workload.name}: selector "
                                    f"{selector} does not match its pod labels {pod_labels(workload)}",
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
                                            f"Service {service!r}, which does not exist", "route to the frontend Service"))
    return findings


def image_findings(manifests: Sequence[Manifest], provider: str) -> list[Finding]:
    """An explicit tag, never ``latest``, and a pull policy that works for how images reach the cluster."""
    findings = []
    for workload in workloads(manifests):
        for container in containers(workload):
            findings += _container_image_findings(workload, container, provider)
    return findings


def _container_image_findings(workload: Manifest, container: Mapping, provider: str) -> list[Finding]:
    image, policy = container.get("image", ""), container.get("imagePullPolicy")
    where = f"{workload.kind} {workload.name}, container {container['name']}"
    _, tag = split_ref(image)
    findings = []
    if tag in ("", "latest") and "@" not in image:
        findings.append(Finding(workload.file, "image-tag", f"{where}: image {image!r} has "
                                f"{'no tag' if not tag else 'the latest tag'}, so what runs depends on when a node pulled",
                                "use an exact tag (the suite sets the content tag it built: --set <component>.image.tag)"))
    if policy is None:
        findings.append(Finding(workload.file, "pull-policy", f"{where}: imagePullPolicy is unset, so Kubernetes "
                                "picks it from the tag", "set imagePullPolicy explicitly (IfNotPresent for loaded images)"))
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


# ---------------------------------------------------------------- steps (run tools)

def scenarios(cfg: Settings) -> list[Path]:
    return sorted((cfg.chart / "ci").glob("*-values.yaml"))


def relative(cfg: Settings, path: Path) -> str:
    return str(path.relative_to(cfg.root)) if path.is_relative_to(cfg.root) else str(path)


def images_of(cfg: Settings) -> dict[str, str]:
    return {image.repository: relative(cfg, image.context) for image in cfg.images}


def missing_tools(c: Context, needed: Iterable[str]) -> list[str]:
    missing = []
    for name in dict.fromkeys(needed):
        tool = TOOLS[name]
        if tool.version:
            present = probe(c, list(tool.version)).ok
        else:
            present = importlib.util.find_spec(name.replace("-", "_")) is not None
        if not present:
            missing.append(name)
    return missing


def check_tools(c: Context, checks: Sequence[str]) -> None:
    missing = missing_tools(c, (tool for name in checks for tool in CHECK_TOOLS[name]))
    if missing:
        fail(f"lint tool(s) missing: {', '.join(missing)}",
             "install them: " + "; ".join(TOOLS[name].hint for name in missing), ExitCode.PREFLIGHT)


def helm_lint_findings(c: Context, cfg: Settings) -> list[Finding]:
    findings = []
    for scenario in scenarios(cfg):
        result = probe(c, ["helm", "lint", "--strict", str(cfg.chart), "--values", str(scenario),
                           "--kube-version", KUBE_VERSION])
        if not result.ok:
            problems = [line.strip() for line in result.stdout.splitlines() if re.match(r"\s*\[(ERROR|WARNING)\]", line)]
            findings.append(Finding(relative(cfg, scenario), "helm-lint", "; ".join(problems) or result.stderr.strip(),
                                    f"run `helm lint --strict {relative(cfg, cfg.chart)} -f {relative(cfg, scenario)}`"))
    return findings


def schema_findings(manifests: Sequence[Manifest]) -> list[Finding]:
    """Each object against the Kubernetes OpenAPI schema (strict: unknown fields are errors)."""
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

    findings = []
    for manifest in manifests:
        try:
            kubernetes_validate.validate(manifest.obj, KUBE_VERSION, strict=True)
        except ValidationError as error:
            path = ".".join(str(part) for part in error.absolute_path)
            findings.append(Finding(manifest.file, "k8s-schema", f"{manifest.kind} {manifest.name}: {path}: "
                                    f"{error.message}", "fix the field as the Kubernetes API reference says"))
        except SchemaNotFoundError:
            continue  # a custom resource (ServiceMonitor): its CRD, not core Kubernetes, defines it
    return findings


def scenario_findings(c: Context, cfg: Settings) -> list[Finding]:
    """Render every scenario; schema + consistency rules on its objects, naming chart templates."""
    findings = []
    for scenario in scenarios(cfg):
        manifests = manifests_from(template(c, cfg, scenario), relative(cfg, cfg.chart))
        findings += schema_findings(manifests)
        findings += check_objects(manifests, read_dockerfiles(cfg.root, images_of(cfg)), read_env_keys(cfg.root),
                                  ".env.example", cfg.provider)
    return unique(findings)


def stand_in_tags(values: Mapping) -> list[str]:
    """``--set`` pairs giving a stand-in tag to every ``<component>.image`` whose default tag is empty."""
    pairs = []
    for key, section in values.items():
        image = section.get("image") if isinstance(section, Mapping) else None
        if isinstance(image, Mapping) and "tag" in image and not image["tag"]:
            pairs += ["--set", f"{key}.image.tag={STAND_IN_TAG}"]
    return pairs


def defaults_findings(c: Context, cfg: Settings) -> list[Finding]:
    """The images a bare ``helm install`` (the chart's values.yaml alone) would run have exact tags.

    A chart that refuses to render until the suite sets the tags it leaves empty
    is safe: that refusal is the answer a bare install gets. The rest of its
    defaults is then rendered with stand-in tags for those, and checked too.
    """
    values = cfg.chart / "values.yaml"
    bare = template_argv(cfg, ())
    rendered = probe(c, bare)
    stand_ins = stand_in_tags(yaml.safe_load(values.read_text()) or {}) if not rendered.ok else []
    if stand_ins:
        rendered = probe(c, [*bare, *stand_ins])
    if not rendered.ok:
        return [Finding(relative(cfg, values), "chart-defaults", "the chart does not render with its own defaults"
                        f"{' (even with the image tags set)' if stand_ins else ''}: "
                        + " ".join(rendered.stderr.split())[-300:],
                        "give each default an exact value (or leave an image tag empty so the chart requires it); "
                        f"`helm template {relative(cfg, cfg.chart)}` shows the error")]
    manifests = manifests_from(split_documents(rendered.stdout), relative(cfg, cfg.chart))
    return [replace(finding, file=relative(cfg, values), message=f"with the chart's defaults, {finding.message}",
                    fix=TAG_DEFAULT_FIX if finding.rule == "image-tag" else finding.fix)
            for finding in image_findings(manifests, cfg.provider)]


def manifest_findings(c: Context, cfg: Settings) -> list[Finding]:
    """k8s/ must equal a fresh render, and pass the rules itself (people edit it by hand)."""
    manifests_dir = relative(cfg, cfg.manifests)
    stale = stale_files(expected_manifests(c, cfg), read_manifests(cfg.manifests))
    findings = [Finding(f"{manifests_dir}/{name}", "stale-manifest", "differs from what the chart renders "
                        "(changed, missing or left over)", "run `invoke chart.render` and commit k8s/") for name in stale]
    return findings + consistency_findings(cfg.root, cfg.provider, images_of(cfg), manifests_dir)


def kube_score_findings(c: Context, cfg: Settings) -> list[Finding]:
    files = sorted(str(path) for path in cfg.manifests.glob("*.yaml"))
    result = probe(c, ["kube-score", "score", "--output-format", "ci", "--kubernetes-version",
                       f"v{KUBE_VERSION.rsplit('.', 1)[0]}", *[f"--ignore-test={t}" for t in KUBE_SCORE_IGNORED],
                       *files])
    return kube_score_problems(result.stdout, relative(cfg, cfg.manifests))


def kube_score_problems(output: str, manifests_dir: str) -> list[Finding]:
    """kube-score's ``ci`` lines that are WARNING or CRITICAL, as findings."""
    findings = []
    for line in output.splitlines():
        match = re.match(r"\[(WARNING|CRITICAL)\] (\S+) (\S+): (.*)", line)
        if match:
            level, name, kind, message = match.groups()
            findings.append(Finding(f"{manifests_dir} ({kind.rsplit('/', 1)[-1]} {name})", "kube-score",
                                    f"{level.lower()}: {message}", "change the chart template that renders it, "
                                    "then `invoke chart.render`"))
    return findings


def hadolint_findings(c: Context, cfg: Settings) -> list[Finding]:
    findings = []
    for dockerfile in read_dockerfiles(cfg.root, images_of(cfg)).values():
        if dockerfile.ports is None:
            continue  # reported once, by the consistency rules
        result = probe(c, [HADOLINT, "--no-color", str(cfg.root / dockerfile.file)])
        findings += hadolint_problems(result.stdout, dockerfile.file)
    return findings


def hadolint_problems(output: str, file: str) -> list[Finding]:
    """hadolint's ``path:line RULE level: message`` lines as findings naming ``file:line``."""
    findings = []
    for line in output.splitlines():
        match = re.match(r".*?:(\d+) (\S+) (.*)$", line)
        if match:
            number, rule, message = match.groups()
            findings.append(Finding(f"{file}:{number}", "hadolint", f"{rule} {message}",
                                    f"fix that line (hadolint's wiki page {rule} explains the rule)"))
    return findings


def unique(findings: Iterable[Finding]) -> list[Finding]:
    """Findings without repeats (the same Dockerfile problem shows in every scenario)."""
    return list(dict.fromkeys(findings))


CHECKS: dict[str, Callable[[Context, Settings], list[Finding]]] = {
    "helm-lint": helm_lint_findings,
    "scenarios": scenario_findings,
    "defaults": defaults_findings,
    "manifests": manifest_findings,
    "kube-score": kube_score_findings,
    "hadolint": hadolint_findings,
}
CHECK_TOOLS = {
    "helm-lint": ("helm",),
    "scenarios": ("helm", "kubernetes-validate"),
    "defaults": ("helm",),
    "manifests": ("helm",),
    "kube-score": ("kube-score",),
    "hadolint": ("hadolint",),
}


def lint_findings(c: Context, cfg: Settings, report: Report, checks: Sequence[str] = tuple(CHECKS)) -> list[Finding]:
    """Run the chosen checks in order; one line per check with its time and count."""
    findings: list[Finding] = []
    for name in checks:
        with report.step(f"lint: {name}"):
            found = CHECKS[name](c, cfg)
        if found:
            report.line("fail", f"{name}: {len(found)} finding(s)")
        findings += found
    return unique(findings)


def report_findings(findings: Sequence[Finding], report: Report) -> None:
    report.emit([asdict(finding) for finding in findings])
    if findings:
        report.table(["file", "rule", "problem", "fix"], [[f.file, f.rule, f.message, f.fix] for f in findings])
        fail(f"lint found {len(findings)} problem(s)", "fix each as its row says, then run `invoke chart.lint` again")
    report.line("ok", "lint: no findings")


@task(
    help={
        "check": f"Run only this check ({', '.join(CHECKS)}); repeatable. Default: all.",
        "provider": "How images reach the cluster (decides which imagePullPolicy fits); default todoops.provider, "
                    "none: only the rules every provider shares.",
        "json": "Print the findings as JSON on stdout (human lines go to stderr).",
    },
    iterable=["check"],
)
def lint(c, check=None, provider=None, json=False):
    """Lint the chart, k8s/ and the Dockerfiles; fail on any finding, each naming its file and fix."""
    cfg = resolve(c, provider=provider, json=json)
    unknown = sorted(set(check or ()) - set(CHECKS))
    if unknown:
        fail(f"unknown check(s): {', '.join(unknown)}", f"choose from: {', '.join(CHECKS)}", ExitCode.BAD_INPUT)
    checks = tuple(check or CHECKS)
    check_tools(c, checks)
    report = Report(json_mode=cfg.json)
    report_findings(lint_findings(c, cfg, report, checks), report)
