"""`invoke chart.lint`: static checks of the chart, k8s/ and the Dockerfiles, before anything runs.

Tools: `helm lint --strict` on every ``ci/*-values.yaml`` scenario, the Kubernetes
OpenAPI schema (kubernetes-validate, bundled schemas, offline), kube-score as the
policy check, hadolint on both Dockerfiles. The scenarios all set image tags, so
the chart is also rendered with nothing but its own defaults, as a bare
``helm install`` would: whatever that runs must have exact tags. The project's own
consistency rules (consistency.py) run on each scenario's render, where a finding
names the chart template to fix, and on k8s/, where it names the rendered file.
Every check is a function ``(c, cfg) -> findings`` in ``CHECKS``; the tools each
needs are checked first, all together, with how to install them (tools.py).
"""
import importlib.util
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path

import yaml
from invoke import Context, task

from .commands import probe
from .config import Settings, resolve
from .consistency import (Finding, Manifest, check_objects, consistency_findings, image_findings, images_of,
                          manifests_from, read_dockerfiles, read_env_keys, relative)
from .errors import ExitCode, fail
from .render import (KUBE_VERSION, expected_manifests, read_manifests, split_documents, stale_files, template,
                     template_argv)
from .report import Report
from .tools import HADOLINT, TOOLS

# Given to each image whose default tag is empty when the chart refuses to render without one.
STAND_IN_TAG = "lint-stand-in"
TAG_DEFAULT_FIX = ("give the image an exact default tag in values.yaml, or leave the tag empty so the chart refuses "
                   "to install without one")
# kube-score tests we decline, each for a reason that holds for this project.
KUBE_SCORE_IGNORED = (
    # Images are loaded into the node, not pulled; our own pull-policy rule checks the fit per provider.
    "container-image-pull-policy",
    # The test cluster runs with localStorageCapacityIsolation off, so these would not be enforced.
    "container-ephemeral-storage-request-and-limit",
    # NetworkPolicy is opt-in (networkPolicy.enabled): many local CNIs do not enforce it.
    "pod-networkpolicy",
    # The images run as UID 1001 (app) and 999 (postgres), fixed by the image contract.
    "container-security-context-user-group-id",
)


def scenarios(cfg: Settings) -> list[Path]:
    return sorted((cfg.chart / "ci").glob("*-values.yaml"))


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
            problems = [line.strip() for line in result.stdout.splitlines()
                        if re.match(r"\s*\[(ERROR|WARNING)\]", line)]
            findings.append(Finding(relative(cfg, scenario), "helm-lint", "; ".join(problems) or result.stderr.strip(),
                                    f"run `helm lint --strict {relative(cfg, cfg.chart)} "
                                    f"-f {relative(cfg, scenario)}`"))
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
                        "(changed, missing or left over)", "run `invoke chart.render` and commit k8s/")
                for name in stale]
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
