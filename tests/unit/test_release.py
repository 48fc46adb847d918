"""The release's objects: k8s/ when it fits the configuration, else the chart rendered with the suite's values."""
import pytest
import yaml

from tests.conftest import commands_run
from tests.unit.fixtures import ENV, REPO, chart_render, line, not_found, project, secret_answer
from todoops.config import resolve
from todoops.images import planned_images
from todoops.release import (external_images, ingress_hosts, load_manifests, release_objects, secret_checksum,
                             service_port, suite_values, unserved_classes, with_release)

KUBECTL = ["kubectl", "--context", "minikube", "--namespace", "todo-app"]
GET_SECRET = line([*KUBECTL, "get", "secret", "todo-app-secrets", "-o", "json"])


def test_manifests_load_in_filename_order(tmp_path):
    project(tmp_path)
    kinds = [obj["kind"] for obj in load_manifests(tmp_path / "k8s")]
    assert kinds[0] == "ServiceAccount" and kinds[-1] == "Ingress"


def test_images_and_the_checksum_are_patched_in_memory_only(make_context, tmp_path):
    project(tmp_path)
    cfg = resolve(make_context())
    images = planned_images(cfg)
    objects = load_manifests(cfg.manifests)
    patched = with_release(objects, images, "Never", "ab" * 32)
    deployments = {obj["metadata"]["name"]: obj for obj in patched if obj["kind"] == "Deployment"}
    backend = deployments["todo-app-backend"]["spec"]["template"]
    assert (backend["spec"]["containers"][0]["image"], backend["spec"]["containers"][0]["imagePullPolicy"]) == (
        images[0].ref, "Never")
    assert backend["metadata"]["annotations"]["checksum/secret"] == "ab" * 32
    # Only where the chart put the annotation: the frontend does not read the Secret.
    assert "checksum/secret" not in deployments["todo-app-frontend"]["spec"]["template"]["metadata"]["annotations"]
    assert "todo-backend:dev" in (tmp_path / "k8s" / "40-deployment-todo-app-backend.yaml").read_text()
    assert external_images(objects, images) == ["postgres:15"] and ingress_hosts(objects) == ["todo.local"]


def test_the_checksum_follows_the_data_and_no_secret_means_empty(make_context):
    cfg = resolve(make_context())
    checksum = secret_checksum(make_context({GET_SECRET: secret_answer(ENV)}), cfg)
    assert len(checksum) == 64 and secret_checksum(make_context({GET_SECRET: secret_answer(ENV)}), cfg) == checksum
    assert secret_checksum(make_context({GET_SECRET: secret_answer({**ENV, "OPENAI_MODEL": "o1"})}), cfg) != checksum
    assert secret_checksum(make_context({GET_SECRET: not_found("secrets", "todo-app-secrets")}), cfg) == ""


def test_k8s_dir_is_applied_as_it_is_when_it_fits(make_context, tmp_path):
    project(tmp_path)
    c = make_context()
    cfg = resolve(c)
    assert release_objects(c, cfg, planned_images(cfg)) == load_manifests(cfg.manifests)
    assert commands_run(c) == []


def template_line(cfg) -> str:
    return line(["helm", "template", cfg.release, str(cfg.chart), "--namespace", cfg.namespace, "--kube-version",
                 "1.34.0", *suite_values(cfg, planned_images(cfg))])


@pytest.mark.parametrize("config", [{"release": "staging"}, {"secret_name": "staging-secrets"},
                                    {"chart_values": ["values/dev.yaml"]}, {"method": "helm"}])
def test_any_other_release_secret_values_or_helm_render_the_chart_with_the_suite_values(make_context, tmp_path,
                                                                                        config):
    project(tmp_path)
    cfg = resolve(make_context(**config))
    rendered = chart_render(release=cfg.release)
    c = make_context({template_line(cfg): rendered}, **config)
    objects = release_objects(c, cfg, planned_images(cfg))
    assert commands_run(c) == [template_line(cfg)]
    assert {obj["metadata"]["labels"]["app.kubernetes.io/instance"] for obj in objects} == {cfg.release}
    assert f"existingSecret={cfg.secret_name}" in template_line(cfg)
    assert all(f"--values {tmp_path}/{path}" in template_line(cfg) for path in config.get("chart_values", []))


def test_a_services_port_is_the_one_the_chart_gives_its_component(tmp_path):
    project(tmp_path)
    values = yaml.safe_load((REPO / "helm" / "todo-app" / "values.yaml").read_text())
    objects = load_manifests(tmp_path / "k8s")
    assert service_port(objects, "frontend") == values["frontend"]["port"]
    assert service_port(objects, "backend") == values["backend"]["port"]
    assert service_port(objects, "mailer") is None


def test_an_ingress_is_served_only_by_a_controller_of_its_class():
    def ingress(name: str) -> dict:
        return {"kind": "Ingress", "spec": {"ingressClassName": name, "rules": [{"host": "todo.local"}]}}

    assert unserved_classes([ingress("nginx")], {"nginx"}) == []
    assert unserved_classes([ingress("nginx")], {"traefik"}) == ["nginx"]
    assert unserved_classes([ingress("")], set()) == [""] and unserved_classes([ingress("")], {"traefik"}) == []
    assert unserved_classes([{"kind": "Service"}], set()) == []
