import json

import yaml

from tests.conftest import commands_run
from tests.unit.fixtures import line, ok, project
from todoops.config import resolve
from todoops.images import planned_images
from todoops.k8s import apply_manifests, external_images, load_manifests, repository_of, with_images

APPLY = line(["kubectl", "--context", "minikube", "--namespace", "todo-app", "apply", "-f", "-"])


def test_repository_of():
    assert repository_of("reg:5000/team/todo-backend:abc") == "todo-backend"
    assert repository_of("todo-frontend@sha256:00") == "todo-frontend"
    assert repository_of("postgres:15") == "postgres"


def test_manifests_load_in_filename_order(tmp_path):
    project(tmp_path)
    kinds = [obj["kind"] for obj in load_manifests(tmp_path / "k8s")]
    assert kinds[0] == "ServiceAccount" and kinds[-1] == "Ingress"


def test_images_are_patched_in_memory_only(make_context, tmp_path):
    project(tmp_path)
    cfg = resolve(make_context())
    images = planned_images(cfg)
    objects = load_manifests(cfg.manifests)
    patched = with_images(objects, images, "Never")
    deployments = {obj["metadata"]["name"]: obj for obj in patched if obj["kind"] == "Deployment"}
    backend = deployments["todo-app-backend"]["spec"]["template"]["spec"]["containers"][0]
    assert (backend["image"], backend["imagePullPolicy"]) == (images[0].ref, "Never")
    assert "todo-backend:dev" in (tmp_path / "k8s" / "40-deployment-todo-app-backend.yaml").read_text()
    assert external_images(objects, images) == ["postgres:15"]


def test_apply_is_one_ordered_stream_on_stdin(make_context, tmp_path):
    project(tmp_path)
    c = make_context({APPLY: ok()})
    cfg = resolve(c)
    apply_manifests(c, cfg, planned_images(cfg))
    assert commands_run(c) == [APPLY]
    stream = list(yaml.safe_load_all(c.run.call_args_list[0].kwargs["in_stream"].getvalue()))
    assert [obj["metadata"]["name"] for obj in stream] == [
        obj["metadata"]["name"] for obj in load_manifests(tmp_path / "k8s")]
    assert json.dumps(stream).count(planned_images(cfg)[1].ref) == 1
