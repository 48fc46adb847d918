"""invoke chart.lint: the tools' output read as findings, then mutation tests on a copy of the project.

Each mutation breaks exactly one thing the way people really break it and
asserts that lint names the file to fix; the unbroken copy must pass. The rules
themselves, on data, are tests/unit/test_consistency.py.
"""
import json
import subprocess
import sys

import pytest
from invoke import Context, Exit, Result

from todoops.consistency import Finding, consistency_findings
from todoops.lint import check_tools, hadolint_problems, kube_score_problems, lint_findings
from todoops.report import Report

from .conftest import settings_for


def test_kube_score_problems_keep_warnings_and_criticals():
    output = ("[OK] todo-app apps/v1/Deployment\n"
              "[CRITICAL] todo-app-backend apps/v1/Deployment: (backend) CPU limit is not set\n"
              "[WARNING] todo-app-frontend apps/v1/Deployment: no podAntiAffinity\n")
    assert kube_score_problems(output, "k8s") == [
        Finding("k8s (Deployment todo-app-backend)", "kube-score", "critical: (backend) CPU limit is not set",
                "change the chart template that renders it, then `invoke chart.render`"),
        Finding("k8s (Deployment todo-app-frontend)", "kube-score", "warning: no podAntiAffinity",
                "change the chart template that renders it, then `invoke chart.render`")]


# --------------------------------------------------------------- mutation tests on a project copy

def lint_copy(root) -> set[tuple[str, str]]:
    found = lint_findings(Context(), settings_for(root), Report(), ("scenarios", "defaults", "manifests"))
    return {(f.file, f.rule) for f in found}


def break_file(root, path: str, old: str, new: str) -> None:
    target = root / path
    text = target.read_text()
    assert old in text, f"{old!r} not in {path}: update the mutation"
    target.write_text(text.replace(old, new, 1))


def test_the_unbroken_copy_passes(project):
    assert lint_copy(project) == set()
    assert consistency_findings(project) == []


TEMPLATES = "helm/todo-app/templates"
MUTATIONS = {
    "dockerfile port": ("backend/Dockerfile", "EXPOSE", "EXPOSE 8080\n#", ("backend/Dockerfile", "expose-port")),
    "service targetPort": (f"{TEMPLATES}/backend-service.yaml", "targetPort: http", "targetPort: 8080",
                           (f"{TEMPLATES}/backend-service.yaml", "service-target-port")),
    "probe port": (f"{TEMPLATES}/frontend-deployment.yaml", "              port: http", "              port: web",
                   (f"{TEMPLATES}/frontend-deployment.yaml", "probe-port")),
    "secret key name": (f"{TEMPLATES}/backend-deployment.yaml", '"key" "JWT_SECRET"', '"key" "JWT_SECRETS"',
                        (f"{TEMPLATES}/backend-deployment.yaml", "secret-key")),
    "configmap key name": (f"{TEMPLATES}/configmap.yaml", "LOG_LEVEL:", "LOGLEVEL:",
                           (f"{TEMPLATES}/backend-deployment.yaml", "configmap-key")),
    "service selector": (f"{TEMPLATES}/backend-service.yaml", '"todo-app.selectorLabels" $component',
                         '"todo-app.selectorLabels" (dict "root" $ "component" "api")',
                         (f"{TEMPLATES}/backend-service.yaml", "selector")),
    "latest tag in k8s/": ("k8s/40-deployment-todo-app-backend.yaml", "todo-backend:dev", "todo-backend:latest",
                           ("k8s/40-deployment-todo-app-backend.yaml", "image-tag")),
    "pull policy in k8s/": ("k8s/40-deployment-todo-app-frontend.yaml", "imagePullPolicy: IfNotPresent",
                            "imagePullPolicy: Always", ("k8s/40-deployment-todo-app-frontend.yaml", "pull-policy")),
    "stale k8s/": ("helm/todo-app/values.yaml", "logLevel: INFO", "logLevel: DEBUG",
                   ("k8s/10-configmap-todo-app.yaml", "stale-manifest")),
}


VALUES = "helm/todo-app/values.yaml"


def allow_any_tag(root) -> None:
    """A chart whose schema no longer guards the app images' tags (or that has no schema)."""
    path = root / "helm" / "todo-app" / "values.schema.json"
    schema = json.loads(path.read_text())
    for component in ("backend", "frontend"):
        schema["properties"][component]["properties"]["image"]["properties"]["tag"] = {"type": "string"}
    path.write_text(json.dumps(schema))


# A default tag a bare `helm install` would run: the scenarios all set their own tags, so only the
# render of the chart's own defaults sees it. With the schema, the chart refuses to render at all.
HELPERS = "helm/todo-app/templates/_helpers.tpl"
DEFAULT_TAGS = {
    "latest app tag": ([(VALUES, 'tag: ""', "tag: latest")], False, (VALUES, "chart-defaults")),
    "latest app tag, schema allows it": ([(VALUES, 'tag: ""', "tag: latest")], True, (VALUES, "image-tag")),
    "no app tag, schema allows it": ([(HELPERS, '{{- printf "%s:%s" .repository .tag -}}',
                                       "{{- .repository }}{{ with .tag }}:{{ . }}{{ end -}}")], True,
                                     (VALUES, "image-tag")),
}


@pytest.mark.parametrize("mutation", DEFAULT_TAGS)
def test_a_mutable_default_tag_is_caught_though_every_scenario_sets_tags(project, mutation):
    edits, any_tag, expected = DEFAULT_TAGS[mutation]
    for path, old, new in edits:
        break_file(project, path, old, new)
    if any_tag:
        allow_any_tag(project)
    assert expected in lint_copy(project)


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_each_mutation_is_caught_naming_the_file(project, mutation):
    path, old, new, expected = MUTATIONS[mutation]
    break_file(project, path, old, new)
    assert expected in lint_copy(project)


def test_invoke_lint_fails_naming_the_broken_file(project):
    lint = [sys.executable, "-m", "invoke", "chart.lint", "--check", "scenarios", "--check", "manifests"]
    assert subprocess.run(lint, cwd=project, capture_output=True, text=True).returncode == 0
    break_file(project, "frontend/Dockerfile", "EXPOSE", "EXPOSE 3001\n#")
    broken = subprocess.run(lint, cwd=project, capture_output=True, text=True)
    assert broken.returncode == 1
    assert "frontend/Dockerfile" in broken.stdout and "expose-port" in broken.stdout


def test_hadolint_problems_name_file_and_line():
    output = "/tmp/x/backend/Dockerfile:2 DL3008 warning: Pin versions in apt get install.\n"
    assert hadolint_problems(output, "backend/Dockerfile") == [
        Finding("backend/Dockerfile:2", "hadolint", "DL3008 warning: Pin versions in apt get install.",
                "fix that line (hadolint's wiki page DL3008 explains the rule)")]


def test_a_missing_tool_stops_lint_with_how_to_install_it(make_context):
    c = make_context({"kube-score version": Result(exited=127), "helm version --short": Result("v3.22.0")})
    with pytest.raises(Exit) as error:
        check_tools(c, ["scenarios", "kube-score"])
    assert "lint tool(s) missing: kube-score" in error.value.message
    assert "go install github.com/zegl/kube-score/cmd/kube-score@v1.20.0" in error.value.message
