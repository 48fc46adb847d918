"""Image references: one image, its spellings (as a manifest, a runtime, docker and minikube's cache write it)."""
import pytest

from todoops.refs import cache_names, image_name, listed_refs, normalize, registry_host, shorten, split_ref


@pytest.mark.parametrize(("ref", "parts"), [
    ("todo-backend:abc", ("todo-backend", "abc")),
    ("todo-backend", ("todo-backend", "")),
    ("localhost:5000/todo-backend", ("localhost:5000/todo-backend", "")),
    ("localhost:5000/todo-backend:1", ("localhost:5000/todo-backend", "1")),
    ("todo-frontend:1@sha256:00", ("todo-frontend", "1")),
    ("todo-frontend@sha256:00", ("todo-frontend", "")),
])
def test_split_ref(ref, parts):
    assert split_ref(ref) == parts


@pytest.mark.parametrize(("ref", "name"), [
    ("reg:5000/team/todo-backend:abc", "todo-backend"),
    ("todo-frontend@sha256:00", "todo-frontend"),
    ("postgres:15", "postgres"),
    ("localhost:5000/todo-backend", "todo-backend"),
])
def test_image_name_is_the_repositorys_last_part(ref, name):
    assert image_name(ref) == name


@pytest.mark.parametrize(("ref", "normal"), [
    ("todo-backend:abc", "docker.io/library/todo-backend:abc"),
    ("team/todo-backend:abc", "docker.io/team/todo-backend:abc"),
    ("localhost:5000/todo:1", "localhost:5000/todo:1"),
    ("localhost/todo:1", "localhost/todo:1"),
    ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
    ("docker.io/library/postgres:15", "docker.io/library/postgres:15"),
])
def test_normalize_like_container_runtimes(ref, normal):
    assert normalize(ref) == normal


@pytest.mark.parametrize(("ref", "short"), [
    ("docker.io/library/postgres:15", "postgres:15"),
    ("docker.io/team/todo-backend:abc", "team/todo-backend:abc"),
    ("postgres:15", "postgres:15"),
    ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
])
def test_shorten_like_docker_prints_it(ref, short):
    assert shorten(ref) == short


@pytest.mark.parametrize(("ref", "host"), [
    ("localhost:5001/todo-backend:1", "localhost"),
    ("127.0.0.1:5000/todo-backend:1", "127.0.0.1"),
    ("[::1]:5000/todo-backend:1", "[::1]"),
    ("reg.internal/team/todo-backend:1", "reg.internal"),
    ("team/todo-backend:1", ""),
    ("todo-backend:1", ""),
])
def test_registry_host(ref, host):
    assert registry_host(ref) == host


@pytest.mark.parametrize(("ref", "names"), [
    ("docker.io/library/todo-backend:abc", {"docker.io/library/todo-backend_abc", "todo-backend_abc"}),
    ("docker.io/team/todo:1", {"docker.io/team/todo_1", "team/todo_1"}),
    ("registry.k8s.io/pause:3.10", {"registry.k8s.io/pause_3.10"}),
])
def test_cache_names_cover_each_spelling_minikube_may_have_cached(ref, names):
    assert cache_names(ref) == names


def test_listed_refs_read_ctr_and_minikube_output():
    text = ("docker.io/library/todo-backend:abc\nsha256:0123\nregistry.k8s.io/pause:3.10\n"
            "postgres:15 application/vnd.oci 84.1 MiB\n\n")
    assert listed_refs(text) == {"docker.io/library/todo-backend:abc", "registry.k8s.io/pause:3.10",
                                 "docker.io/library/postgres:15"}
