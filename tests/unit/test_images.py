import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from invoke import Config, Context, Exit

from tests.conftest import commands_run
from tests.unit.fixtures import failed, line, nodes_answer, ok, project
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.images import build, content_tag, load_images, planned_images
from todoops.report import Report


def test_content_tag_tracks_exactly_what_docker_sends(tmp_path):
    project(tmp_path)
    context = tmp_path / "backend"
    tag = content_tag(context)
    assert len(tag) == 12 and content_tag(context) == tag
    (context / "debug.log").write_text("ignored")
    assert content_tag(context) == tag
    (context / "app.txt").write_text("changed")
    changed = content_tag(context)
    assert changed != tag
    os.chmod(context / "app.txt", 0o755)
    assert content_tag(context) != changed
    (context / "Dockerfile").write_text("FROM scratch\n")
    assert content_tag(context) not in (tag, changed)


def refs(tmp_path, make_context, **config):
    project(tmp_path)
    return {image.name: image.ref for image in planned_images(resolve(make_context(**config)))}


def inspect(ref: str) -> str:
    return line(["docker", "image", "inspect", "--format", "{{.Id}} {{.Size}}", ref])


def run_ref(ref: str, image_id: str) -> str:
    """The ref the cluster gets: the content tag, then the image ID's first 12 hex digits."""
    return f"{ref}-{image_id.removeprefix('sha256:')[:12]}"


def tagged(ref: str, image_id: str, env: tuple = ()) -> str:
    """The probe asking whether docker has the image under its run tag."""
    return line([*(["env", *env] if env else []), "docker", "image", "inspect", "--format", "{{.Id}}",
                 run_ref(ref, image_id)])


def tag(ref: str, image_id: str) -> str:
    return line(["docker", "tag", ref, run_ref(ref, image_id)])


def build_line(tmp_path, name: str, ref: str, buildkit: bool = False, env: tuple = ()) -> str:
    context = tmp_path / name
    return line(["env", *env, f"DOCKER_BUILDKIT={int(buildkit)}", "docker", "build", "--force-rm",
                 *(["--progress", "plain"] if buildkit else []), "-t", ref, "-f", str(context / "Dockerfile"),
                 str(context)])


def test_unchanged_images_are_not_rebuilt(make_context, tmp_path):
    images = refs(tmp_path, make_context)
    c = make_context({**{inspect(ref): ok("sha256:abc 197000000") for ref in images.values()},
                      **{tagged(ref, "sha256:abc"): ok("sha256:abc") for ref in images.values()}})
    built = build(c, resolve(c), Report())
    assert commands_run(c) == [inspect(images["backend"]), inspect(images["frontend"]),
                               tagged(images["backend"], "sha256:abc"), tagged(images["frontend"], "sha256:abc")]
    assert [(image.built, image.size) for image in built] == [(False, 197000000)] * 2
    assert built[0].cluster_ref == run_ref(images["backend"], "sha256:abc")


def test_a_changed_context_builds_only_that_image_with_the_legacy_builder(make_context, tmp_path):
    images = refs(tmp_path, make_context, build_jobs=1)
    backend, frontend = images["backend"], images["frontend"]
    c = make_context({inspect(backend): [failed(), ok("sha256:new 150000000")], inspect(frontend): ok("sha256:f 9"),
                      line(["docker", "buildx", "version"]): failed(stderr="'buildx' is not a docker command"),
                      build_line(tmp_path, "backend", backend): ok(),
                      tagged(backend, "sha256:new"): failed(), tag(backend, "sha256:new"): ok(),
                      tagged(frontend, "sha256:f"): ok("sha256:f")}, build_jobs=1)
    built = build(c, resolve(c), Report())
    assert commands_run(c) == [inspect(backend), inspect(frontend), line(["docker", "buildx", "version"]),
                               build_line(tmp_path, "backend", backend), inspect(backend),
                               tagged(backend, "sha256:new"), tag(backend, "sha256:new"), tagged(frontend, "sha256:f")]
    assert built[0].built and built[0].image_id == "sha256:new" and not built[1].built


def test_both_images_build_in_parallel_with_buildkit_and_prefixed_output(make_context, tmp_path, capsys):
    images = refs(tmp_path, make_context)
    answers = {line(["docker", "buildx", "version"]): ok("github.com/docker/buildx v0.12.1")}
    for name, ref in images.items():
        answers[inspect(ref)] = [failed(), ok("sha256:x 1")]
        answers[build_line(tmp_path, name, ref, buildkit=True)] = ok()
        answers[tagged(ref, "sha256:x")] = ok("sha256:x")
    c = make_context(answers)
    build(c, resolve(c), Report())
    assert sorted(commands_run(c)) == sorted([inspect(images["backend"]), inspect(images["frontend"]),
                                              line(["docker", "buildx", "version"]),
                                              *(build_line(tmp_path, n, r, buildkit=True) for n, r in images.items()),
                                              inspect(images["backend"]), inspect(images["frontend"]),
                                              *(tagged(ref, "sha256:x") for ref in images.values())])
    err = capsys.readouterr().err
    assert "[backend] $ env DOCKER_BUILDKIT=1" in err and "[frontend] $ env DOCKER_BUILDKIT=1" in err


def test_force_and_no_cache_rebuild_without_asking(make_context, tmp_path):
    images = refs(tmp_path, make_context, build_jobs=1)
    backend_build = build_line(tmp_path, "backend", images["backend"]).replace(" -t ", " --no-cache -t ")
    frontend_build = build_line(tmp_path, "frontend", images["frontend"]).replace(" -t ", " --no-cache -t ")
    c = make_context({line(["docker", "buildx", "version"]): failed(), backend_build: ok(), frontend_build: ok(),
                      **{inspect(ref): ok("sha256:x 1") for ref in images.values()},
                      **{tagged(ref, "sha256:x"): ok("sha256:x") for ref in images.values()}}, build_jobs=1)
    build(c, resolve(c), Report(), no_cache=True)
    assert commands_run(c)[1:5] == [backend_build, inspect(images["backend"]), frontend_build,
                                    inspect(images["frontend"])]


def test_dry_run_prints_builds_and_runs_only_probes(make_context, tmp_path, capsys):
    images = refs(tmp_path, make_context, build_jobs=1)
    c = make_context({line(["docker", "buildx", "version"]): failed(),
                      **{inspect(ref): failed() for ref in images.values()}}, build_jobs=1)
    build(c, resolve(c, dry_run=True), Report())
    out, err = capsys.readouterr()
    assert "[dry-run] env DOCKER_BUILDKIT=0 docker build" in err
    # An image not built yet has no ID, so no run tag to name.
    assert "would be built" in out and "runs as" not in out
    assert all("DOCKER_BUILDKIT" not in command for command in commands_run(c))


def test_build_in_minikube_uses_its_docker_daemon(make_context, tmp_path):
    images = refs(tmp_path, make_context, build_in_cluster=True)
    env = ("DOCKER_TLS_VERIFY=1", "DOCKER_HOST=tcp://192.168.49.2:2376", "DOCKER_CERT_PATH=/root/.minikube/certs")
    docker_env = line(["minikube", "-p", "minikube", "docker-env", "--shell", "none"])
    in_minikube = [line(["env", *env, "docker", "image", "inspect", "--format", "{{.Id}} {{.Size}}", ref])
                   for ref in images.values()]
    c = make_context({docker_env: ok("\n".join(env) + "\n"),
                      **{command: ok("sha256:x 1") for command in in_minikube},
                      **{tagged(ref, "sha256:x", env): ok("sha256:x") for ref in images.values()}},
                     build_in_cluster=True)
    build(c, resolve(c), Report())
    assert commands_run(c) == [docker_env, *in_minikube, *(tagged(ref, "sha256:x", env) for ref in images.values())]


CONTAINERD = {"context": "microk8s", "provider": "containerd", "containerd": {"address": "/run/e2e/containerd.sock"}}
CTR = ["ctr", "--address", "/run/e2e/containerd.sock", "-n", "k8s.io"]


@pytest.mark.parametrize(("config", "listing", "loads"), [
    ({}, ["minikube", "-p", "minikube", "image", "ls"], lambda ref: [["minikube", "-p", "minikube", "image", "load",
                                                                       ref]]),

    ({"context": "k3d-todo", "provider": "k3d"}, ["docker", "exec", "k3d-todo-server-0", "ctr", "-n", "k8s.io",
                                                  "images", "ls", "-q"],
     lambda ref: [["k3d", "image", "import", ref, "--cluster", "todo"]]),
    (CONTAINERD, [*CTR, "images", "ls", "-q"],
     lambda ref: ["set -o pipefail; docker save " + ref + " | " + line([*CTR, "images", "import", "-"])]),
])
def test_load_only_what_the_cluster_lacks_then_verify(make_context, tmp_path, config, listing, loads):
    images = planned_images(resolve(make_context(**config))) if project(tmp_path) else None
    backend, frontend = (image.ref for image in images)
    before = f"docker.io/library/{frontend}\nregistry.k8s.io/pause:3.10\n"
    after = before + f"docker.io/library/{backend}\n"
    load_commands = [command if isinstance(command, str) else line(command) for command in loads(backend)]
    c = make_context({line(listing): [ok(before), ok(after)], **{command: ok() for command in load_commands}},
                     **config)
    load_images(c, resolve(c), Report(), images)
    assert commands_run(c) == [line(listing), *load_commands, line(listing)]


def test_kind_loads_only_into_the_nodes_that_take_pods_and_has_an_image_when_each_of_them_has_it(
        make_context, tmp_path):
    project(tmp_path)
    config = {"context": "kind-todo", "provider": "kind"}
    backend, frontend = (image.ref for image in planned_images(resolve(make_context(**config))))
    workers = ("todo-worker", "todo-worker2")
    listings = {node: line(["docker", "exec", node, "ctr", "-n", "k8s.io", "images", "ls", "-q"]) for node in workers}
    both = f"docker.io/library/{backend}\ndocker.io/library/{frontend}\n"
    load = line(["kind", "load", "docker-image", frontend, "--name", "todo", "--nodes", "todo-worker,todo-worker2"])
    c = make_context({
        line(["kubectl", "--context", "kind-todo", "--namespace", "todo-app", "get", "nodes", "-o", "json"]):
            nodes_answer("todo-control-plane", *workers, tainted=("todo-control-plane",)),
        # worker2 lacks the frontend: it is loaded (kind itself skips the nodes that have it).
        listings["todo-worker"]: ok(both), listings["todo-worker2"]: [ok(f"docker.io/library/{backend}\n"), ok(both)],
        load: ok()}, **config)
    load_images(c, resolve(c), Report(), planned_images(resolve(c)))
    log = commands_run(c)
    assert [command for command in log if command.startswith("kind load")] == [load]
    assert not [command for command in log if "todo-control-plane ctr" in command]


def test_kind_refuses_a_cluster_whose_every_node_refuses_pods(make_context, tmp_path):
    project(tmp_path)
    config = {"context": "kind-todo", "provider": "kind"}
    c = make_context({line(["kubectl", "--context", "kind-todo", "--namespace", "todo-app", "get", "nodes", "-o",
                            "json"]): nodes_answer("todo-control-plane", tainted=("todo-control-plane",))}, **config)
    with pytest.raises(Exit) as error:
        load_images(c, resolve(c), Report(), planned_images(resolve(c)))
    assert "no node of kind-todo takes pods" in error.value.message
    assert not [command for command in commands_run(c) if "kind load" in command or " ctr " in command]


def test_load_fails_when_the_image_did_not_arrive(make_context, tmp_path):
    project(tmp_path)
    images = planned_images(resolve(make_context(**CONTAINERD)))
    listing = line([*CTR, "images", "ls", "-q"])
    c = make_context({listing: ok(""), "set -o pipefail; docker save " + images[0].ref + " | " +
                      line([*CTR, "images", "import", "-"]): ok(),
                      "set -o pipefail; docker save " + images[1].ref + " | " +
                      line([*CTR, "images", "import", "-"]): ok()}, **CONTAINERD)
    with pytest.raises(Exit) as error:
        load_images(c, resolve(c), Report(), images)
    assert "still lacks" in error.value.message and "containerd address" in error.value.message


def test_registry_pushes_the_content_tag(make_context, tmp_path):
    project(tmp_path)
    config = {"provider": "registry", "registry": "registry.local:5000/team"}
    images = planned_images(resolve(make_context(**config)))
    remote = [image.cluster_ref for image in images]
    assert remote[0] == f"registry.local:5000/team/{images[0].ref}"
    answers = {line(["docker", "manifest", "inspect", remote[0]]): [failed(), ok("{}")],
               line(["docker", "manifest", "inspect", remote[1]]): ok("{}"),
               line(["docker", "tag", images[0].ref, remote[0]]): ok(), line(["docker", "push", remote[0]]): ok()}
    c = make_context(answers, **config)
    load_images(c, resolve(c), Report(), images)
    assert commands_run(c)[2:4] == [line(["docker", "tag", images[0].ref, remote[0]]),
                                    line(["docker", "push", remote[0]])]


def test_docker_desktop_loads_nothing(make_context, tmp_path):
    project(tmp_path)
    c = make_context(context="docker-desktop", provider="docker-desktop")
    load_images(c, resolve(c), Report(), planned_images(resolve(c)), ["postgres:15"])
    assert commands_run(c) == []


def test_building_in_minikube_still_asks_it_for_the_external_images(make_context, tmp_path, capsys):
    # Issue 15: "3 image(s) already in the cluster, not loaded" while the node lacked postgres:15.
    project(tmp_path)
    images = planned_images(resolve(make_context(build_in_cluster=True)))
    built_there = "".join(f"docker.io/library/{image.ref}\n" for image in images) + "registry.k8s.io/pause:3.10\n"
    listing = line(["minikube", "-p", "minikube", "image", "ls"])
    load = line(["minikube", "-p", "minikube", "image", "load", "postgres:15"])
    c = make_context({listing: [ok(built_there), ok(built_there + "docker.io/library/postgres:15\n")],
                      line(["docker", "image", "inspect", "postgres:15"]): ok(), load: ok()}, build_in_cluster=True)
    load_images(c, resolve(c), Report(), images, ["postgres:15"])
    assert [command for command in commands_run(c) if "image load" in command] == [load]
    assert "2 image(s) already in the cluster" in capsys.readouterr().out


def test_a_rebuild_that_gives_another_image_gets_another_run_tag(make_context, tmp_path):
    # --force and --no-cache keep the content tag; what the cluster runs must still change with the image.
    images = refs(tmp_path, make_context, build_jobs=1)
    backend, frontend = images["backend"], images["frontend"]
    answers = {line(["docker", "buildx", "version"]): failed(), inspect(backend): ok("sha256:new 1"),
               inspect(frontend): ok("sha256:same 1"), build_line(tmp_path, "backend", backend): ok(),
               build_line(tmp_path, "frontend", frontend): ok(), tagged(backend, "sha256:new"): ok("sha256:old"),
               tag(backend, "sha256:new"): ok(), tagged(frontend, "sha256:same"): ok("sha256:same")}
    c = make_context(answers, build_jobs=1)
    rebuilt = build(c, resolve(c), Report(), force=True)
    assert [image.cluster_ref for image in rebuilt] == [run_ref(backend, "sha256:new"), run_ref(frontend, "sha256:same")]
    # Only the image whose ID moved is tagged again; the same image keeps its run tag and nothing happens to it.
    assert [command for command in commands_run(c) if command.startswith("docker tag")] == [tag(backend, "sha256:new")]



# -- Ctrl-C and failures while builds run side by side: tiny real processes stand in for docker.

FAKE_DOCKER = """#!/bin/sh
# docker for these tests: no image exists, no buildx; a build records its pid, prints, then runs FAKE_BUILD.
case "$1" in
  build) echo $$ >> "{pids}"; echo "Step 1/2 : FROM debian:bookworm-slim"
         for context; do :; done; eval "script=\\$FAKE_BUILD_$(basename "$context")"; eval "$script";;
  *) exit 1;;
esac
"""


def real_config(root: Path, **todoops: object) -> Config:
    """invoke's own defaults (a real runner) with the suite's settings for ``root``."""
    return Config(overrides={"todoops": {"root": str(root), "cache_dir": str(root / ".cache"), **todoops}})


def fake_docker_context(tmp_path, **builds: str) -> Context:
    """A real Context whose PATH starts with a fake docker; ``builds`` is the shell run per build context."""
    project(tmp_path)
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "docker").write_text(FAKE_DOCKER.format(pids=tmp_path / "pids"))
    (folder / "docker").chmod(0o755)
    config = real_config(tmp_path)
    config.run.env = {"PATH": f"{folder}:{os.environ['PATH']}",
                      **{f"FAKE_BUILD_{name}": script for name, script in builds.items()}}
    return Context(config=config)


def started_pids(tmp_path, count: int, within: float = 10) -> list[int]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        pids = (tmp_path / "pids").read_text().split() if (tmp_path / "pids").exists() else []
        if len(pids) == count:
            return [int(pid) for pid in pids]
        time.sleep(0.05)
    raise AssertionError(f"{count} builds did not start")


def running(pid: int) -> bool:
    """Alive and not yet reaped (a zombie counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


def interrupt_when_started(tmp_path, count: int) -> threading.Thread:
    """Ctrl-C (SIGINT to this process, as a terminal sends it) once ``count`` builds run."""
    def press() -> None:
        started_pids(tmp_path, count)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=press, daemon=True)
    thread.start()
    return thread


def test_ctrl_c_stops_both_builds_at_once_and_exits_130(tmp_path, capsys):
    c = fake_docker_context(tmp_path, backend="exec sleep 60", frontend="exec sleep 60")
    interrupt_when_started(tmp_path, 2)
    started = time.monotonic()
    with pytest.raises(Exit) as error:
        build(c, resolve(c), Report())
    assert time.monotonic() - started < 8, "the builds were waited for instead of stopped"
    assert error.value.code == ExitCode.INTERRUPTED == 130
    assert "interrupted: stopped the build of todo-backend:" in error.value.message
    assert "no docker build is left running" in error.value.message
    assert not [pid for pid in started_pids(tmp_path, 2) if running(pid)]


def test_a_build_that_ignores_sigint_is_killed_with_what_it_started(tmp_path, monkeypatch):
    monkeypatch.setattr("todoops.processes.STOP_GRACE", 0.5)
    # A build that ignores SIGINT and whose child does too (a plugin that missed the news).
    child = f"trap '' INT; echo $$ >> {tmp_path}/children; exec sleep 60"
    c = fake_docker_context(tmp_path, backend=f"trap '' INT; sh -c \"{child}\" & wait", frontend="exec sleep 60")
    interrupt_when_started(tmp_path, 2)
    with pytest.raises(Exit) as error:
        build(c, resolve(c), Report())
    children = [int(pid) for pid in (tmp_path / "children").read_text().split()]
    assert error.value.code == 130 and children
    assert not [pid for pid in [*started_pids(tmp_path, 2), *children] if running(pid)]


def test_a_failed_build_names_the_image_shows_its_last_lines_and_stops_the_other(tmp_path):
    failing = "echo 'Step 2/2 : RUN apt-get install -y nosuchpackage'; echo 'E: Unable to locate package' >&2; exit 100"
    c = fake_docker_context(tmp_path, backend=failing, frontend="exec sleep 60")
    started = time.monotonic()
    with pytest.raises(Exit) as error:
        build(c, resolve(c), Report())
    assert time.monotonic() - started < 8, "the other build ran to its end"
    message = error.value.message
    assert error.value.code == ExitCode.FAILED and "docker build of todo-backend:" in message
    assert "(backend) failed with exit code 100" in message and "E: Unable to locate package" in message
    assert f"hint: a step of {tmp_path / 'backend' / 'Dockerfile'} failed" in message
    assert not [pid for pid in started_pids(tmp_path, 2) if running(pid)]


@pytest.mark.parametrize(("output", "hint"), [
    ("pull access denied for python, repository does not exist", "invoke images.bases"),
    ("Err:1 http://deb.debian.org bookworm InRelease\n  Temporary failure resolving 'deb.debian.org'", "network"),
])
def test_a_failed_build_hint_names_the_usual_cause(tmp_path, output, hint):
    c = fake_docker_context(tmp_path, backend=f"printf '{output}\\n'; exit 1", frontend="exit 0")
    with pytest.raises(Exit) as error:
        build(c, resolve(c, build_jobs=1), Report())
    assert hint in error.value.message.split("hint:")[1]


def docker_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.docker
def test_ctrl_c_stops_real_docker_builds_and_the_daemon_builds_nothing(tmp_path):
    # Runs wherever docker answers; in CI (CI set) a docker that does not answer is a failure, not a skip.
    if not docker_answers():
        (pytest.fail if os.environ.get("CI") else pytest.skip)("docker does not answer (`docker info`)")
    if subprocess.run(["docker", "image", "inspect", "debian:bookworm-slim"], capture_output=True).returncode:
        pytest.fail("debian:bookworm-slim is missing: build it with `invoke images.bases`")
    marker = f"todoops-interrupt-{uuid.uuid4().hex[:8]}"
    images = {}
    for name in ("backend", "frontend"):
        context = tmp_path / name
        context.mkdir()
        (context / "Dockerfile").write_text(f"FROM debian:bookworm-slim\nRUN sleep 15 && echo {marker}-{name}\n")
        images[name] = {"repository": f"{marker}-{name}", "context": name}
    c = Context(config=real_config(tmp_path, images=images))

    pressed = []

    def press() -> None:
        deadline = time.monotonic() + 60
        while marker_containers(marker) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        pressed.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press, daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(Exit) as error:
            build(c, resolve(c), Report())
        # Both RUN steps sleep 15 s: stopped means well before that.
        assert error.value.code == 130 and pressed and time.monotonic() - pressed[0] < 8
        assert not [line for line in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
                    .splitlines() if "docker build" in line and marker in line]
        deadline = time.monotonic() + 10
        while marker_containers(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker_containers(marker) == 0, "the daemon kept building"
        time.sleep(max(0.0, started + 18 - time.monotonic()))
        assert not subprocess.run(["docker", "image", "ls", "-q", f"--filter=reference={marker}-*"],
                                  capture_output=True, text=True).stdout.strip()
    finally:
        refs = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                               f"--filter=reference={marker}-*"], capture_output=True, text=True).stdout.split()
        if refs:
            subprocess.run(["docker", "image", "rm", *refs], capture_output=True)


def marker_containers(marker: str) -> int:
    """Build containers of this test that run now (the legacy builder runs each RUN step in one)."""
    listing = subprocess.run(["docker", "ps", "--no-trunc", "--format", "{{.Command}}"], capture_output=True, text=True)
    return listing.stdout.count(marker)
