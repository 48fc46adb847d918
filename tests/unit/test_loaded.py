import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import line, ok, project
from todoops.config import resolve
from todoops.images import load_images, planned_images
from todoops.loaded import forget, record, record_path, recorded
from todoops.report import Report

CTR = ["ctr", "--address", "/run/c.sock", "-n", "k8s.io"]
CONTAINERD = {"context": "microk8s", "provider": "containerd", "containerd": {"address": "/run/c.sock"}}


def test_the_record_is_per_release_normalized_and_survives_a_bad_file(make_context):
    cfg = resolve(make_context())
    record(cfg, ["todo-backend:1", "docker.io/library/postgres:15"])
    record(cfg, ["todo-backend:1", "todo-frontend:2"])
    assert recorded(cfg) == {"docker.io/library/todo-backend:1", "docker.io/library/todo-frontend:2",
                             "docker.io/library/postgres:15"}
    assert recorded(resolve(make_context(release="other"))) == set()
    assert recorded(resolve(make_context(namespace="other"))) == set()
    forget(cfg, ["docker.io/library/postgres:15"])
    assert recorded(cfg) == {"docker.io/library/todo-backend:1", "docker.io/library/todo-frontend:2"}
    record_path(cfg).write_text("{not json")
    assert recorded(cfg) == set()


def test_a_context_name_with_slashes_and_a_host_stay_one_file(make_context):
    cfg = resolve(make_context(context="arn:aws:eks:eu-west-1:1:cluster/prod", host="me@box:2222"))
    assert record_path(cfg).parent == cfg.cache_dir / "loaded"


def test_a_dry_run_records_nothing(make_context):
    cfg = resolve(make_context(), dry_run=True)
    record(cfg, ["todo-backend:1"])
    assert not record_path(cfg).exists()


@pytest.mark.parametrize("arrives", [True, False])
def test_load_records_what_arrived_and_only_that(make_context, tmp_path, arrives):
    project(tmp_path)
    images = planned_images(resolve(make_context(**CONTAINERD)))
    backend, frontend = (image.cluster_ref for image in images)
    listing = line([*CTR, "images", "ls", "-q"])
    after = f"docker.io/library/{frontend}\n" + (f"docker.io/library/{backend}\n" if arrives else "")
    loads = {f"set -o pipefail; docker save {image.ref} | " + line([*CTR, "images", "import", "-"]): ok()
             for image in images}
    c = make_context({listing: [ok(f"docker.io/library/{frontend}\n"), ok(after)], **loads}, **CONTAINERD)
    if arrives:
        load_images(c, resolve(c), Report(), images)
    else:
        with pytest.raises(Exit, match="still lacks"):
            load_images(c, resolve(c), Report(), images)
    assert len(commands_run(c)) == 3
    # The frontend was there already: someone else's to keep.
    assert recorded(resolve(c)) == ({f"docker.io/library/{backend}"} if arrives else set())
