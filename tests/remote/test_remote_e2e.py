"""The suite over SSH against the kind cluster of tests/e2e; this machine is the remote.

The test sshd hands its sessions the cluster's KUBECONFIG and a PATH holding
kind and helm (SetEnv), as a real remote's login environment would.
"""
import base64
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from invoke import Context

from tests.conftest import context_config
from tests.e2e.conftest import e2e_cluster, kube, namespace  # noqa: F401 (fixtures)
from tests.e2e.todoapp import tool_path
from tests.remote.conftest import ssh_settings, start_sshd, stop
from tests.remote.observed import SECRET, process_snapshots, tree
from todoops import preflight, remote, secrets
from todoops.config import resolve
from todoops.redaction import spellings
from todoops.report import Report

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
INVOKE = Path(sys.executable).with_name("invoke")


@pytest.fixture(scope="module")
def cluster_sshd(e2e_cluster, tmp_path_factory):  # noqa: F811 (the fixture imported above)
    server, process = start_sshd(tmp_path_factory.mktemp("cluster-sshd"),
                                 env={"KUBECONFIG": e2e_cluster.kubeconfig, "PATH": tool_path()})
    yield server
    stop(process)


def e2e_settings(e2e_cluster, server, remote_dir: Path, namespace_name: str = "todo-app") -> dict:  # noqa: F811
    return {"context": e2e_cluster.context, "provider": "kind", "namespace": namespace_name,
            "host": server.target, "ssh": ssh_settings(server, remote_dir)}


def test_doctor_over_ssh_reaches_the_cluster(e2e_cluster, cluster_sshd, tmp_path):  # noqa: F811
    cfg = resolve(Context(config=context_config(ROOT, **e2e_settings(e2e_cluster, cluster_sshd, tmp_path / "rw"))))
    with remote.on_host(Context(), cfg) as c:
        checks, _ = preflight.gather(c, cfg)
    verdicts = {check.name: check.status for check in checks}
    assert verdicts["kubectl"] == verdicts["context"] == verdicts["cluster"] == "ok", checks


def test_prepare_secrets_over_ssh_leaves_no_trace(e2e_cluster, cluster_sshd, namespace, tmp_path, capfd):  # noqa: F811
    env_file = tmp_path / "secrets.env"
    env_file.write_text(f"JWT_SECRET={SECRET}-and-longer\nPOSTGRES_PASSWORD={SECRET}\nDATABASE_URL=\n"
                        "OPENAI_API_KEY=\nOPENAI_BASE_URL=\nOPENAI_MODEL=\n")
    remote_dir = tmp_path / "rw"
    cfg = resolve(Context(config=context_config(
        ROOT, **e2e_settings(e2e_cluster, cluster_sshd, remote_dir, namespace.namespace))))
    with process_snapshots() as snapshots, remote.on_host(Context(), cfg) as c:
        secrets.prepare(c, cfg, Report(), env_file=env_file)
    data = json.loads(namespace.run("get", "secret", cfg.secret_name, "-o", "json"))["data"]
    assert base64.b64decode(data["POSTGRES_PASSWORD"]).decode() == SECRET
    history = cluster_sshd.history.read_text() if cluster_sshd.history.exists() else ""
    seen = "\n".join(snapshots) + history + "".join(capfd.readouterr())
    assert not [form for form in spellings(SECRET) if form in seen]
    # The Secret needs no project files, so nothing was synced (and no file can hold it).
    assert tree(remote_dir) == {}


def _invoke(env: dict, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([str(INVOKE), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"invoke {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def test_deploy_validate_clean_over_ssh(e2e_cluster, cluster_sshd, kube, tmp_path):  # noqa: F811
    remote_dir = tmp_path / "rw"
    env_file = tmp_path / "app.env"
    env_file.write_text("JWT_SECRET=\nPOSTGRES_PASSWORD=\nDATABASE_URL=\nOPENAI_API_KEY=\nOPENAI_BASE_URL=\n"
                        "OPENAI_MODEL=\n")
    name = f"e2e-ssh-{os.getpid()}"
    settings = e2e_settings(e2e_cluster, cluster_sshd, remote_dir, name)
    env = {**os.environ, "INVOKE_TODOOPS_CONTEXT": settings["context"], "INVOKE_TODOOPS_PROVIDER": "kind",
           "INVOKE_TODOOPS_NAMESPACE": name, "INVOKE_TODOOPS_HOST": cluster_sshd.target,
           "INVOKE_TODOOPS_ENV_FILE": str(env_file),
           **{f"INVOKE_TODOOPS_SSH_{key.upper()}": value for key, value in settings["ssh"].items()}}
    try:
        _invoke(env, "prepare-secrets")
        # --force: the build runs on the remote even when an earlier run made these content tags,
        # so the lazy sync of the build contexts certainly happens.
        deployed = _invoke(env, "deploy", "--force")
        _invoke(env, "validate")
        _invoke(env, "clean", "--yes")
        _invoke(env, "clean", "--yes")
    finally:
        kube.run("delete", "namespace", name, "--ignore-not-found", "--wait=false")
    assert f"[{cluster_sshd.target}] " in deployed.stdout + deployed.stderr
    # The images were built from the synced copy, which holds no .env.
    assert "backend/Dockerfile" in tree(remote_dir) and ".env" not in tree(remote_dir)


def test_deploy_dry_run_over_ssh_changes_nothing(e2e_cluster, cluster_sshd, kube, tmp_path, capfd):  # noqa: F811
    from todoops import deploy

    env_file = tmp_path / "app.env"
    env_file.write_text("JWT_SECRET=\nPOSTGRES_PASSWORD=\nDATABASE_URL=\nOPENAI_API_KEY=\nOPENAI_BASE_URL=\n"
                        "OPENAI_MODEL=\n")
    remote_dir = tmp_path / "rw"
    name = f"e2e-ssh-dry-{os.getpid()}"
    settings = {**e2e_settings(e2e_cluster, cluster_sshd, remote_dir, name), "env_file": str(env_file)}
    cfg = replace(resolve(Context(config=context_config(ROOT, **settings))), dry_run=True)
    with remote.on_host(Context(), cfg) as c:
        deploy.deploy_release(c, cfg, Report())
    err = capfd.readouterr().err
    assert f"[{cluster_sshd.target}] [dry-run] kubectl --context" in err
    assert not kube.run("get", "namespace", name, "--ignore-not-found", "-o", "name").strip()
    assert not remote_dir.exists()
