import json

import pytest
import yaml
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import ENV, failed, line, not_found, ok, preflight_ok, project, secret_answer
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.images import planned_images
from todoops.k8s import apply_manifests, forward, logs, port_forward, status
from todoops.redaction import REDACTOR
from todoops.status import COMPONENT_LABEL as COMPONENT
from todoops.release import load_manifests, release_objects, secret_checksum

KUBECTL = ["kubectl", "--context", "minikube", "--namespace", "todo-app"]
APPLY = line([*KUBECTL, "apply", "-f", "-"])
GET_SECRET = line([*KUBECTL, "get", "secret", "todo-app-secrets", "-o", "json"])
# No helm release to hand over (tests/unit/test_chart.py pins the method switch).
NO_HELM_RECORDS = {line([*KUBECTL, "get", "secrets", "-l", "owner=helm,name=todo-app", "-o", "name"]): ok()}


def test_apply_is_one_ordered_stream_on_stdin(make_context, tmp_path):
    project(tmp_path)
    c = make_context({GET_SECRET: secret_answer(ENV), APPLY: ok(), **NO_HELM_RECORDS})
    cfg = resolve(c)
    apply_manifests(c, cfg, planned_images(cfg), load_manifests(cfg.manifests))
    assert commands_run(c) == [*NO_HELM_RECORDS, GET_SECRET, APPLY]
    stream = list(yaml.safe_load_all(c.run.call_args_list[2].kwargs["in_stream"].getvalue()))
    assert [obj["metadata"]["name"] for obj in stream] == [
        obj["metadata"]["name"] for obj in load_manifests(tmp_path / "k8s")]
    assert json.dumps(stream).count(planned_images(cfg)[1].ref) == 1


def applied_checksums(make_context, tmp_path, secret) -> dict[str, str | None]:
    """``checksum/secret`` of each applied Deployment (None: not annotated) when the cluster's Secret answers so."""
    project(tmp_path)
    c = make_context({GET_SECRET: secret, APPLY: ok(), **NO_HELM_RECORDS})
    cfg = resolve(c)
    apply_manifests(c, cfg, planned_images(cfg), release_objects(c, cfg, planned_images(cfg)))
    stream = yaml.safe_load_all(c.run.call_args_list[-1].kwargs["in_stream"].getvalue())
    return {obj["metadata"]["name"]: obj["spec"]["template"]["metadata"]["annotations"].get("checksum/secret")
            for obj in stream if obj["kind"] == "Deployment"}


def test_the_pods_that_read_the_secret_carry_the_hash_of_what_the_cluster_holds(make_context, tmp_path, capsys):
    # The restart decision comes from the cluster: a Secret an interrupted run changed still rolls the pods.
    now = applied_checksums(make_context, tmp_path, secret_answer(ENV))
    assert now == {"todo-app-backend": now["todo-app-backend"], "todo-app-frontend": None}
    assert len(now["todo-app-backend"]) == 64
    assert applied_checksums(make_context, tmp_path, secret_answer(ENV)) == now
    changed = applied_checksums(make_context, tmp_path, secret_answer({**ENV, "OPENAI_MODEL": "gpt-4o"}))
    assert changed["todo-app-backend"] != now["todo-app-backend"]
    assert not [value for value in ENV.values() if value and value in capsys.readouterr().err]


def test_no_secret_yet_leaves_the_annotation_empty(make_context, tmp_path):
    assert secret_checksum(make_context({GET_SECRET: not_found("secrets", "todo-app-secrets")}),
                           resolve(make_context())) == ""
    assert applied_checksums(make_context, tmp_path, not_found("secrets", "todo-app-secrets"))[
        "todo-app-backend"] == ""


GET_STATUS = line([*KUBECTL, "get", "deployments,statefulsets,replicasets,controllerrevisions,pods",
                   "-l", "app.kubernetes.io/part-of=todo-app,app.kubernetes.io/instance=todo-app", "-o", "json"])
LOGS = line([*KUBECTL, "logs", "-l", "app.kubernetes.io/part-of=todo-app,app.kubernetes.io/instance=todo-app,"
             "app.kubernetes.io/component=backend", "--all-containers", "--prefix", "--tail=100"])
FORWARD = "exec " + line([*KUBECTL, "port-forward", "--address", "127.0.0.1", "service/todo-app-frontend", "3000:3000"])


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


def test_logs_teach_the_redaction_filter_the_clusters_secret_before_printing(make_context, tmp_path):
    project(tmp_path)
    in_cluster = "only-the-cluster-knows-this-password"
    c = make_context({**preflight_ok(), GET_SECRET: secret_answer({**ENV, "POSTGRES_PASSWORD": in_cluster}),
                      LOGS: ok()})
    logs(c)
    assert commands_run(c)[-2:] == [GET_SECRET, LOGS]
    assert REDACTOR(f"postgresql://todo:{in_cluster}@db") == "postgresql://todo:***@db"


def test_port_forward_announces_the_url_kubectl_listens_on(make_context, capsys):
    c = make_context({FORWARD: ok("Forwarding from 127.0.0.1:3000 -> 3000\n")})
    forward(c, resolve(c), "todo-app-frontend", 3000, 3000)
    assert capsys.readouterr().out == "http://127.0.0.1:3000 -> service/todo-app-frontend:3000 (Ctrl-C to stop)\n"


def test_port_forward_that_cannot_listen_or_loses_its_pod_fails_with_kubectls_words(make_context, capsys):
    busy = make_context({FORWARD: failed(stderr="unable to listen on any of the requested ports: [{3000 3000}]\n")})
    with pytest.raises(Exit) as stopped:
        forward(busy, resolve(busy), "todo-app-frontend", 3000, 3000)
    assert "unable to listen" in stopped.value.message and "127.0.0.1:3000 free" in stopped.value.message
    lost = make_context({FORWARD: failed(stdout="Forwarding from 127.0.0.1:3000 -> 3000\n",
                                         stderr="error: lost connection to pod\n")})
    with pytest.raises(Exit) as stopped:
        forward(lost, resolve(lost), "todo-app-frontend", 3000, 3000)
    assert "ended: error: lost connection to pod" in stopped.value.message


@pytest.mark.parametrize(("task", "flags"), [
    (logs, {"component": "bogus"}), (port_forward, {"component": "postgresql"}), (port_forward, {"port": "0"})])
def test_an_unknown_component_or_port_is_bad_input_before_the_cluster_is_asked(make_context, task, flags):
    c = make_context()
    with pytest.raises(Exit) as stopped:
        task(c, **flags)
    assert stopped.value.code == ExitCode.BAD_INPUT and "--" in stopped.value.message
    assert commands_run(c) == []
