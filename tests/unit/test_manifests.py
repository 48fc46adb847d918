"""`invoke k8s.apply`: one ordered stream on stdin, the Secret's checksum patched in."""
import copy
import json

import pytest
import yaml

from tests.conftest import commands_run
from tests.unit.fixtures import ENV, line, not_found, ok, project, secret_answer
from tests.unit.fixtures.deploy import kubectl_made, named_objects
from todoops.config import resolve
from todoops.images import planned_images
from todoops.manifests import Applied, apply_manifests, as_applied
from todoops.providers import provider_for
from todoops.release import load_manifests, release_objects, secret_checksum, with_release

KUBECTL = ["kubectl", "--context", "minikube", "--namespace", "todo-app"]
APPLY = line([*KUBECTL, "apply", "-f", "-"])
GET_SECRET = line([*KUBECTL, "get", "secret", "todo-app-secrets", "-o", "json"])
# The release's objects by name (what an apply made is learnt from them).
LIVE = named_objects(KUBECTL)
# No helm release to hand over (tests/unit/test_chart.py pins the method switch), nothing applied yet.
NO_HELM_RECORDS = {line([*KUBECTL, "get", "secrets", "-l", "owner=helm,name=todo-app", "-o", "name"]): ok(),
                   LIVE: ok()}


def test_apply_is_one_ordered_stream_on_stdin(make_context, tmp_path):
    project(tmp_path)
    c = make_context({GET_SECRET: secret_answer(ENV), APPLY: ok(), **NO_HELM_RECORDS})
    cfg = resolve(c)
    apply_manifests(c, cfg, planned_images(cfg), load_manifests(cfg.manifests))
    records, secret, live, applied = commands_run(c)
    assert [records, secret, applied] == [next(iter(NO_HELM_RECORDS)), GET_SECRET, APPLY] and LIVE.match(live)
    stream = list(yaml.safe_load_all(c.run.call_args_list[3].kwargs["in_stream"].getvalue()))
    assert [obj["metadata"]["name"] for obj in stream] == [
        obj["metadata"]["name"] for obj in load_manifests(tmp_path / "k8s")]
    assert json.dumps(stream).count(planned_images(cfg)[1].ref) == 1


def streams(c) -> list[list[dict]]:
    return [list(yaml.safe_load_all(call.kwargs["in_stream"].getvalue()))
            for call in c.run.call_args_list if call.args[0].endswith("apply -f -")]


def test_given_what_it_applied_before_apply_sends_only_what_differs_and_nothing_when_nothing_does(
        make_context, tmp_path):
    project(tmp_path)
    c = make_context({GET_SECRET: secret_answer(ENV), APPLY: ok(), **NO_HELM_RECORDS})
    cfg = resolve(c)
    applied, objects = Applied(), load_manifests(cfg.manifests)
    apply_manifests(c, cfg, planned_images(cfg), objects, applied)
    apply_manifests(c, cfg, planned_images(cfg), objects, applied)
    edited = copy.deepcopy(objects)
    configmap = next(obj for obj in edited if obj["kind"] == "ConfigMap")
    configmap["data"]["LOG_LEVEL"] = "DEBUG"
    apply_manifests(c, cfg, planned_images(cfg), edited, applied)
    first, then = streams(c)
    assert len(first) == len(objects) and then == [configmap]


def test_what_failed_to_apply_is_sent_again(make_context, tmp_path):
    project(tmp_path)
    # A command the mock does not know raises, as a failed one does through invoke's Context.
    failing = make_context({GET_SECRET: secret_answer(ENV), **NO_HELM_RECORDS})
    c = make_context({GET_SECRET: secret_answer(ENV), APPLY: ok(), **NO_HELM_RECORDS})
    cfg = resolve(c)
    applied, objects = Applied(), load_manifests(cfg.manifests)
    with pytest.raises(NotImplementedError):
        apply_manifests(failing, cfg, planned_images(cfg), objects, applied)
    apply_manifests(c, cfg, planned_images(cfg), objects, applied)
    assert [len(stream) for stream in streams(c)] == [len(objects)]


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


def made(cfg, objects, checksum: str = "") -> list[dict]:
    """``objects`` as a kubectl apply of them (with the Secret's ``checksum``) left them in the cluster."""
    images = planned_images(cfg)
    return json.loads(kubectl_made(with_release(objects, images, provider_for(cfg).pull_policy, checksum),
                                   cfg.namespace).stdout)["items"]


def test_an_object_is_as_applied_when_kubectls_record_is_it_and_nobody_changed_what_it_sets(make_context, tmp_path):
    project(tmp_path)
    cfg = resolve(make_context())
    objects = with_release(load_manifests(cfg.manifests), planned_images(cfg), provider_for(cfg).pull_policy, "")
    deployment = next(obj for obj in objects if obj["kind"] == "Deployment")
    live = next(obj for obj in made(cfg, objects) if obj["kind"] == "Deployment")
    assert as_applied(live, deployment)
    # The server's defaults and status are not ours.
    live["spec"]["progressDeadlineSeconds"] = 600
    assert as_applied(live, deployment)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 1
    assert not as_applied(scaled, deployment)
    other_image = copy.deepcopy(live)
    other_image["spec"]["template"]["spec"]["containers"][0]["image"] = "todo-backend:edited"
    assert not as_applied(other_image, deployment)
    # A field the object no longer sets was applied before: kubectl must remove it.
    removed = copy.deepcopy(deployment)
    del removed["spec"]["template"]["metadata"]["annotations"]
    assert not as_applied(live, removed)
    unrecorded = copy.deepcopy(live)
    del unrecorded["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert not as_applied(unrecorded, deployment)


def test_a_cluster_holding_what_an_apply_made_gets_nothing_and_an_edited_object_is_sent_again(make_context, tmp_path):
    project(tmp_path)
    cfg = resolve(make_context())
    objects = load_manifests(cfg.manifests)
    live = made(cfg, objects, secret_checksum(make_context({GET_SECRET: secret_answer(ENV)}), cfg))
    scaled = next(obj for obj in live if obj["kind"] == "Deployment")
    answers = {GET_SECRET: secret_answer(ENV), APPLY: ok(), **NO_HELM_RECORDS}
    c = make_context({**answers, LIVE: ok(json.dumps({"items": live}))})
    apply_manifests(c, cfg, planned_images(cfg), objects)
    assert APPLY not in commands_run(c)
    scaled["spec"]["replicas"] = 1
    c = make_context({**answers, LIVE: ok(json.dumps({"items": live}))})
    apply_manifests(c, cfg, planned_images(cfg), objects)
    assert [(obj["kind"], obj["metadata"]["name"]) for obj in streams(c)[0]] == [("Deployment", scaled["metadata"]["name"])]
