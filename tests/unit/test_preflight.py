import json
import re

import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import ENV, MINIKUBE_PROFILES, failed, line, ok, preflight_ok, project
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.preflight import (addon_enabled, context_checks, doctor, gather, looks_local, needed_tools, preflight,
                               provider_of, require_cluster, target)
from todoops.report import Report
from todoops.status import status as k8s_status
from todoops.validate import validate

E2E = {"context": "microk8s", "provider": "containerd", "containerd": {"address": "/run/e2e/containerd.sock"}}
def KIND_NODES(name):  # noqa: N802 (reads like the constant command it is)
    return ["docker", "ps", "--all", "--filter", f"label=io.x-k8s.kind.cluster={name}", "--format",
            "{{.Names}} {{.State}}"]


MUTATING = ("apply", "delete", "build", "load", "import", "push", "upgrade", "install")


def run_preflight(c, **flags):
    return preflight(c, resolve(c, **flags), Report())


def assert_nothing_changed(c):
    assert not [command for command in commands_run(c) if any(word in command.split() for word in MUTATING)]


def test_tools_follow_provider_and_method(make_context):
    assert needed_tools(resolve(make_context())) == ["docker", "kubectl", "minikube"]
    assert needed_tools(resolve(make_context(method="helm", provider="containerd"))) == [
        "docker", "kubectl", "helm", "ctr"]
    assert needed_tools(resolve(make_context(provider="registry"))) == ["docker", "kubectl"]


def test_healthy_minikube_passes_and_reports_the_driver(make_context, tmp_path):
    project(tmp_path)
    c = make_context(preflight_ok())
    assert run_preflight(c) == "docker"
    assert_nothing_changed(c)


def test_healthy_e2e_cluster_passes(make_context, tmp_path):
    project(tmp_path)
    c = make_context(preflight_ok("microk8s"), **E2E)
    assert run_preflight(c) == ""
    assert line(["ctr", "--address", "/run/e2e/containerd.sock", "version"]) in commands_run(c)


@pytest.mark.parametrize(("context", "local"), [
    ("minikube", True), ("kind-dev", True), ("k3d-todo", True), ("docker-desktop", True), ("microk8s", True),
    ("gke_prod_europe-west1_main", False), ("arn:aws:eks:eu-west-1:1:cluster/prod", False)])
def test_local_context_patterns(make_context, context, local):
    assert looks_local(resolve(make_context(context=context))) is local


def test_non_local_context_is_refused_unless_named_explicitly(make_context, tmp_path):
    project(tmp_path)
    answers = preflight_ok("some-remote-prod")
    c = make_context(answers, context="some-remote-prod")
    with pytest.raises(Exit) as error:
        run_preflight(c)
    assert error.value.code == ExitCode.PREFLIGHT
    assert "does not look like a local cluster" in error.value.message
    assert "--context some-remote-prod" in error.value.message
    assert line(["kubectl", "--context", "some-remote-prod", "get", "--raw", "/readyz", "--request-timeout",
                 "5s"]) not in commands_run(c)
    checks = context_checks(c, resolve(c, context="some-remote-prod", context_explicit=True))
    assert [check.status for check in checks] == ["ok", "ok"]


def test_unknown_context(make_context, tmp_path):
    project(tmp_path)
    c = make_context(preflight_ok(), context="kind-missing")
    with pytest.raises(Exit) as error:
        run_preflight(c)
    assert "'kind-missing' is not in your kubeconfig" in error.value.message


def test_cluster_unreachable_is_its_own_exit_code(make_context, tmp_path):
    project(tmp_path)
    answers = preflight_ok("kind-dev")
    answers[line(["kubectl", "--context", "kind-dev", "get", "--raw", "/readyz", "--request-timeout", "5s"])] = \
        failed(stderr="connection refused")
    answers[line(KIND_NODES("dev"))] = ok("")
    c = make_context(answers, context="kind-dev", provider="kind")
    with pytest.raises(Exit) as error:
        run_preflight(c)
    assert error.value.code == ExitCode.UNREACHABLE
    assert "kind create cluster --name dev" in error.value.message


def test_missing_tools_daemon_down_and_bad_env_are_reported_together(make_context, tmp_path):
    project(tmp_path, {**ENV, "JWT_SECRET": "changeme"})
    answers = preflight_ok()
    answers[line(["minikube", "version", "--short"])] = failed(exited=127)
    answers[line(["docker", "info", "--format", "{{.ServerVersion}}"])] = failed(stderr="Cannot connect")
    c = make_context(answers)
    with pytest.raises(Exit) as error:
        run_preflight(c)
    message = error.value.message
    assert error.value.code == ExitCode.PREFLIGHT
    for expected in ("minikube: not installed", "docker daemon: does not answer", "dockerd",
                     "JWT_SECRET is a placeholder", "nothing was changed"):
        assert expected in message
    assert_nothing_changed(c)


def test_too_old_tool(make_context, tmp_path):
    project(tmp_path)
    answers = preflight_ok()
    answers[line(["kubectl", "version", "--client"])] = ok("Client Version: v1.20.0")
    c = make_context(answers)
    with pytest.raises(Exit) as error:
        run_preflight(c)
    assert "kubectl: 1.20.0 is too old" in error.value.message and "1.27 or newer" in error.value.message


def test_only_bad_env_is_bad_input(make_context, tmp_path):
    project(tmp_path, {**ENV, "POSTGRES_PASSWORD": "short-pass"})
    c = make_context(preflight_ok())
    with pytest.raises(Exit) as error:
        run_preflight(c)
    assert error.value.code == ExitCode.BAD_INPUT


def test_minikube_stopped(make_context, tmp_path):
    project(tmp_path)
    answers = preflight_ok()
    answers[line(["minikube", "-p", "minikube", "status", "--format", "{{.Host}}"])] = failed(exited=7,
                                                                                               stdout="Stopped")
    c = make_context(answers)
    with pytest.raises(Exit) as error:
        run_preflight(c)
    assert error.value.code == ExitCode.UNREACHABLE and "minikube start -p minikube" in error.value.message


def test_containerd_down_and_registry_without_address(make_context, tmp_path):
    project(tmp_path)
    answers = preflight_ok("microk8s")
    answers[line(["ctr", "--address", "/run/e2e/containerd.sock", "version"])] = failed()
    c = make_context(answers, **E2E)
    checks, _ = gather(c, resolve(c))
    assert [check.detail for check in checks if check.status == "fail"] == [
        "no answer at /run/e2e/containerd.sock"]
    # The hint names the setting the suite reads, not the retired e2e harness.
    [hint] = [check.hint for check in checks if check.status == "fail"]
    assert "todoops.containerd.address" in hint and "harness" not in hint
    c = make_context(preflight_ok(), provider="registry")
    checks, _ = gather(c, resolve(c))
    assert [check.name for check in checks if check.status == "fail"] == ["registry"]


def test_missing_sources(make_context, tmp_path):
    c = make_context(preflight_ok(), method="helm")
    (tmp_path / "helm" / "todo-app" / "Chart.yaml").unlink()
    checks, _ = gather(c, resolve(c))
    failing = {check.name: check.detail for check in checks if check.status == "fail"}
    assert "does not exist" in failing["env"] and "no Dockerfile" in failing["backend image"]
    assert failing["helm"].endswith("helm/todo-app/Chart.yaml does not exist")
    assert "k8s/ holds no manifest" in failing["consistency"]


@pytest.mark.parametrize("namespace", ["Todo_App", "-todo", "a" * 64])
def test_bad_namespace_is_refused_before_anything_runs(make_context, namespace):
    c = make_context()
    with pytest.raises(Exit) as error:
        resolve(c, namespace=namespace)
    assert error.value.code == ExitCode.BAD_INPUT and "not a DNS label" in error.value.message


def test_ingress_addon_parsing():
    assert addon_enabled(json.dumps({"ingress": {"Status": "enabled"}}), "ingress")
    assert not addon_enabled(json.dumps({"ingress": {"Status": "disabled"}}), "ingress")
    assert not addon_enabled("not json", "ingress")


def test_doctor_prints_every_check_as_json(make_context, tmp_path, capsys):
    project(tmp_path)
    answers = preflight_ok()
    answers[line(["minikube", "-p", "minikube", "addons", "list", "--output", "json"])] = ok("{}")
    doctor(make_context(answers), json=True)
    checks = {check["name"]: check for check in json.loads(capsys.readouterr().out)}
    assert checks["ingress addon"]["status"] == "warn"
    assert checks["kubectl"]["detail"] == "1.32.4" and checks["env"]["status"] == "ok"


def test_a_context_name_with_spaces_is_found(make_context):
    named = "team cluster (dev)"
    answers = {line(["kubectl", "config", "get-contexts", "-o", "name"]): ok(f"minikube\n{named}\n"),
               line(["kubectl", "--context", named, "get", "--raw", "/readyz", "--request-timeout", "5s"]): ok("ok")}
    checks = context_checks(make_context(answers), resolve(make_context(), context=named, context_explicit=True))
    assert [check.status for check in checks] == ["ok", "ok"]


@pytest.mark.parametrize("task", [doctor, validate, k8s_status])
@pytest.mark.parametrize(("context", "code"), [("kind-missing", ExitCode.PREFLIGHT),
                                               ("some-remote-prod", ExitCode.PREFLIGHT)])
def test_the_context_guard_has_one_exit_code_in_every_task(make_context, tmp_path, task, context, code):
    project(tmp_path)
    # validate looks at this machine's images first; none are built here.
    answers = {**preflight_ok(), re.compile(r"docker image inspect .*"): failed(),
               line(KIND_NODES("missing")): ok("")}
    with pytest.raises(Exit) as error:
        task(make_context(answers, context=context))
    assert error.value.code == code


def test_doctor_json_names_env_lines_never_their_content(make_context, tmp_path, capsys):
    project(tmp_path, None)
    (tmp_path / ".env").write_text(f"JWT_SECRET={ENV['JWT_SECRET']}\nKq2wrapped-rest-of-a-secret-Lm9x\n")
    with pytest.raises(Exit) as error:
        doctor(make_context(preflight_ok()), json=True)
    out, err = capsys.readouterr()
    env = [check for check in json.loads(out) if check["name"] == "env"]
    assert [check["detail"] for check in env] == [
        ".env line 2 is not KEY=VALUE: fix the quoting or add the '=' (the content is not shown, it may be a secret)"]
    assert "Kq2wrapped" not in out + err + error.value.message


CURRENT = line(["kubectl", "config", "current-context"])


@pytest.mark.parametrize(("context", "provider"), [
    ("kind-todo", "kind"), ("kind-dev", "kind"), ("minikube", "minikube"), ("k3d-todo", "k3d"),
    ("docker-desktop", "docker-desktop"), ("docker-for-desktop", "docker-desktop"),
    ("microk8s", None), ("gke_prod_europe-west1_main", None), ("todo", None)])
def test_the_provider_a_context_name_implies(context, provider):
    assert provider_of(context) == provider


@pytest.mark.parametrize(("current", "provider", "expected"), [
    ("kind-todo", "", ("kind-todo", "current", "kind", "from context")),
    ("minikube", "", ("minikube", "current", "minikube", "from context")),
    ("microk8s", "containerd", ("microk8s", "current", "containerd", "configured")),
])
def test_an_unconfigured_context_follows_the_kubeconfig(make_context, current, provider, expected):
    c = make_context({CURRENT: ok(f"{current}\n")}, context="", provider=provider)
    cfg = target(c, resolve(c))
    assert (cfg.context, cfg.context_from, cfg.provider, cfg.provider_from) == expected
    assert commands_run(c) == [CURRENT]


def test_a_configured_context_is_not_probed_and_implies_the_provider(make_context):
    c = make_context(context="k3d-todo", provider="")
    assert target(c, resolve(c)).provider == "k3d" and commands_run(c) == []


@pytest.mark.parametrize(("answer", "fragment"), [
    (ok("gke_prod_europe-west1_main\n"), "name a provider: --provider or INVOKE_TODOOPS_PROVIDER"),
    (failed(stderr="error: current-context is not set"), "the kubeconfig has no current one"),
    (failed(exited=127), "kubectl is not installed"),
])
def test_a_target_that_cannot_be_told_stops_with_the_fix(make_context, answer, fragment):
    c = make_context({CURRENT: answer}, context="", provider="")
    with pytest.raises(Exit) as error:
        require_cluster(c, resolve(c))
    assert error.value.code == ExitCode.PREFLIGHT and fragment in error.value.message


def test_a_remote_looking_current_context_is_still_refused(make_context, tmp_path):
    answers = {**preflight_ok("gke_prod"), CURRENT: ok("gke_prod\n")}
    c = make_context(answers, context="", provider="registry", registry="registry.internal:5000/todo")
    with pytest.raises(Exit) as error:
        require_cluster(c, resolve(c))
    assert error.value.code == ExitCode.PREFLIGHT and "does not look like a local cluster" in error.value.message


def test_preflight_says_which_cluster_and_provider_and_why(make_context, tmp_path, capsys):
    project(tmp_path)
    c = make_context({**preflight_ok("kind-todo"), CURRENT: ok("kind-todo\n")}, context="", provider="")
    preflight(c, target(c, resolve(c)), Report())
    assert "[info] context kind-todo (current), provider kind (from context)" in capsys.readouterr().out


def test_doctor_without_a_cluster_still_checks_what_it_can(make_context, tmp_path, capsys):
    project(tmp_path)
    c = make_context({**preflight_ok(), CURRENT: failed(stderr="error: current-context is not set")},
                     context="", provider="")
    with pytest.raises(Exit) as error:
        doctor(c, json=True)
    checks = {check["name"]: check["status"] for check in json.loads(capsys.readouterr().out)}
    assert checks == {"docker": "ok", "kubectl": "ok", "context": "fail", "env": "ok"}
    assert error.value.code == ExitCode.PREFLIGHT


def test_a_plain_deploy_after_cluster_up_targets_the_current_kind_cluster(make_context, tmp_path):
    from tests.unit.fixtures.deploy import PROVIDERS, answers
    from todoops.deploy import deploy_release

    project(tmp_path)
    named = {**PROVIDERS["kind"], "method": "kubectl", "build_jobs": 1}
    explicit = make_context(answers(tmp_path, resolve(make_context(**named)), first=True), **named)
    deploy_release(explicit, resolve(explicit), Report())
    table = {**answers(tmp_path, resolve(make_context(**named)), first=True), CURRENT: ok("kind-dev\n")}
    plain = make_context(table, **{**named, "context": "", "provider": ""})
    deploy_release(plain, resolve(plain), Report())
    assert commands_run(plain) == [CURRENT, *commands_run(explicit)]


def test_building_into_minikube_settles_the_provider_first(make_context, monkeypatch):
    from todoops import images

    built = []
    monkeypatch.setattr(images, "build", lambda c, cfg, report, **flags: built.append(cfg))
    c = make_context({CURRENT: ok("minikube\n")}, context="", provider="")
    images.build_images(c, build_in_cluster="true")
    images.build_images(c)
    assert [(cfg.context, cfg.provider) for cfg in built] == [("minikube", "minikube"), ("", "")]


# -- A stopped cluster is not a missing context.

# What minikube v1.38.1 prints after `minikube stop`: the profile is still there, Status Stopped, and
# `minikube stop` has taken its context out of the kubeconfig (get-contexts lists only the others).
MINIKUBE_STOPPED_PROFILES = json.dumps({"invalid": [], "valid": [{
    "Name": "minikube", "Status": "Stopped", "Active": False, "ActiveKubeContext": False,
    "Config": {"Name": "minikube", "Driver": "docker", "KubernetesConfig": {"KubernetesVersion": "v1.34.4",
                                                                             "ContainerRuntime": "containerd"}}}]})
WITHOUT_MINIKUBE = {line(["kubectl", "config", "get-contexts", "-o", "name"]): ok("kind-todo\n"),
                    re.compile(r"docker image inspect .*"): failed()}


def stopped_minikube() -> dict:
    return {**preflight_ok(), **WITHOUT_MINIKUBE,
            line(["minikube", "profile", "list", "-o", "json"]): ok(MINIKUBE_STOPPED_PROFILES),
            line(["minikube", "-p", "minikube", "status", "--format", "{{.Host}}"]): failed(exited=7, stdout="Stopped")}


@pytest.mark.parametrize("task", [run_preflight, doctor, validate, k8s_status])
def test_a_stopped_minikube_is_stopped_with_its_start_command_and_exit_4_in_every_task(make_context, tmp_path,
                                                                                       capsys, task):
    project(tmp_path)
    with pytest.raises(Exit) as error:
        task(make_context(stopped_minikube()))
    # validate shows its checks as a table and sums them up in the message.
    said = error.value.message + capsys.readouterr().out
    assert error.value.code == ExitCode.UNREACHABLE
    assert "minikube profile minikube is stopped (status Stopped)" in said
    assert "start it: minikube start -p minikube" in said
    assert "not in your kubeconfig" not in said


def test_a_context_minikube_does_not_know_is_still_missing(make_context, tmp_path):
    project(tmp_path)
    answers = {**stopped_minikube(), line(["minikube", "profile", "list", "-o", "json"]): ok(MINIKUBE_PROFILES)}
    with pytest.raises(Exit) as error:
        run_preflight(make_context(answers, context="minikube2"))
    assert error.value.code == ExitCode.PREFLIGHT and "'minikube2' is not in your kubeconfig" in error.value.message


def test_a_running_minikube_without_its_context_is_told_to_update_it(make_context, tmp_path):
    project(tmp_path)
    running = MINIKUBE_STOPPED_PROFILES.replace('"Stopped"', '"OK"')
    answers = {**stopped_minikube(), line(["minikube", "profile", "list", "-o", "json"]): ok(running)}
    with pytest.raises(Exit) as error:
        run_preflight(make_context(answers))
    assert error.value.code == ExitCode.PREFLIGHT and "minikube -p minikube update-context" in error.value.message


@pytest.mark.parametrize("in_kubeconfig", [True, False])
def test_a_kind_cluster_whose_node_container_is_stopped(make_context, tmp_path, in_kubeconfig):
    project(tmp_path)
    answers = preflight_ok("kind-dev")
    answers[line(["kubectl", "--context", "kind-dev", "get", "--raw", "/readyz", "--request-timeout", "5s"])] = \
        failed(stderr="The connection to the server 127.0.0.1:40000 was refused")
    if not in_kubeconfig:
        answers[line(["kubectl", "config", "get-contexts", "-o", "name"])] = ok("kind-todo\n")
    answers[line(KIND_NODES("dev"))] = ok("dev-control-plane exited\ndev-worker running\n")
    with pytest.raises(Exit) as error:
        run_preflight(make_context(answers, context="kind-dev", provider="kind"))
    assert error.value.code == ExitCode.UNREACHABLE
    assert "kind cluster dev is stopped (node container(s) dev-control-plane not running)" in error.value.message
    assert "docker start dev-control-plane, or `invoke cluster.up --name dev --nodes 2`" in error.value.message


def test_a_running_kind_cluster_without_its_context_is_told_to_export_it(make_context, tmp_path):
    project(tmp_path)
    answers = {**preflight_ok("kind-dev"), line(["kubectl", "config", "get-contexts", "-o", "name"]): ok("x\n"),
               line(KIND_NODES("dev")): ok("dev-control-plane running\n")}
    with pytest.raises(Exit) as error:
        run_preflight(make_context(answers, context="kind-dev", provider="kind"))
    assert error.value.code == ExitCode.PREFLIGHT and "kind export kubeconfig --name dev" in error.value.message


@pytest.mark.parametrize(("listing", "code", "fragment"), [
    # k3d leaves zero counts out of its JSON: a stopped cluster has no serversRunning.
    ([{"name": "dev", "serversCount": 1, "agentsCount": 0}], ExitCode.UNREACHABLE, "start it: k3d cluster start dev"),
    ([{"name": "dev", "serversCount": 1, "serversRunning": 1}], ExitCode.PREFLIGHT, "k3d kubeconfig merge dev"),
    ([{"name": "other", "serversCount": 1}], ExitCode.PREFLIGHT, "'k3d-dev' is not in your kubeconfig")])
def test_k3d_clusters_the_kubeconfig_lacks(make_context, tmp_path, listing, code, fragment):
    project(tmp_path)
    answers = {**preflight_ok("k3d-dev"), line(["kubectl", "config", "get-contexts", "-o", "name"]): ok("x\n"),
               line(["k3d", "cluster", "list", "-o", "json"]): ok(json.dumps(listing))}
    with pytest.raises(Exit) as error:
        run_preflight(make_context(answers, context="k3d-dev", provider="k3d"))
    assert error.value.code == code and fragment in error.value.message
