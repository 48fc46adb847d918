"""The golden command log of `deploy` per provider and method, first run and no-change re-run.

Each scenario answers exactly the commands a healthy cluster would see; the
strict MockContext fails on any other. Golden files live in fixtures/golden/;
regenerate them on purpose with TODOOPS_UPDATE_GOLDEN=1.
"""
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from invoke import Exit, MockContext

from tests.conftest import commands_run
from tests.unit.fixtures import (ENV, HERE, chart_render, env_text, failed, line, not_found, ok, preflight_ok, project,
                                 release, secret_answer, workloads_answer)
from tests.unit.fixtures.deploy import (POSTGRES, PROVIDERS, SELECTOR, WORKLOADS, answers, built_images, deployed,
                                        kind_load, named_objects)
from tests.unit.fixtures.leaks import CORPUS, leaked
from todoops.config import resolve
from todoops.deploy import apply_release, deploy_release
from todoops.errors import ExitCode
from todoops.images import build, planned_images
from todoops.release import release_objects, secret_checksum, suite_values
from todoops.report import Report

GOLDEN = HERE / "golden"


def golden(name: str, log: list[str], root: Path, folder: Path = GOLDEN) -> None:
    """``log`` (``root`` spelled <root>) must be ``folder/name.log``; TODOOPS_UPDATE_GOLDEN=1 writes it instead."""
    text = "\n".join(log).replace(str(root), "<root>") + "\n"
    path = folder / f"{name}.log"
    if os.environ.get("TODOOPS_UPDATE_GOLDEN"):
        folder.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), (f"{path} is missing: create it on purpose with `TODOOPS_UPDATE_GOLDEN=1 "
                           f".venv/bin/pytest tests/unit/test_deploy.py`, then review and commit it")
    assert text == path.read_text(), f"the command log differs from {path}; if intended, regenerate it"


def test_a_missing_golden_file_fails_and_is_not_written(tmp_path, monkeypatch):
    monkeypatch.delenv("TODOOPS_UPDATE_GOLDEN", raising=False)
    with pytest.raises(AssertionError, match="is missing: create it on purpose with `TODOOPS_UPDATE_GOLDEN=1"):
        golden("deploy-new-provider-first", ["kubectl apply -f -"], tmp_path, folder=tmp_path / "golden")
    assert not (tmp_path / "golden").exists()


def test_deploy_runs_the_documented_steps_in_order(make_context, tmp_path):
    report = Report()
    deployed(make_context, tmp_path, "kind", "helm", first=True, report=report)
    assert [(name, status) for name, _, status in report.timings] == [
        (name, "ok") for name in ("preflight", "namespace", "secrets", "build", "load", "apply", "rollout", "verify")]


@pytest.mark.parametrize("method", ["kubectl", "helm"])
@pytest.mark.parametrize("name", list(PROVIDERS))
def test_golden_first_run(make_context, tmp_path, name, method):
    c = deployed(make_context, tmp_path, name, method, first=True)
    golden(f"deploy-{name}-{method}-first", commands_run(c), tmp_path)


@pytest.mark.parametrize("method", ["kubectl", "helm"])
@pytest.mark.parametrize("name", list(PROVIDERS))
def test_golden_rerun_builds_loads_and_restarts_nothing(make_context, tmp_path, name, method):
    log = commands_run(deployed(make_context, tmp_path, name, method, first=False))
    golden(f"deploy-{name}-{method}-rerun", log, tmp_path)
    assert not [command for command in log if any(word in command for word in (
        "docker build", "image load", "images import", "kind load", "k3d image", "docker push", "rollout restart"))]


def test_dry_run_changes_nothing_and_prints_the_plan(make_context, tmp_path, capsys):
    log = commands_run(deployed(make_context, tmp_path, "containerd", "helm", first=True, dry_run=True))
    assert not [command for command in log if "upgrade" in command or "apply" in command or "import" in command]
    err = capsys.readouterr().err
    assert "[dry-run] helm --kube-context microk8s --namespace todo-app upgrade --install" in err
    assert "[dry-run] env DOCKER_BUILDKIT=0 docker build" in err


def test_failed_rollout_with_helm_is_diagnosed_then_rolled_back(make_context, tmp_path, capsys):
    project(tmp_path)
    config = {**PROVIDERS["containerd"], "method": "helm", "build_jobs": 1}
    cfg = resolve(make_context(**config))
    table = answers(tmp_path, cfg, first=False)
    kubectl = ["kubectl", "--context", cfg.context, "--namespace", cfg.namespace]
    pods = (HERE / "pods-config-error.json").read_text()
    # The upgrade rolls the backend, whose wait fails.
    table.update({line([*kubectl, "get", "deployments,statefulsets", "-l", SELECTOR, "-o", "json"]):
                      workloads_answer(WORKLOADS, rolling=WORKLOADS[:1]),
                  line([*kubectl, "rollout", "status", WORKLOADS[0], "--timeout=5s"]): failed(),
                  line([*kubectl, "get", "pods", "-l", SELECTOR, "-o", "json"]): ok(pods),
                  line([*kubectl, "get", "events", "-o", "json"]): ok((HERE / "events.json").read_text()),
                  line(["helm", "--kube-context", cfg.context, "--namespace", cfg.namespace, "rollback", cfg.release,
                        "1", "--wait", "--timeout", "180s"]): ok()})
    c = make_context(table, **config)
    with pytest.raises(Exit) as error:
        deploy_release(c, resolve(c), Report())
    assert error.value.code == ExitCode.ROLLOUT and "rolled back to revision 1" in error.value.message
    assert "config-error (CreateContainerConfigError) couldn't find key JWT_SECRET" in capsys.readouterr().out
    assert commands_run(c)[-1].endswith("rollback todo-app 1 --wait --timeout 180s")


def test_preflight_failure_changes_nothing(make_context, tmp_path):
    project(tmp_path, {**ENV, "JWT_SECRET": "changeme"})
    config = PROVIDERS["containerd"]
    cfg = resolve(make_context(**config))
    c = make_context(answers(tmp_path, cfg, first=True), **config)
    with pytest.raises(Exit) as error:
        deploy_release(c, resolve(c), Report())
    assert error.value.code == ExitCode.BAD_INPUT
    assert all(command in preflight_ok(cfg.context) for command in commands_run(c))


def test_deploy_never_leaks_a_secret(make_context, tmp_path, capsys):
    project(tmp_path)
    (tmp_path / ".env").write_text(env_text(CORPUS))
    config = {**PROVIDERS["containerd"], "method": "helm", "build_jobs": 1}
    cfg = resolve(make_context(**config))
    c = make_context(answers(tmp_path, cfg, first=True), **config)
    deploy_release(c, resolve(c), Report(json_mode=True))
    out, err = capsys.readouterr()
    assert leaked(out + err) == [] and leaked("\n".join(commands_run(c))) == []
    written = [path for path in tmp_path.rglob("*") if path.is_file() and path.name != ".env"]
    assert all(leaked(path.read_text(errors="replace")) == [] for path in written)


@pytest.mark.parametrize("method", ["kubectl", "helm"])
def test_the_apply_tasks_alone_create_the_namespace_first_on_a_fresh_cluster(make_context, tmp_path, method):
    from todoops.chart import install_chart
    from todoops.manifests import apply

    project(tmp_path)
    cfg = resolve(make_context(method=method))
    kubectl = ["kubectl", "--context", cfg.context, "--namespace", cfg.namespace]
    # The images are built, the namespace (and so nothing in it) is not there yet.
    c = make_context({**answers(tmp_path, cfg, first=False),
                      line([*kubectl, "get", "namespace", cfg.namespace, "-o", "name"]):
                      not_found("namespaces", cfg.namespace), named_objects(kubectl): ok()}, method=method)
    (apply if method == "kubectl" else install_chart)(c)
    log = commands_run(c)
    created = log.index(line([*kubectl, "get", "namespace", cfg.namespace, "-o", "name"])) + 1
    assert log[created] == line([*kubectl, "apply", "-f", "-"])
    assert json.loads(c.run.call_args_list[created].kwargs["in_stream"].getvalue())["kind"] == "Namespace"
    assert any(word in command for command in log[created + 1:] for word in ("upgrade --install", "apply -f -"))


def applied(c, kind: str) -> list[dict]:
    """The objects of ``kind`` that ``c``'s `kubectl apply -f -` commands received on stdin."""
    streams = [call.kwargs["in_stream"].getvalue() for call in c.run.call_args_list
               if call.args[0].endswith("apply -f -")]
    return [obj for text in streams for obj in yaml.safe_load_all(text) if obj and obj["kind"] == kind]


def test_a_secret_changed_by_a_deploy_that_stopped_early_still_restarts_the_pods(make_context, tmp_path):
    # Run 1 applies the changed Secret, then its build fails; run 2 finds the Secret unchanged, and the
    # pods that read it must still roll: the annotation holds what the cluster's Secret holds now.
    project(tmp_path, {**ENV, "OPENAI_MODEL": "gpt-4o"})
    config = {**PROVIDERS["kind"], "build_jobs": 1}
    cfg = resolve(make_context(**config))
    get_secret = line(["kubectl", "--context", cfg.context, "--namespace", cfg.namespace, "get", "secret",
                       cfg.secret_name, "-o", "json"])
    stopped = {**answers(tmp_path, cfg, first=False), get_secret: secret_answer(ENV)}
    for image in planned_images(cfg):
        stopped[line(["docker", "image", "inspect", "--format", "{{.Id}} {{.Size}}", image.ref])] = failed()
        stopped[line(["env", "DOCKER_BUILDKIT=0", "docker", "build", "--force-rm", "-t", image.ref, "-f",
                      str(cfg.root / image.name / "Dockerfile"), str(cfg.root / image.name)])] = failed()
    c = make_context(stopped, **config)
    with pytest.raises(Exit):
        deploy_release(c, resolve(c), Report())
    assert applied(c, "Secret") and not applied(c, "Deployment")
    c = make_context({**answers(tmp_path, cfg, first=False),
                      get_secret: secret_answer({**ENV, "OPENAI_MODEL": "gpt-4o"})}, **config)
    deploy_release(c, resolve(c), Report())
    assert not applied(c, "Secret")
    (backend,) = [obj for obj in applied(c, "Deployment") if obj["metadata"]["name"] == "todo-app-backend"]
    before = secret_checksum(MockContext(run={get_secret: secret_answer(ENV)}), cfg)
    assert backend["spec"]["template"]["metadata"]["annotations"]["checksum/secret"] not in ("", before)


def test_another_release_and_secret_name_are_honoured_by_the_kubectl_path(make_context, tmp_path):
    # k8s/ was rendered for release todo-app and Secret todo-app-secrets: other names render the chart.
    project(tmp_path)
    config = {**PROVIDERS["kind"], "release": "staging", "secret_name": "staging-secrets", "build_jobs": 1}
    cfg = resolve(make_context(**config))
    table = answers(tmp_path, cfg, first=False)
    rendered = chart_render("staging", {"name: todo-app-secrets": "name: staging-secrets"})
    c = make_context({**table, line(["helm", "template", "staging", str(cfg.chart), "--namespace", cfg.namespace,
                                     "--kube-version", "1.34.0", *suite_values(cfg, planned_images(cfg))]): rendered},
                     **config)
    cfg = resolve(c)
    apply_release(c, cfg, build(c, cfg, Report()), release_objects(c, cfg, planned_images(cfg)))
    deployments = applied(c, "Deployment")
    assert {obj["metadata"]["labels"]["app.kubernetes.io/instance"] for obj in deployments} == {"staging"}
    assert "todo-app-secrets" not in json.dumps(deployments) and "staging-secrets" in json.dumps(deployments)


def test_with_helm_external_images_and_ingress_hosts_come_from_the_chart_with_the_user_values(make_context, tmp_path,
                                                                                              capsys):
    project(tmp_path)
    (tmp_path / "prod.yaml").write_text("postgresql:\n  image: postgres:16\ningress:\n  host: todo.example.test\n")
    config = {**PROVIDERS["kind"], "method": "helm", "chart_values": ["prod.yaml"], "build_jobs": 1}
    cfg = resolve(make_context(**config))
    listing = line(["docker", "exec", "dev-control-plane", "ctr", "-n", "k8s.io", "images", "ls", "-q"])
    have = "\n".join(f"docker.io/library/{image.local_ref}" for image in built_images(cfg))
    table = {**answers(tmp_path, cfg, first=False), listing: [ok(have), ok(have + "\ndocker.io/library/postgres:16")],
             line(["docker", "image", "inspect", "postgres:16"]): ok(),
             kind_load("postgres:16"): ok(),
             line(["helm", "template", cfg.release, str(cfg.chart), "--namespace", cfg.namespace, "--kube-version",
                   "1.34.0", *suite_values(cfg, planned_images(cfg))]):
                 chart_render(swaps={"postgres:15": "postgres:16", "todo.local": "todo.example.test"})}
    c = make_context(table, **config)
    deploy_release(c, resolve(c), Report())
    assert kind_load("postgres:16") in commands_run(c)
    assert not [command for command in commands_run(c) if "postgres:15" in command]
    out = capsys.readouterr().out
    assert "http://todo.example.test" in out and "todo.local" not in out


def test_deploy_force_makes_the_cluster_run_the_rebuilt_images(make_context, tmp_path):
    # Same sources, rebuilt: another image ID, so another run tag the cluster lacks: loaded, then rolled out.
    project(tmp_path)
    config = {**PROVIDERS["kind"], "build_jobs": 1}
    cfg = resolve(make_context(**config))
    old, new = built_images(cfg), [replace(image, image_id="sha256:0123456789abcdef") for image in planned_images(cfg)]
    listing = line(["docker", "exec", "dev-control-plane", "ctr", "-n", "k8s.io", "images", "ls", "-q"])
    before = "\n".join(f"docker.io/library/{ref}" for ref in [POSTGRES, *(image.local_ref for image in old)])
    table = {**answers(tmp_path, cfg, first=False),
             listing: [ok(before), ok(before + "".join(f"\ndocker.io/library/{i.local_ref}" for i in new))],
             # After the rollout the pods run the rebuilt images, which verify checks.
             line(["kubectl", "--context", cfg.context, "--namespace", cfg.namespace, "get",
                   "deployments,statefulsets,pods,services,endpointslices,ingresses", "-l", SELECTOR, "-o", "json"]):
                 ok(json.dumps(release(new)))}
    for image in new:
        table[line(["docker", "image", "inspect", "--format", "{{.Id}} {{.Size}}", image.ref])] = ok(
            f"{image.image_id} 150000000")
        table[line(["docker", "image", "inspect", "--format", "{{.Id}}", image.local_ref])] = failed()
        table[line(["docker", "tag", image.ref, image.local_ref])] = ok()
        table[kind_load(image.local_ref)] = ok()
    c = make_context(table, **config)
    deploy_release(c, resolve(c), Report(), force=True)
    log = commands_run(c)
    assert [command for command in log if command.startswith("kind load")] == [
        kind_load(image.local_ref) for image in new]
    running = {container["image"] for obj in applied(c, "Deployment")
               for container in obj["spec"]["template"]["spec"]["containers"]}
    assert running == {image.cluster_ref for image in new} and not running & {image.cluster_ref for image in old}



def test_the_summary_offers_no_ingress_that_no_controller_serves(make_context, tmp_path, capsys):
    # minikube with the ingress addon disabled: preflight warns, and the summary must not offer it.
    project(tmp_path)
    cfg = resolve(make_context())
    disabled = json.dumps({"ingress": {"Profile": "minikube", "Status": "disabled"}})
    kubectl = ["kubectl", "--context", cfg.context, "--namespace", cfg.namespace]
    c = make_context({**answers(tmp_path, cfg, first=False),
                      line(["minikube", "-p", "minikube", "addons", "list", "--output", "json"]): ok(disabled),
                      line([*kubectl, "get", "ingressclasses", "-o", "name"]): ok("")})
    deploy_release(c, resolve(c), Report())
    out = capsys.readouterr().out
    assert "http://todo.local" not in out and "invoke app.port-forward --context minikube" in out
    assert "no controller serves class nginx" in out and "minikube -p minikube addons enable ingress" in out


def test_prepare_secrets_makes_the_namespace_in_its_own_step_before_the_secret(make_context, tmp_path, capsys):
    from todoops.deploy import prepare_secrets

    project(tmp_path)
    kubectl = ["kubectl", "--context", "minikube", "--namespace", "todo-app"]
    get_namespace, get_secret = (line([*kubectl, "get", "namespace", "todo-app", "-o", "name"]),
                                 line([*kubectl, "get", "secret", "todo-app-secrets", "-o", "json"]))
    c = make_context({**preflight_ok(), get_namespace: not_found("namespaces", "todo-app"),
                      get_secret: not_found("secrets", "todo-app-secrets"), line([*kubectl, "apply", "-f", "-"]): ok()})
    prepare_secrets(c)
    log = commands_run(c)
    assert log[log.index(get_namespace):] == [get_namespace, line([*kubectl, "apply", "-f", "-"]), get_secret,
                                              line([*kubectl, "apply", "-f", "-"])]
    assert [obj["kind"] for obj in applied(c, "Namespace") + applied(c, "Secret")] == ["Namespace", "Secret"]
    out = capsys.readouterr().out
    assert "namespace todo-app created" in out and "Secret todo-app-secrets created (2 keys)" in out


def test_prepare_secrets_with_a_bad_env_creates_no_namespace(make_context, tmp_path):
    from todoops.deploy import prepare_secrets

    project(tmp_path, {**ENV, "JWT_SECRET": "changeme"})
    c = make_context(preflight_ok())
    with pytest.raises(Exit) as error:
        prepare_secrets(c)
    assert error.value.code == ExitCode.BAD_INPUT and "JWT_SECRET is a placeholder" in error.value.message
    assert all(command in preflight_ok() for command in commands_run(c))
