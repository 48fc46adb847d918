import pytest

from tests.unit.fixtures import MINIKUBE_PROFILES
from todoops.config import resolve
from todoops.providers import PROVIDERS, access_lines, cluster_repository, manifest_inspect, minikube_driver


def test_pull_policies_never_pull_local_images():
    assert {name: p.pull_policy for name, p in PROVIDERS.items()} == {
        "minikube": "Never", "kind": "Never", "k3d": "Never", "docker-desktop": "Never", "containerd": "Never",
        "registry": "IfNotPresent"}


def test_registry_ref(make_context):
    cfg = resolve(make_context(provider="registry", registry="reg.internal:5000/team/"))
    assert cluster_repository(cfg, "todo-backend") == "reg.internal:5000/team/todo-backend"
    assert cluster_repository(resolve(make_context()), "todo-backend") == "todo-backend"


@pytest.mark.parametrize(("remote", "insecure"), [
    ("localhost:5001/todo-backend:1", True), ("127.0.0.1:5000/todo-backend:1", True),
    ("reg.internal:5000/team/todo-backend:1", False), ("localhost.example.test/todo-backend:1", False),
])
def test_a_registry_on_the_loopback_is_asked_over_plain_http_like_dockerd_pushes_to_it(remote, insecure):
    # Without --insecure docker's manifest client asks kind's local registry for HTTPS: the image
    # looks missing, so every deploy pushed it again and then failed, finding it still missing.
    assert manifest_inspect(remote) == ["docker", "manifest", "inspect", *(["--insecure"] if insecure else []), remote]


def test_minikube_driver():
    assert minikube_driver(MINIKUBE_PROFILES, "minikube") == "docker"
    assert minikube_driver(MINIKUBE_PROFILES, "other") == "" and minikube_driver("oops", "minikube") == ""


@pytest.mark.parametrize(("provider", "driver", "platform", "expected"), [
    ("minikube", "docker", "darwin", "run `minikube -p minikube tunnel`, map todo.local to 127.0.0.1"),
    ("minikube", "docker", "linux", "map todo.local to the output of `minikube -p minikube ip`"),
    ("kind", "", "linux", "map todo.local to 127.0.0.1 in /etc/hosts (when the cluster publishes port 80)"),
    ("registry", "", "linux", "point todo.local at the ingress controller's address"),
])
def test_access_is_driver_aware(make_context, provider, driver, platform, expected):
    lines = access_lines(resolve(make_context(provider=provider)), ["todo.local"], 3000, driver, platform)
    assert "invoke app.port-forward" in lines[0] and expected in lines[1]
    assert access_lines(resolve(make_context(provider=provider)), [], 3000, driver, platform) == lines[:1]


@pytest.mark.parametrize(("port", "opened"), [
    (3000, "open http://127.0.0.1:3000"), (8080, "open http://127.0.0.1:8080"), (None, "open the address it prints")])
def test_port_forward_opens_the_frontend_services_port(make_context, port, opened):
    assert access_lines(resolve(make_context()), [], port) == [
        f"any cluster: `invoke app.port-forward --context minikube`, then {opened}"]
