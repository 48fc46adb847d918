"""``todoops.dev``: one cycle per change (only what changed is built, loaded and rolled), failures that keep the loop
going, and stopping.

The cluster is the strict MockContext of a deployed release (tests.unit.fixtures.deploy, kind provider, kubectl
method); the watcher is a list of edits, each applied to the project tree just before its batch is handed over.
"""
import re
import signal
import subprocess
import sys
import time

import pytest
import yaml
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import REPO, failed, line, ok, project, workloads_answer
from tests.unit.fixtures.deploy import PROVIDERS, WORKLOADS, answers, built_images, kind_load
from tests.unit.fixtures.processes import gone
from todoops.config import resolve
from todoops.dev import Loop, StopSignals, described, develop, forward_port, status_line
from todoops.processes import Stopped
from todoops.report import Report
from todoops.watch import CHART

CONFIG = {**PROVIDERS["kind"], "build_jobs": 1}
LISTING = line(["docker", "exec", "dev-control-plane", "ctr", "-n", "k8s.io", "images", "ls", "-q"])
LOGS = re.compile(r"^exec kubectl .* logs --follow ")
SOURCE = "backend/app.txt"
SELECTOR = "app.kubernetes.io/part-of=todo-app,app.kubernetes.io/instance=todo-app"
WORKLOADS_LISTING = line(["kubectl", "--context", "kind-dev", "--namespace", "todo-app", "get",
                          "deployments,statefulsets", "-l", SELECTOR, "-o", "json"])
BACKEND_ROLLING = workloads_answer(WORKLOADS, rolling=["deployment.apps/todo-app-backend"])


class Cluster:
    """The response table of a deployed release, plus the answers for each backend source text to come."""

    def __init__(self, root, make_context, **config) -> None:
        project(root)
        self.root, self.make_context, self.config = root, make_context, {**CONFIG, **config}
        self.cfg = resolve(make_context(**self.config))
        self.table = {**answers(root, self.cfg, first=False), LOGS: ok()}
        self.listed = [self.table[LISTING].stdout]
        # The release is rolled out; each backend build then rolls the backend alone.
        self.workloads = [workloads_answer(WORKLOADS)]

    def backend(self, text: str, builds: bool = True):
        """Answers for the backend image of source ``text`` (not built yet); its image."""
        path = self.root / SOURCE
        kept = path.read_text()
        path.write_text(text)
        (image,) = [image for image in built_images(self.cfg) if image.name == "backend"]
        self.table.update({key: value for key, value in answers(self.root, self.cfg, first=True).items()
                           if isinstance(key, str) and image.tag in key})
        if builds:
            # kind lists the node's images before and after loading it.
            self.listed += [self.listed[-1], f"{self.listed[-1]}\ndocker.io/library/{image.local_ref}"]
            self.workloads.append(BACKEND_ROLLING)
        else:
            self.table[line(["env", "DOCKER_BUILDKIT=0", "docker", "build", "--force-rm", "-t", image.ref, "-f",
                             str(self.root / "backend" / "Dockerfile"), str(self.root / "backend")])] = failed(
                stderr="  File \"/app/app/main.py\", line 3\nSyntaxError: invalid syntax\n")
        path.write_text(kept)
        return image

    def context(self):
        return self.make_context({**self.table, LISTING: [ok(text) for text in self.listed],
                                  WORKLOADS_LISTING: self.workloads}, **self.config)


def edits(root, *texts: str):
    """The watcher: each text written to the backend source, then its batch."""
    def changes(cfg, stop):
        for text in texts:
            (root / SOURCE).write_text(text)
            yield {str(root / SOURCE)}
    return changes


def quiet() -> StopSignals:
    """Stop handling that signals nothing (the test process's children are not dev's)."""
    return StopSignals(interrupt=lambda: None)


def cycles_of(log: list[str]) -> list[list[str]]:
    """The commands of each cycle: between one start of the log stream and the next."""
    starts = [index for index, command in enumerate(log) if LOGS.match(command)]
    return [log[start + 1:end] for start, end in zip(starts, starts[1:])]


def applies(c) -> list[list[dict]]:
    """The objects of each `kubectl apply -f -` of ``c``."""
    return [[obj for obj in yaml.safe_load_all(call.kwargs["in_stream"].getvalue()) if obj]
            for call in c.run.call_args_list if call.args[0].endswith("apply -f -")]


def deployments(objects: list[dict]) -> dict[str, str]:
    """Deployment -> image, as ``objects`` have them."""
    return {obj["metadata"]["name"]: obj["spec"]["template"]["spec"]["containers"][0]["image"]
            for obj in objects if obj["kind"] == "Deployment"}


def test_a_backend_change_builds_loads_and_rolls_out_only_the_backend(make_context, tmp_path, capsys):
    cluster = Cluster(tmp_path, make_context)
    frontend = next(image for image in built_images(cluster.cfg) if image.name == "frontend")
    backend = cluster.backend("a new backend\n")
    c = cluster.context()
    state = develop(c, resolve(c), Report(), changes=edits(tmp_path, "a new backend\n"), stop=quiet())
    assert state.cycles == [True]
    kubectl = ["kubectl", "--context", "kind-dev", "--namespace", "todo-app"]
    inspect = ["docker", "image", "inspect", "--format"]
    (cycle,) = cycles_of(commands_run(c))
    assert cycle == [line(command) for command in [
        [*inspect, "{{.Id}} {{.Size}}", backend.ref],
        [*inspect, "{{.Id}} {{.Size}}", frontend.ref],
        ["docker", "buildx", "version"],
        ["env", "DOCKER_BUILDKIT=0", "docker", "build", "--force-rm", "-t", backend.ref, "-f",
         str(tmp_path / "backend" / "Dockerfile"), str(tmp_path / "backend")],
        [*inspect, "{{.Id}} {{.Size}}", backend.ref],
        [*inspect, "{{.Id}}", backend.local_ref],
        ["docker", "tag", backend.ref, backend.local_ref],
        [*inspect, "{{.Id}}", frontend.local_ref],
        [*kubectl, "get", "nodes", "-o", "json"],
        ["docker", "exec", "dev-control-plane", "ctr", "-n", "k8s.io", "images", "ls", "-q"],
        ["kind", "load", "docker-image", backend.local_ref, "--name", "dev", "--nodes", "dev-control-plane"],
        ["docker", "exec", "dev-control-plane", "ctr", "-n", "k8s.io", "images", "ls", "-q"],
        [*kubectl, "get", "secrets", "-l", "owner=helm,name=todo-app", "-o", "name"],
        [*kubectl, "get", "secret", "todo-app-secrets", "-o", "json"],
        [*kubectl, "apply", "-f", "-"],
        [*kubectl, "get", "deployments,statefulsets", "-l", SELECTOR, "-o", "json"],
        # Only the backend rolls; the others were rolled out already.
        [*kubectl, "rollout", "status", "deployment.apps/todo-app-backend", "--timeout=5s"]]]
    # The first deploy finds the release as its last apply left it and sends nothing; the cycle sends only the
    # object the edit changed.
    (then,) = applies(c)
    assert [(obj["kind"], obj["metadata"]["name"]) for obj in then] == [("Deployment", "todo-app-backend")]
    assert deployments(then) == {"todo-app-backend": backend.cluster_ref}
    out = capsys.readouterr().out
    assert re.search(r"\[ ok \] backend changed: build \d+\.\ds, load \d+\.\ds, roll \d+\.\ds: ready", out)
    assert "faster: `invoke cluster.up --registry`, then --provider registry with INVOKE_TODOOPS_REGISTRY=" in out


def test_with_helm_a_backend_change_is_one_upgrade_with_the_new_backend_image_only(make_context, tmp_path):
    cluster = Cluster(tmp_path, make_context, method="helm")
    frontend = next(image for image in built_images(cluster.cfg) if image.name == "frontend")
    backend = cluster.backend("a new backend\n")
    c = cluster.context()
    state = develop(c, resolve(c), Report(), changes=edits(tmp_path, "a new backend\n"), stop=quiet())
    assert state.cycles == [True]
    (cycle,) = cycles_of(commands_run(c))
    assert [command for command in cycle if "docker build " in command or "kind load" in command] == [
        line(["env", "DOCKER_BUILDKIT=0", "docker", "build", "--force-rm", "-t", backend.ref, "-f",
              str(tmp_path / "backend" / "Dockerfile"), str(tmp_path / "backend")]),
        kind_load(backend.local_ref)]
    (upgrade,) = [command for command in cycle if " upgrade --install " in command]
    assert f"backend.image.tag={backend.run_tag}" in upgrade and f"frontend.image.tag={frontend.run_tag}" in upgrade


def test_a_failed_build_is_diagnosed_and_the_loop_keeps_watching_until_the_fix(make_context, tmp_path, capsys):
    cluster = Cluster(tmp_path, make_context)
    broken = cluster.backend("a syntax error\n", builds=False)
    fixed = cluster.backend("the fix\n")
    c = cluster.context()
    state = develop(c, resolve(c), Report(), changes=edits(tmp_path, "a syntax error\n", "the fix\n"), stop=quiet())
    assert state.cycles == [False, True]
    failing, recovered = cycles_of(commands_run(c))
    # Nothing reached the cluster from the broken source: its pods kept serving.
    assert not [command for command in failing if "apply" in command or "kind load" in command]
    assert deployments(applies(c)[-1])["todo-app-backend"] == fixed.cluster_ref
    captured = capsys.readouterr()
    assert f"docker build of {broken.ref} (backend) failed with exit code 1" in captured.err
    assert "SyntaxError: invalid syntax" in captured.err
    assert "[fail] backend changed: build 0.0s: FAILED (see above); what ran before keeps serving" in captured.out
    assert "[ ok ] backend changed: build" in captured.out


def test_a_save_that_changes_no_content_runs_no_cycle(make_context, tmp_path):
    cluster = Cluster(tmp_path, make_context)
    c = cluster.context()
    unchanged = (tmp_path / SOURCE).read_text()
    state = develop(c, resolve(c), Report(), changes=edits(tmp_path, unchanged, unchanged), stop=quiet())
    assert state.cycles == [] and cycles_of(commands_run(c)) == []


@pytest.mark.parametrize(("state", "now", "due"), [
    (Loop({"backend": "a"}, {"backend": "a"}, failed=False), {"backend": "a"}, False),
    (Loop({"backend": "a"}, {"backend": "a"}, failed=False), {"backend": "b"}, True),
    # After a failure the same sources are not tried again by themselves...
    (Loop({"backend": "a"}, {"backend": "b"}, failed=True), {"backend": "b"}, False),
    # ...but a save retries them, and going back to what runs re-applies it (a half-rolled Deployment).
    (Loop({"backend": "a"}, {"backend": "b"}, failed=True, touched=True), {"backend": "b"}, True),
    (Loop({"backend": "a"}, {"backend": "b"}, failed=True), {"backend": "a"}, True),
])
def test_a_cycle_is_due_when_the_sources_differ_from_what_was_tried_or_a_failure_is_saved_again(state, now, due):
    assert state.due(now) is due


def test_the_status_line_names_the_change_and_the_seconds_of_each_phase():
    timings = [("build", 3.14, "ok"), ("load", 1.0, "ok"), ("apply", 0.5, "ok"), ("rollout", 4.25, "ok")]
    assert status_line(["backend"], timings, True) == "backend changed: build 3.1s, load 1.0s, roll 4.8s: ready"
    assert status_line(["frontend", CHART], timings[:1], False).startswith(
        "frontend, chart/manifests changed: build 3.1s: FAILED")
    assert described([]) == "no change since the running version (retrying it)"


@pytest.mark.parametrize(("value", "expected"), [(None, (False, None)), (True, (True, None)), ("8080", (True, 8080))])
def test_port_forward_alone_takes_the_services_port_and_a_value_names_the_local_one(value, expected):
    assert forward_port(value) == expected


def test_a_bad_port_forward_value_is_bad_input():
    with pytest.raises(Exit) as error:
        forward_port("http")
    assert error.value.code == 2 and "--port-forward is not a port number" in error.value.message


def test_a_first_deploy_that_fails_its_checks_stops_dev(make_context, tmp_path):
    cluster = Cluster(tmp_path, make_context)
    (tmp_path / ".env").write_text("JWT_SECRET=changeme\n")
    c = cluster.context()
    with pytest.raises(Exit) as error:
        develop(c, resolve(c), Report(), changes=edits(tmp_path), stop=quiet())
    assert error.value.code == 2
    assert not [command for command in commands_run(c) if LOGS.match(command) or "apply" in command]


def test_a_first_deploy_that_fails_its_rollout_still_watches_and_the_next_save_retries(make_context, tmp_path, capsys):
    cluster = Cluster(tmp_path, make_context)
    status = line(["kubectl", "--context", "kind-dev", "--namespace", "todo-app", "rollout", "status",
                   "deployment.apps/todo-app-backend", "--timeout=5s"])
    # The first wait fails (kubectl's verdict), the one of the retry passes.
    cluster.table[status] = [failed(stderr="error: deployment exceeded its progress deadline"), ok()]
    cluster.workloads = [BACKEND_ROLLING, BACKEND_ROLLING]
    # The diagnosis and the undo hint read the pods, events and workloads: none is bad here.
    kubectl = ["kubectl", "--context", "kind-dev", "--namespace", "todo-app", "get"]
    for what in (["pods", "-l", SELECTOR], ["events"], ["deployments,replicasets,statefulsets,pods", "-l", SELECTOR]):
        cluster.table[line([*kubectl, *what, "-o", "json"])] = ok('{"items": []}')
    c = cluster.context()
    saved = (tmp_path / SOURCE).read_text()
    state = develop(c, resolve(c), Report(), changes=edits(tmp_path, saved), stop=quiet())
    assert state.cycles == [True]
    assert "the first deploy failed; watching: the next save retries" in capsys.readouterr().out


def test_a_stop_signal_while_watching_ends_dev_and_leaves_the_app_deployed(make_context, tmp_path, capsys):
    cluster = Cluster(tmp_path, make_context)
    c = cluster.context()

    def stopped(cfg, stop):
        signal.raise_signal(signal.SIGTERM)
        assert stop.wait(5), "the signal did not reach the watcher's stop event"
        yield from ()

    interrupted: list[bool] = []
    state = develop(c, resolve(c), Report(), changes=stopped, stop=StopSignals(lambda: interrupted.append(True)))
    assert state.cycles == [] and interrupted == []  # waiting for changes, nothing of dev's runs to interrupt
    out = capsys.readouterr().out
    assert "stopped (SIGTERM)" in out and "the app stays in kind-dev/todo-app; `invoke clean` removes it" in out
    assert not [command for command in commands_run(c) if "delete" in command]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.parametrize("clean_on_exit", [True, False])
def test_clean_on_exit_removes_the_release_and_only_then(make_context, tmp_path, monkeypatch, clean_on_exit):
    cleaned = []
    monkeypatch.setattr("todoops.dev.clean_release", lambda c, cfg, report, yes: cleaned.append((cfg.namespace, yes)))
    c = Cluster(tmp_path, make_context).context()
    develop(c, resolve(c), Report(), changes=edits(tmp_path), stop=quiet(), clean_on_exit=clean_on_exit)
    assert cleaned == ([("todo-app", True)] if clean_on_exit else [])


def test_a_signal_interrupts_at_once_outside_a_deferred_block_and_after_it_inside():
    interrupted: list[bool] = []
    with StopSignals(lambda: interrupted.append(True)) as stop:
        with pytest.raises(Stopped):
            with stop.deferred():
                signal.raise_signal(signal.SIGHUP)
                finished_inside = True
        assert finished_inside and interrupted == [] and stop.event.is_set()
        with pytest.raises(Stopped, match="SIGINT"):
            signal.raise_signal(signal.SIGINT)
            time.sleep(1)
        assert interrupted == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# dev's stop handling in a process of its own, with a real command in the main thread (as invoke runs one).
STOPPING = """
import sys, time
from invoke import Context
from todoops.commands import run
from todoops.dev import StopSignals
from todoops.processes import Stopped
try:
    with StopSignals() as stop:
        print("ready", flush=True)
        if sys.argv[1] == "deferred":
            with stop.deferred():
                print("exit", run(Context(), ["sleep", "2"]).exited, flush=True)
        run(Context(), ["sleep", "60"])
except Stopped as stopped:
    print("stopped", stopped, flush=True)
"""


def children(pid: int) -> list[int]:
    return [int(child) for child in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                   text=True).stdout.split()]


@pytest.mark.parametrize("where", ["running", "deferred"])
def test_a_stop_signal_takes_the_running_command_with_it_or_lets_a_deferred_one_finish(where):
    task = subprocess.Popen([sys.executable, "-c", STOPPING, where], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert task.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 10
        while not children(task.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        commands = [grandchild for child in children(task.pid) for grandchild in [child, *children(child)]]
        started = time.monotonic()
        task.send_signal(signal.SIGTERM)
        assert task.wait(timeout=15) == 0
        out = task.stdout.read().split("\n")
        assert all(gone(pid) for pid in commands), "a command outlived dev"
        if where == "deferred":
            # The deferred command ran to its end (exit 0) before dev stopped.
            assert out[:2] == ["exit 0", "stopped SIGTERM"]
        else:
            assert out[0] == "stopped SIGTERM" and time.monotonic() - started < 5
    finally:
        task.kill()
        task.wait()
