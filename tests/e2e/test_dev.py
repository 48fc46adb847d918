"""`invoke dev` on the kind cluster: an edit is running in seconds, a broken one changes nothing, Ctrl-C leaves the app.

One test drives one `invoke dev --port-forward=PORT` (the real CLI, a subprocess
in a copy of the project, its own uuid-named namespace) through the inner loop:
a backend edit is built, loaded and rolled out (the frontend's and the
database's pods keep their UIDs) and answers through dev's own port-forward
within 60 s; a syntax error fails the build with its diagnosis while the
previous pods keep serving; the fix recovers; when the frontend pods are
replaced the forward comes back on the same URL; SIGINT, sent while a build
runs, ends dev and every process it started (no `docker build` survives) and
leaves the app deployed.
"""

import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.devloop import READY, SOURCE, URL, WATCHING, Dev, free_port
from tests.e2e.todoapp import Project, TodoClient, new_namespace, ready, wait_http
from tests.unit.fixtures.processes import gone
from todoops.images import content_tag
from todoops.processes import process_tree

pytestmark = pytest.mark.e2e

# Seconds from a saved edit to the new backend answering (dev rebuilds, loads and rolls it).
TARGET_SECONDS = 60
FAILED = re.compile(r"\] backend changed: .*: FAILED")


@pytest.fixture
def project(e2e_cluster, pristine, tmp_path):
    made = Project.create(tmp_path, new_namespace("e2e-dev"), e2e_cluster, source=pristine)
    yield made
    made.remove()


def uids(project: Project, component: str) -> set[str]:
    return {pod["metadata"]["uid"] for pod in project.component_pods(component) if ready(pod)}


def wait_ready(project: Project, component: str, replicas: int = 2, timeout: float = 180) -> set[str]:
    """The UIDs of the component's pods once ``replicas`` of them are ready."""
    deadline = time.monotonic() + timeout
    while len(found := uids(project, component)) < replicas:
        assert time.monotonic() < deadline, f"{component}: {len(found)} of {replicas} pods ready"
        time.sleep(2)
    return found


def serving_images(project: Project, component: str) -> set[str]:
    return {status["image"] for pod in project.component_pods(component) if ready(pod)
            for status in pod["status"]["containerStatuses"]}


def docker_builds(root: Path) -> list[str]:
    """Every `docker build` command line on this machine that builds from ``root``."""
    found = subprocess.run(["pgrep", "-af", "docker build"], capture_output=True, text=True).stdout
    return [line for line in found.splitlines() if str(root) in line]


def an_edit_serves_within_the_target(dev: Dev, client: TodoClient) -> set[str]:
    """A backend edit runs and answers within TARGET_SECONDS, the frontend and the database left alone; the backend's
    pod UIDs."""
    project = dev.project
    frontend, database = uids(project, "frontend"), uids(project, "postgresql")
    started = time.monotonic()
    mark = dev.append(f"# e2e dev: an edit ({uuid.uuid4()})\n")
    rolled = dev.wait_for(READY, timeout=TARGET_SECONDS, after=mark)
    tag = content_tag(project.root / "backend")
    assert {image.partition(":")[2].split("-")[0] for image in serving_images(project, "backend")} == {tag}
    client.log_in()
    print(f"edit to dev's ready line: {rolled.at - started:.1f} s ({rolled.match[0]}); to answering: "
          f"{time.monotonic() - started:.1f} s; dev's lines after the edit:\n"
          + "\n".join(f"  +{at - started:5.1f}s {line[:150]}" for line, at in
                       zip(dev.lines[mark:rolled.index + 1], dev.times[mark:rolled.index + 1])))
    assert time.monotonic() - started < TARGET_SECONDS
    assert uids(project, "frontend") == frontend and uids(project, "postgresql") == database
    return uids(project, "backend")


def a_broken_build_changes_nothing(dev: Dev, client: TodoClient, working: set[str]) -> None:
    """A syntax error: the build fails with its diagnosis, the previous pods keep serving."""
    mark = dev.append("def broken(:\n")
    dev.wait_for(FAILED, timeout=120, after=mark)
    after_break = "\n".join(dev.lines[mark:])
    assert re.search(r"docker build of todo-backend:\w+ \(backend\) failed", after_break), after_break
    assert "SyntaxError" in after_break, after_break
    assert uids(dev.project, "backend") == working
    client.log_in()
    assert client.titles() == []


def the_fix_recovers(dev: Dev, client: TodoClient, broken: set[str]) -> set[str]:
    source = dev.project.root / SOURCE
    mark = len(dev.lines)
    source.write_text(source.read_text().replace("def broken(:\n", f"# e2e dev: fixed ({uuid.uuid4()})\n"))
    dev.wait_for(READY, timeout=120, after=mark)
    fixed = uids(dev.project, "backend")
    assert fixed and fixed.isdisjoint(broken)
    client.log_in()
    return fixed


def the_forward_comes_back(dev: Dev, client: TodoClient, url: str) -> set[str]:
    """Both frontend pods deleted: once they are gone (until then they drain and still answer), dev forwards
    again on the same URL. The new frontend pods' UIDs."""
    replaced = [f"pod/{pod['metadata']['name']}" for pod in dev.project.component_pods("frontend")]
    dev.project.kubectl("delete", *replaced, "--wait=false")
    dev.project.kubectl("wait", "--for=delete", *replaced, "--timeout=180s", timeout=210)
    wait_http(f"{url}/api/healthz", timeout=120)
    client.log_in()
    return wait_ready(dev.project, "frontend")


def sigint_during_a_build_stops_everything(dev: Dev) -> None:
    """SIGINT while a build runs: dev and all it started end, no docker build survives."""
    mark = dev.append(f"# e2e dev: interrupted ({uuid.uuid4()})\n")
    dev.wait_for(re.compile(r"\$ env .*docker build "), timeout=60, after=mark)
    time.sleep(1)
    started = process_tree(dev.process.pid)
    dev.process.send_signal(signal.SIGINT)
    assert dev.process.wait(60) == 0, dev.output[-4000:]
    dev.wait_for(re.compile(r"stopped \(SIGINT\)"), timeout=10, after=mark)
    left = [pid for pid in started if not gone(pid, within=10)]
    assert left == [], f"processes of dev outlived it: {left}"
    assert docker_builds(dev.project.root) == []


def test_dev_rolls_out_an_edit_survives_a_broken_one_and_stops_cleanly(project):
    dev = Dev(project, f"--port-forward={free_port()}")
    try:
        dev.wait_for(WATCHING, timeout=1500)
        url = dev.wait_for(URL, timeout=60).match[1]
        wait_http(f"{url}/api/healthz")
        client = TodoClient(url)
        client.register_and_log_in()
        working = an_edit_serves_within_the_target(dev, client)
        a_broken_build_changes_nothing(dev, client, working)
        fixed = the_fix_recovers(dev, client, working)
        frontend = the_forward_comes_back(dev, client, url)
        sigint_during_a_build_stops_everything(dev)
        # The interrupted build applied nothing: the fixed version still serves.
        assert uids(project, "backend") == fixed and uids(project, "frontend") == frontend
    finally:
        dev.stop()
        print("\n".join(dev.lines[-60:]))
