"""The consistency rules on data: each rule names the file to fix; consistent objects give no finding."""
from pathlib import Path

import pytest

from todoops.consistency import (Dockerfile, Manifest, check_objects, consistency_findings, dockerfile_ports,
                                 env_example_keys)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text, ports", [
    ("FROM a\nEXPOSE 8000\n", {8000}),
    ("FROM a\nENV PORT=8000\nEXPOSE ${PORT}/tcp\n", {8000}),
    ("FROM a\nARG PORT=3000\nEXPOSE $PORT\n", {3000}),
    ("FROM a AS build\nEXPOSE 1\nFROM b\nENV HOST=x \\\n    PORT=3000\nEXPOSE $PORT\n", {3000}),
    ("FROM a\nENV PORT 9000\nEXPOSE $PORT\n", {9000}),
    ("FROM a\n", set()),
])
def test_dockerfile_ports(text, ports):
    assert dockerfile_ports(text) == ports


def test_env_example_keys_ignore_comments():
    assert env_example_keys("# A=1\nJWT_SECRET=\nOPENAI_MODEL=x\n") == {"JWT_SECRET", "OPENAI_MODEL"}


LABELS = {"app.kubernetes.io/name": "todo-app", "app.kubernetes.io/component": "backend"}


def deployment(port=8000, probe_port="http", image="todo-backend:abc", policy="IfNotPresent", selector=None,
               secret_key="JWT_SECRET", config_key="LOG_LEVEL") -> Manifest:
    container = {"name": "backend", "image": image, "ports": [{"name": "http", "containerPort": port}],
                 "readinessProbe": {"httpGet": {"path": "/ready", "port": probe_port}},
                 "env": [{"name": "PORT", "value": str(port)},
                         {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": secret_key}}},
                         {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": config_key}}}]}
    if policy:
        container["imagePullPolicy"] = policy
    return Manifest("deploy.yaml", {"kind": "Deployment", "metadata": {"name": "backend"}, "spec": {
        "selector": {"matchLabels": selector or LABELS},
        "template": {"metadata": {"labels": LABELS}, "spec": {"containers": [container]}}}})


def service(target="http", selector=None) -> Manifest:
    return Manifest("svc.yaml", {"kind": "Service", "metadata": {"name": "backend"}, "spec": {
        "selector": selector or LABELS, "ports": [{"port": 8000, "targetPort": target}]}})


CONFIGMAP = Manifest("cm.yaml", {"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"LOG_LEVEL": "INFO"}})
DOCKERFILES = {"todo-backend": Dockerfile("backend/Dockerfile", frozenset({8000}))}


def findings(*manifests: Manifest, dockerfiles=DOCKERFILES, provider="minikube") -> set[tuple[str, str]]:
    found = check_objects(manifests, dockerfiles, frozenset({"JWT_SECRET"}), ".env.example", provider)
    return {(f.file, f.rule) for f in found}


def test_consistent_objects_have_no_findings():
    assert findings(deployment(), service(), CONFIGMAP) == set()


@pytest.mark.parametrize("manifests, dockerfiles, expected", [
    ((deployment(port=8080), service(), CONFIGMAP), DOCKERFILES, {("backend/Dockerfile", "expose-port")}),
    ((deployment(probe_port="web"), service(), CONFIGMAP), DOCKERFILES, {("deploy.yaml", "probe-port")}),
    ((deployment(probe_port=8080), service(), CONFIGMAP), DOCKERFILES, {("deploy.yaml", "probe-port")}),
    ((deployment(), service(target=8080), CONFIGMAP), DOCKERFILES, {("svc.yaml", "service-target-port")}),
    ((deployment(), service(), CONFIGMAP), {"todo-backend": Dockerfile("backend/Dockerfile", None)},
     {("backend/Dockerfile", "dockerfile-missing")}),
    ((deployment(secret_key="JWT"), service(), CONFIGMAP), DOCKERFILES, {("deploy.yaml", "secret-key")}),
    ((deployment(config_key="LOGLEVEL"), service(), CONFIGMAP), DOCKERFILES, {("deploy.yaml", "configmap-key")}),
    ((deployment(), service(), ), DOCKERFILES, {("deploy.yaml", "configmap-key")}),
    ((deployment(selector={"app.kubernetes.io/name": "other"}), service(), CONFIGMAP), DOCKERFILES,
     {("deploy.yaml", "selector")}),
    ((deployment(), service(selector={"app.kubernetes.io/component": "api"}), CONFIGMAP), DOCKERFILES,
     {("svc.yaml", "selector")}),
    ((deployment(image="todo-backend:latest"), service(), CONFIGMAP), DOCKERFILES, {("deploy.yaml", "image-tag")}),
    ((deployment(image="todo-backend"), service(), CONFIGMAP), DOCKERFILES, {("deploy.yaml", "image-tag")}),
    ((deployment(policy=None), service(), CONFIGMAP), DOCKERFILES, {("deploy.yaml", "pull-policy")}),
    ((deployment(policy="Always"), service(), CONFIGMAP), DOCKERFILES, {("deploy.yaml", "pull-policy")}),
])
def test_each_rule_names_the_file(manifests, dockerfiles, expected):
    assert findings(*manifests, dockerfiles=dockerfiles) == expected


@pytest.mark.parametrize(("provider", "always_fails"), [
    ("minikube", True), ("kind", True), ("k3d", True), ("docker-desktop", True), ("containerd", True),
    ("registry", False), ("", False)])
def test_always_pulling_fails_where_images_are_loaded_into_the_node(provider, always_fails):
    found = findings(deployment(policy="Always"), service(), CONFIGMAP, provider=provider)
    assert found == ({("deploy.yaml", "pull-policy")} if always_fails else set())


def test_pull_policy_fits_the_provider():
    assert findings(deployment(policy="Always"), service(), CONFIGMAP, provider="registry") == set()
    assert findings(deployment(policy="Never"), service(), CONFIGMAP, provider="registry") == {
        ("deploy.yaml", "pull-policy")}


def with_env_port(manifest: Manifest, value: str) -> Manifest:
    container = manifest.obj["spec"]["template"]["spec"]["containers"][0]
    container["env"][0]["value"] = value
    return manifest


def init_container(manifest: Manifest, image: str) -> Manifest:
    manifest.obj["spec"]["template"]["spec"]["initContainers"] = [
        {"name": "wait", "image": image, "imagePullPolicy": "IfNotPresent"}]
    return manifest


def referring(kind: str, spec: dict) -> Manifest:
    return Manifest("ref.yaml", {"kind": kind, "metadata": {"name": "x"}, "spec": spec})


INGRESS_TO = {"rules": [{"http": {"paths": [{"backend": {"service": {"name": "frontend"}}}]}}]}


@pytest.mark.parametrize("extra, expected", [
    ((with_env_port(deployment(), "8080"),), {("deploy.yaml", "env-port")}),
    ((init_container(deployment(), "busybox:latest"),), {("deploy.yaml", "image-tag")}),
    ((deployment(), referring("HorizontalPodAutoscaler", {"scaleTargetRef": {"kind": "Deployment", "name": "api"}})),
     {("ref.yaml", "scale-target")}),
    ((deployment(), referring("Ingress", INGRESS_TO)), {("ref.yaml", "ingress-backend")}),
    ((deployment(), referring("PodDisruptionBudget", {"selector": {"matchLabels": {"app": "other"}}})),
     {("ref.yaml", "selector")}),
    ((deployment(), referring("NetworkPolicy", {"podSelector": {"matchLabels": LABELS}})), set()),
])
def test_the_rules_over_what_refers_to_a_workload(extra, expected):
    assert findings(*extra, service(), CONFIGMAP) == expected


def test_a_project_without_manifests_is_told_to_render_them(tmp_path):
    (tmp_path / "k8s").mkdir()
    assert [(f.file, f.rule) for f in consistency_findings(tmp_path)] == [("k8s", "manifests-missing")]


def test_the_real_project_k8s_has_no_consistency_findings():
    assert consistency_findings(ROOT) == []
