"""``invoke status``'s data: replicas, the image running against the sources' content tag, restarts, last rollout."""
import json
from datetime import datetime, timezone

import pytest
from invoke import Exit

from tests.unit.fixtures import line, ok, preflight_ok, project
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.images import planned_images
from todoops.kubectl import COMPONENT_LABEL as COMPONENT
from todoops.report import Report
from todoops.status import ComponentStatus, age, component_statuses, show, status

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
SOURCE = {"backend": "aaaaaaaaaaaa", "frontend": "bbbbbbbbbbbb"}


def meta(name: str, component: str, created: str = "2026-12-01T11:00:00Z") -> dict:
    return {"name": name, "creationTimestamp": created, "labels": {"app.kubernetes.io/component": component}}


def workload(kind: str, component: str, replicas: int, ready: int | None) -> dict:
    status = {} if ready is None else {"readyReplicas": ready}
    return {"kind": kind, "metadata": meta(f"todo-app-{component}", component), "spec": {"replicas": replicas},
            "status": status}


def pod(component: str, image: str, restarts: int) -> dict:
    return {"kind": "Pod", "metadata": meta(f"todo-app-{component}-x", component),
            "spec": {"containers": [{"name": component, "image": image}, {"name": "sidecar", "image": "busybox:1"}]},
            "status": {"containerStatuses": [{"name": component, "restartCount": restarts},
                                             {"name": "sidecar", "restartCount": 1}]}}


def revision(kind: str, component: str, created: str) -> dict:
    return {"kind": kind, "metadata": meta(f"todo-app-{component}-{created[-3:-1]}", component, created)}


RELEASE = {"items": [
    workload("Deployment", "backend", 2, 2),
    workload("Deployment", "frontend", 2, 1),
    workload("StatefulSet", "postgresql", 1, None),
    pod("backend", "todo-backend:aaaaaaaaaaaa-0123456789ab", 0),
    pod("backend", "todo-backend:aaaaaaaaaaaa-0123456789ab", 2),
    # Mid-rollout: one pod still runs an older build of other sources.
    pod("frontend", "localhost:5000/todo-frontend:bbbbbbbbbbbb-0123456789ab", 0),
    pod("frontend", "localhost:5000/todo-frontend:cccccccccccc-0123456789ab", 0),
    pod("postgresql", "postgres:15", 3),
    revision("ReplicaSet", "backend", "2026-12-01T10:00:00Z"),
    revision("ReplicaSet", "backend", "2026-12-01T11:58:30Z"),
    revision("ReplicaSet", "frontend", "2026-11-28T09:00:00Z"),
    revision("ControllerRevision", "postgresql", "2026-12-01T09:40:00Z"),
]}


def statuses() -> dict[str, ComponentStatus]:
    return {status.component: status for status in component_statuses(RELEASE, SOURCE, NOW)}


def test_each_component_shows_its_replicas_its_tags_its_restarts_and_its_newest_revisions_age():
    found = statuses()
    assert list(found) == ["backend", "frontend", "postgresql"]
    assert (found["backend"].desired, found["backend"].ready, found["postgresql"].ready) == (2, 2, 0)
    assert found["backend"].tags == ("aaaaaaaaaaaa-0123456789ab",)
    assert found["frontend"].tags == ("bbbbbbbbbbbb-0123456789ab", "cccccccccccc-0123456789ab")
    assert found["postgresql"].tags == ("15",)
    # Every container's restarts count, as in kubectl's RESTARTS: a crashing sidecar breaks the pod too.
    assert (found["backend"].restarts, found["postgresql"].restarts) == (4, 4)
    assert found["backend"].rollout_age == 90
    assert found["postgresql"].rollout_age == 2 * 3600 + 20 * 60


def test_the_content_part_of_the_run_tag_decides_whether_the_cluster_runs_the_current_sources():
    found = statuses()
    assert found["backend"].current is True
    assert found["frontend"].current is False  # one pod of other sources is enough to be stale
    assert found["postgresql"].current is None  # not built here: nothing to compare
    edited = {status.component: status.current
              for status in component_statuses(RELEASE, {**SOURCE, "backend": "dddddddddddd"}, NOW)}
    assert edited["backend"] is False


def test_a_workload_without_pods_or_revisions_is_shown_and_never_current():
    found = component_statuses({"items": [workload("Deployment", "backend", 2, None)]}, SOURCE, NOW)
    assert found == [ComponentStatus("backend", 2, 0, (), "aaaaaaaaaaaa", 0, None)]
    assert found[0].current is False


def test_ages_read_like_kubectls():
    assert [age(s) for s in (None, 5, 119, 120, 3599, 3600 * 3 + 60 * 20, 86400 * 5 + 7)] == [
        "-", "5s", "119s", "2m", "59m", "3h20m", "5d"]


def test_the_table_flags_stale_code_and_json_carries_the_same(capsys):
    show(Report(), list(statuses().values()))
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["component", "ready", "image", "tag", "current", "restarts", "last", "rollout"]
    assert table[2].split() == ["backend", "2/2", "aaaaaaaaaaaa-0123456789ab", "yes", "4", "90s"]
    assert "STALE (source bbbbbbbbbbbb)" in table[3] and table[3].split()[1] == "1/2"
    assert table[4].split() == ["postgresql", "0/1", "15", "-", "4", "2h20m"]
    show(Report(json_mode=True), list(statuses().values()))
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert [row["current"] for row in data] == [True, False, None]
    assert data[1]["tags"] == ["bbbbbbbbbbbb-0123456789ab", "cccccccccccc-0123456789ab"]
    assert "component" in out.err  # the table goes to stderr so stdout stays JSON


KUBECTL = ["kubectl", "--context", "minikube", "--namespace", "todo-app"]
GET_STATUS = line([*KUBECTL, "get", "deployments,statefulsets,replicasets,controllerrevisions,pods",
                   "-l", "app.kubernetes.io/part-of=todo-app,app.kubernetes.io/instance=todo-app", "-o", "json"])


def test_status_compares_the_running_tag_with_the_sources_content_tag(make_context, tmp_path, capsys):
    project(tmp_path)
    source = {image.name: image.tag for image in planned_images(resolve(make_context()))}
    found = {"items": [
        {"kind": "Deployment", "metadata": {"name": "todo-app-backend", "labels": {COMPONENT: "backend"}},
         "spec": {"replicas": 2}, "status": {"readyReplicas": 2}},
        {"kind": "Pod", "metadata": {"name": "todo-app-backend-x", "labels": {COMPONENT: "backend"}},
         "spec": {"containers": [{"name": "backend", "image": f"todo-backend:{source['backend']}-0123456789ab"}]},
         "status": {"containerStatuses": [{"name": "backend", "restartCount": 1}]}},
        {"kind": "Deployment", "metadata": {"name": "todo-app-frontend", "labels": {COMPONENT: "frontend"}},
         "spec": {"replicas": 2}, "status": {"readyReplicas": 2}},
        {"kind": "Pod", "metadata": {"name": "todo-app-frontend-x", "labels": {COMPONENT: "frontend"}},
         "spec": {"containers": [{"name": "frontend", "image": "todo-frontend:000000000000-0123456789ab"}]}},
    ]}
    c = make_context({**preflight_ok(), GET_STATUS: ok(json.dumps(found))})
    status(c, json=True)
    rows = {row["component"]: row for row in json.loads(capsys.readouterr().out)}
    assert (rows["backend"]["current"], rows["frontend"]["current"]) == (True, False)
    assert rows["frontend"]["source_tag"] == source["frontend"] and rows["backend"]["restarts"] == 1


def test_status_of_nothing_deployed_says_so_and_how_to_deploy(make_context, tmp_path):
    project(tmp_path)
    c = make_context({**preflight_ok(), GET_STATUS: ok(json.dumps({"items": []}))})
    with pytest.raises(Exit) as stopped:
        status(c)
    assert stopped.value.code == ExitCode.NOT_DEPLOYED and "invoke deploy" in str(stopped.value.message)
