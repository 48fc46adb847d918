"""The golden command log of `deploy` per provider and method, first run and no-change re-run.

Each scenario answers exactly the commands a healthy cluster would see; the
strict MockContext fails on any other. Golden files live in fixtures/golden/;
regenerate them on purpose with TODOOPS_UPDATE_GOLDEN=1.
"""
import json
import os
import re
from dataclasses import replace

import pytest
import yaml
from invoke import Exit, MockContext

from tests.conftest import commands_run
from tests.unit.fixtures import (ENV, HERE, chart_render, env_text, failed, http_lines, line, not_found, ok,
                                 preflight_ok, project, release, release_not_found, secret_answer)
from tests.unit.fixtures.leaks import CORPUS, leaked
from todoops.config import resolve
from todoops.deploy import STEPS, Deploy, deploy_release
from todoops.errors import ExitCode
from todoops.images import BuiltImage, planned_images
from todoops.release import secret_checksum, suite_values
from todoops.report import Report

GOLDEN = HERE / "golden"
ADDRESS = "/run/e2e/containerd.sock"
PROVIDERS = {
    "minikube": {},
    "minikube-build-in-cluster": {"build_in_cluster": True},
    "kind": {"context": "kind-dev", "provider": "kind"},
    "k3d": {"context": "k3d-todo", "provider": "k3d"},
    "docker-desktop": {"context": "docker-desktop", "provider": "docker-desktop"},
    "containerd": {"context": "todoops-e2e", "provider": "containerd", "containerd": {"address": ADDRESS}},
    "registry": {"context": "staging", "provider": "registry", "registry": "registry.internal:5000/todo"},
}
DOCKER_ENV = ("DOCKER_TLS_VERIFY=1", "DOCKER_HOST=tcp://192.168.49.2:2376", "DOCKER_CERT_PATH=/root/.minikube/certs")
POSTGRES = "postgres:15"
WORKLOADS = ("deployment.apps/todo-app-backend", "deployment.apps/todo-app-frontend",
             "statefulset.apps/todo-app-postgresql")
SELECTOR = "app.kubernetes.io/part-of=todo-app,app.kubernetes.io/instance=todo-app"


def listing_and_loads(cfg, ref: str, remote: str) -> tuple[list[str] | None, list[str]]:
    """The provider's image listing command and the commands loading ``ref``."""
    ctr = ["ctr", "--address", ADDRESS, "-n", "k8s.io"]
    return {
        "minikube": (["minikube", "-p", cfg.context, "image", "ls"], [line(["minikube", "-p", cfg.context, "image",
                                                                             "load", ref])]),
        "kind": (["docker", "exec", "dev-control-plane", "ctr", "-n", "k8s.io", "images", "ls", "-q"],
                 [line(["kind", "load", "docker-image", ref, "--name", "dev"])]),
        "k3d": (["docker", "exec", "k3d-todo-server-0", "ctr", "-n", "k8s.io", "images", "ls", "-q"],
                [line(["k3d", "image", "import", ref, "--cluster", "todo"])]),
        "containerd": ([*ctr, "images", "ls", "-q"],
                       [f"set -o pipefail; docker save {ref} | {line([*ctr, 'images', 'import', '-'])}"]),
        "docker-desktop": (None, []),
        "registry": (None, [line(["docker", "tag", ref, remote]), line(["docker", "push", remote])]),
    }[cfg.provider]


def built_images(cfg) -> list[BuiltImage]:
    """The images as docker has them once built (an image ID of their own, so another run tag than the content's)."""
    return [replace(image, image_id=f"sha256:{image.tag[::-1]}") for image in planned_images(cfg)]


def answers(tmp_path, cfg, first: bool) -> dict:
    """What a healthy cluster answers, before anything was deployed (first) or after (re-run)."""
    kubectl = ["kubectl", "--context", cfg.context, "--namespace", cfg.namespace]
    helm = ["helm", "--kube-context", cfg.context, "--namespace", cfg.namespace]
    images = built_images(cfg)
    docker = ["env", *DOCKER_ENV, "docker"] if cfg.build_in_cluster else ["docker"]
    get_secret = line([*kubectl, "get", "secret", cfg.secret_name, "-o", "json"])
    result = {**preflight_ok(cfg.context),
              # The secrets step reads it first, the apply step (for its checksum) after it was applied.
              get_secret: [not_found("secrets", cfg.secret_name), secret_answer(ENV)] if first else secret_answer(ENV),
              # The namespace step creates it; the secrets step then finds it.
              line([*kubectl, "get", "namespace", cfg.namespace, "-o", "name"]):
                  [not_found("namespaces", cfg.namespace), ok()] if first else ok(),
              line([*kubectl, "apply", "-f", "-"]): ok(),
              # Nothing of a deploy with the other --method is there (test_chart.py pins the switch).
              line([*kubectl, "get", "secrets", "-l", f"owner=helm,name={cfg.release}", "-o", "name"]): ok(),
              re.compile(re.escape(line([*kubectl, "get"])) + r" \S+/.* --ignore-not-found -o json"): ok(),
              line(["minikube", "-p", "minikube", "docker-env", "--shell", "none"]): ok("\n".join(DOCKER_ENV)),
              line([*docker, "buildx", "version"]): failed(),
              line(["docker", "image", "inspect", POSTGRES]): ok(),
              line([*helm, "status", cfg.release, "-o", "json"]):
                  release_not_found() if first else ok(json.dumps({"info": {"status": "deployed"}, "version": 1})),
              line([*kubectl, "get", "deployments,statefulsets", "-l", SELECTOR, "-o", "name"]): ok("\n".join(WORKLOADS)),
              line([*kubectl, "get", "deployments,statefulsets,pods,services,endpointslices,ingresses", "-l",
                    SELECTOR, "-o", "json"]): ok(json.dumps(release(images))),
              **{command: ok("ok") for command in http_lines(kubectl)},
              line([*kubectl, "get", "ingressclasses", "-o", "name"]): ok("ingressclass.networking.k8s.io/nginx\n"),
              **{line([*kubectl, "rollout", "status", name, "--timeout=5s"]): ok() for name in WORKLOADS}}
    for image in images:
        built = ok(f"{image.image_id} 150000000")
        result[line([*docker, "image", "inspect", "--format", "{{.Id}} {{.Size}}", image.ref])] = \
            [failed(), built] if first else built
        result[line([*docker, "image", "inspect", "--format", "{{.Id}}", image.local_ref])] = \
            failed() if first else ok(image.image_id)
        result[line([*docker, "tag", image.ref, image.local_ref])] = ok()
        context = cfg.root / image.name
        result[line(["env", *DOCKER_ENV * cfg.build_in_cluster, "DOCKER_BUILDKIT=0", "docker", "build", "--force-rm",
                     "-t", image.ref, "-f", str(context / "Dockerfile"), str(context)])] = ok()
        listing, loads = listing_and_loads(cfg, image.local_ref, image.cluster_ref)
        result.update({command: ok() for command in loads})
        result[line(["docker", "manifest", "inspect", image.cluster_ref])] = [failed(), ok()] if first else ok()
    checksum = secret_checksum(MockContext(run={get_secret: secret_answer(ENV)}), cfg)
    # The golden logs pin these two lines; building them from suite_values keeps one spelling of the values.
    result[line([*helm, "upgrade", "--install", cfg.release, str(cfg.chart),
                 *suite_values(cfg, images, checksum)])] = ok()
    result[line(["helm", "template", cfg.release, str(cfg.chart), "--namespace", cfg.namespace, "--kube-version",
                 "1.34.0", *suite_values(cfg, planned_images(cfg))])] = chart_render(cfg.release)
    # `invoke chart.install` alone renders the chart with the images docker has (to adopt kubectl's objects).
    result[line(["helm", "template", cfg.release, str(cfg.chart), "--namespace", cfg.namespace, "--kube-version",
                 "1.34.0", *suite_values(cfg, images)])] = chart_render(cfg.release)
    listing, loads = listing_and_loads(cfg, POSTGRES, POSTGRES)
    result.update({command: ok() for command in loads})
    if listing:
        ours = "\n".join(f"docker.io/library/{image.local_ref}" for image in images)
        everything = f"docker.io/library/{POSTGRES}\n{ours}"
        # What was built in minikube's daemon is there at once; postgres is not.
        before = ok(ours) if cfg.build_in_cluster else ok("")
        result[line(listing)] = [before, ok(everything)] if first else ok(everything)
    return result


def deployed(make_context, tmp_path, name: str, method: str, first: bool, dry_run: bool = False):
    project(tmp_path)
    config = {**PROVIDERS[name], "method": method, "build_jobs": 1}
    cfg = resolve(make_context(**config), context_explicit=True)
    c = make_context(answers(tmp_path, cfg, first), **config)
    cfg = resolve(c, context_explicit=name == "registry", dry_run=dry_run)
    deploy_release(c, cfg, Report(), Deploy())
    return c


def golden(name: str, log: list[str], root) -> None:
    text = "\n".join(log).replace(str(root), "<root>") + "\n"
    path = GOLDEN / f"{name}.log"
    if os.environ.get("TODOOPS_UPDATE_GOLDEN") or not path.exists():
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"the command log differs from {path}; if intended, regenerate it"


def test_deploy_is_the_documented_sequence():
    assert [name for name, _ in STEPS] == ["preflight", "namespace", "secrets", "build", "load", "apply", "rollout",
                                           "verify"]


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
    assert "[dry-run] helm --kube-context todoops-e2e --namespace todo-app upgrade --install" in err
    assert "[dry-run] env DOCKER_BUILDKIT=0 docker build" in err


def test_failed_rollout_with_helm_is_diagnosed_then_rolled_back(make_context, tmp_path, capsys):
    project(tmp_path)
    config = {**PROVIDERS["containerd"], "method": "helm", "build_jobs": 1}
    cfg = resolve(make_context(**config))
    table = answers(tmp_path, cfg, first=False)
    kubectl = ["kubectl", "--context", cfg.context, "--namespace", cfg.namespace]
    pods = (HERE / "pods-config-error.json").read_text()
    table.update({line([*kubectl, "rollout", "status", WORKLOADS[0], "--timeout=5s"]): failed(),
                  line([*kubectl, "get", "pods", "-l", SELECTOR, "-o", "json"]): ok(pods),
                  line([*kubectl, "get", "events", "-o", "json"]): ok((HERE / "events.json").read_text()),
                  line(["helm", "--kube-context", cfg.context, "--namespace", cfg.namespace, "rollback", cfg.release,
                        "1", "--wait", "--timeout", "180s"]): ok()})
    c = make_context(table, **config)
    with pytest.raises(Exit) as error:
        deploy_release(c, resolve(c), Report(), Deploy())
    assert error.value.code == ExitCode.ROLLOUT and "rolled back to revision 1" in error.value.message
    assert "config-error (CreateContainerConfigError) couldn't find key JWT_SECRET" in capsys.readouterr().out
    assert commands_run(c)[-1].endswith("rollback todo-app 1 --wait --timeout 180s")


def test_preflight_failure_changes_nothing(make_context, tmp_path):
    project(tmp_path, {**ENV, "JWT_SECRET": "changeme"})
    config = PROVIDERS["containerd"]
    cfg = resolve(make_context(**config))
    c = make_context(answers(tmp_path, cfg, first=True), **config)
    with pytest.raises(Exit) as error:
        deploy_release(c, resolve(c), Report(), Deploy())
    assert error.value.code == ExitCode.BAD_INPUT
    assert all(command in preflight_ok(cfg.context) for command in commands_run(c))


def test_deploy_never_leaks_a_secret(make_context, tmp_path, capsys):
    project(tmp_path)
    (tmp_path / ".env").write_text(env_text(CORPUS))
    config = {**PROVIDERS["containerd"], "method": "helm", "build_jobs": 1}
    cfg = resolve(make_context(**config))
    c = make_context(answers(tmp_path, cfg, first=True), **config)
    deploy_release(c, resolve(c), Report(json_mode=True), Deploy())
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
    # The images are built, the namespace is not there yet.
    c = make_context({**answers(tmp_path, cfg, first=False),
                      line([*kubectl, "get", "namespace", cfg.namespace, "-o", "name"]):
                      not_found("namespaces", cfg.namespace)}, method=method)
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
        deploy_release(c, resolve(c), Report(), Deploy())
    assert applied(c, "Secret") and not applied(c, "Deployment")
    c = make_context({**answers(tmp_path, cfg, first=False),
                      get_secret: secret_answer({**ENV, "OPENAI_MODEL": "gpt-4o"})}, **config)
    deploy_release(c, resolve(c), Report(), Deploy())
    assert not applied(c, "Secret")
    (backend,) = [obj for obj in applied(c, "Deployment") if obj["metadata"]["name"] == "todo-app-backend"]
    before = secret_checksum(MockContext(run={get_secret: secret_answer(ENV)}), cfg)
    assert backend["spec"]["template"]["metadata"]["annotations"]["checksum/secret"] not in ("", before)


def steps_until(c, cfg, last: str) -> Deploy:
    """Run deploy's steps up to and including ``last``; the state they hand on."""
    state, report = Deploy(), Report()
    for name, step in STEPS:
        step(c, cfg, report, state)
        if name == last:
            return state


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
    steps_until(c, resolve(c), "apply")
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
             line(["kind", "load", "docker-image", "postgres:16", "--name", "dev"]): ok(),
             line(["helm", "template", cfg.release, str(cfg.chart), "--namespace", cfg.namespace, "--kube-version",
                   "1.34.0", *suite_values(cfg, planned_images(cfg))]):
                 chart_render(swaps={"postgres:15": "postgres:16", "todo.local": "todo.example.test"})}
    c = make_context(table, **config)
    deploy_release(c, resolve(c), Report(), Deploy())
    assert line(["kind", "load", "docker-image", "postgres:16", "--name", "dev"]) in commands_run(c)
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
        table[line(["kind", "load", "docker-image", image.local_ref, "--name", "dev"])] = ok()
    c = make_context(table, **config)
    deploy_release(c, resolve(c), Report(), Deploy(force=True))
    log = commands_run(c)
    assert [command for command in log if command.startswith("kind load")] == [
        line(["kind", "load", "docker-image", image.local_ref, "--name", "dev"]) for image in new]
    running = {container["image"] for obj in applied(c, "Deployment")
               for container in obj["spec"]["template"]["spec"]["containers"]}
    assert running == {image.cluster_ref for image in new} and not running & {image.cluster_ref for image in old}



def test_the_summary_offers_no_ingress_that_no_controller_serves(make_context, tmp_path, capsys):
    # minikube with the ingress addon disabled (issue 15): preflight warns, and the summary must not offer it.
    project(tmp_path)
    cfg = resolve(make_context())
    disabled = json.dumps({"ingress": {"Profile": "minikube", "Status": "disabled"}})
    kubectl = ["kubectl", "--context", cfg.context, "--namespace", cfg.namespace]
    c = make_context({**answers(tmp_path, cfg, first=False),
                      line(["minikube", "-p", "minikube", "addons", "list", "--output", "json"]): ok(disabled),
                      line([*kubectl, "get", "ingressclasses", "-o", "name"]): ok("")})
    deploy_release(c, resolve(c), Report(), Deploy())
    out = capsys.readouterr().out
    assert "http://todo.local" not in out and "invoke app.port-forward --context minikube" in out
    assert "no controller serves class nginx" in out and "minikube -p minikube addons enable ingress" in out
