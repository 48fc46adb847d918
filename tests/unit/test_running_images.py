"""``todoops.running_images``: each pod runs the image it should, by image ID, pushed digest or run tag."""
import json
from dataclasses import replace

import pytest

from tests.unit.fixtures import failed, fixture, line, ok
from todoops.images import BuiltImage
from todoops.running_images import (image_checks, named_as, runs_other_image, size_checks, statefulset_image_checks,
                                    with_pushed_digests)

BACKEND = BuiltImage("backend", "todo-backend", "3b8e1f0c9a7d", "todo-backend", "sha256:aa", 197_000_000)


def test_image_and_size_checks_on_recorded_pods():
    [check] = image_checks(fixture("pods-healthy.json")["items"][:1], [BACKEND])
    assert check.status == "ok"
    stale = BuiltImage("backend", "todo-backend", "ffffffffffff", "todo-backend")
    assert image_checks(fixture("pods-healthy.json")["items"], [stale])[0].status == "fail"
    assert size_checks([BuiltImage("backend", "b", "t", "b", size=712_000_000)])[0].detail == "712 MB > 300 MB"


PUSHED = "localhost:5001/todo-backend@sha256:" + "d" * 64
IN_REGISTRY = replace(BACKEND, cluster_repository="localhost:5001/todo-backend")


def registry_pod(image_id: str) -> dict:
    pod = json.loads(json.dumps(fixture("pods-healthy.json")["items"][0]))
    pod["status"]["containerStatuses"][0].update(image=IN_REGISTRY.cluster_ref, imageID=image_id)
    return pod


def test_a_pod_pulled_from_the_registry_must_run_the_pushed_digest():
    pushed = replace(IN_REGISTRY, pushed_digests=(PUSHED,))
    [same] = image_checks([registry_pod(PUSHED)], [pushed])
    assert same.status == "ok" and "the pushed digest sha256:dddddddddddd" in same.detail
    # Same tag, other content: pushed over by someone else, or an older pull a node kept.
    [other] = image_checks([registry_pod("localhost:5001/todo-backend@sha256:" + "e" * 64)], [pushed])
    assert other.status == "fail"


def test_the_pushed_digests_are_what_docker_recorded_for_the_registry_repository(make_context):
    digests = line(["docker", "image", "inspect", "--format", "{{json .RepoDigests}}", IN_REGISTRY.local_ref])
    c = make_context({digests: ok(json.dumps([PUSHED, "localhost:5002/todo-backend@sha256:" + "f" * 64]))})
    assert with_pushed_digests(c, IN_REGISTRY).pushed_digests == (PUSHED,)
    c = make_context({digests: failed()})
    assert with_pushed_digests(c, IN_REGISTRY).pushed_digests == ()


@pytest.mark.parametrize(("reported", "wanted", "same"), [
    ("postgres:15", "postgres:15", True),
    ("docker.io/library/postgres:15", "postgres:15", True),
    ("localhost:5001/postgres:15", "postgres:15", True),
    ("docker.io/library/postgres:16", "postgres:15", False),
    ("docker.io/library/mypostgres:15", "postgres:15", False),
])
def test_an_image_is_named_as_given_or_under_a_registry(reported, wanted, same):
    assert named_as(reported, wanted) is same


def test_a_statefulset_pod_on_another_image_fails_its_row():
    statefulset = {"metadata": {"name": "db"}, "spec": {"template": {"spec": {"containers": [
        {"name": "postgresql", "image": "postgres:15"}]}}}}
    pod = {"metadata": {"name": "db-0", "ownerReferences": [{"kind": "StatefulSet", "name": "db", "controller": True}]},
           "status": {"containerStatuses": [{"name": "postgresql", "image": "docker.io/library/postgres:16",
                                             "state": {"running": {}}}]}}
    [row] = statefulset_image_checks([statefulset], [pod])
    assert (row.status, row.detail) == ("fail", "db-0 not running postgres:15")


def test_another_tag_of_the_same_build_is_the_same_image():
    # Seen on kind: one image ID under two content tags (and a registry copy); kubelet reported either.
    built = replace(BACKEND, image_id="sha256:" + "c" * 64)
    pod = json.loads(json.dumps(fixture("pods-healthy.json")["items"][0]))
    status = pod["status"]["containerStatuses"][0]
    status.update(image=f"docker.io/library/todo-backend:0123456789ab-{'c' * 12}",
                  imageID="localhost:5001/todo-backend@sha256:" + "d" * 64)
    assert image_checks([pod], [built])[0].status == "ok"
    status.update(image=f"docker.io/library/todo-backend:0123456789ab-{'e' * 12}")
    assert image_checks([pod], [built])[0].status == "fail"
    status.update(image=built.cluster_ref, imageID="sha256:" + "c" * 64)
    assert image_checks([pod], [built])[0].status == "ok"
    status.update(imageID="sha256:" + "e" * 64)
    assert image_checks([pod], [built])[0].status == "fail"


@pytest.mark.parametrize(("reported", "other"), [
    (f"localhost:5001/todo-backend:{BACKEND.run_tag}", False),
    (f"docker.io/library/todo-backend:{BACKEND.run_tag}", False),
    ("localhost:5001/todo-backend", True),
    (f"localhost:5001/todo-frontend:{BACKEND.run_tag}", True),
])
def test_without_an_image_id_to_compare_the_reported_ref_must_be_our_repository_at_the_run_tag(reported, other):
    assert runs_other_image({"image": reported, "imageID": ""}, BACKEND) is other


def test_a_registry_pull_of_an_image_the_node_had_under_its_local_name_is_the_same_image():
    """Seen on kind: the node had the build's image ID from a `kind load` under todo-backend:<other tag>;
    the pull from the registry added a name, and the runtime reported the first one, with the digest of
    that import, not the pushed one."""
    short_id = IN_REGISTRY.run_tag.removeprefix(IN_REGISTRY.tag)
    pushed = replace(IN_REGISTRY, pushed_digests=(PUSHED,))
    pod = registry_pod("docker.io/library/import-2026-12-02@sha256:" + "a" * 64)
    status = pod["status"]["containerStatuses"][0]
    status.update(image=f"docker.io/library/todo-backend:0123456789ab{short_id}")
    assert image_checks([pod], [pushed])[0].status == "ok"
    status.update(image="docker.io/library/todo-backend:0123456789ab-ffffffffffff")
    assert image_checks([pod], [pushed])[0].status == "fail"
