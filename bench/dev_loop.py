"""Benchmark: edit-to-serving time of one backend change, in `invoke dev` and through a plain `invoke deploy`.

    .venv/bin/python bench/dev_loop.py [--runs N]   # the running kind cluster, or one it brings up (and down)

In a copy of the project and a uuid-named namespace (removed at the end), side
by side in one run, each change a comment appended to backend/app/main.py:

- dev: `invoke dev` deploys, one change warms the layer caches (untimed), then
  each measured change is left to dev;
- deploy: each change followed by a plain `invoke deploy`.

Each is timed from the write until the new version alone serves (every ready,
not stopping backend pod runs the new content tag, watched in the cluster:
the old pods are out of the Service's endpoints then, though they may still
drain), and until the tool is done (dev's status line: the rollout complete,
the old pods gone, with its build, load and roll seconds; deploy's exit, which
also runs preflight, secrets and verify).

With ``--registry localhost:5001`` the project deploys through that registry
(the registry provider of `invoke cluster.up --registry`: a push sends only the
layers the registry lacks, each node pulls only those) instead of kind load.

Target: dev's median edit-to-serving under 10 s with warm layer caches. Prints every
figure; exits 1 when the target is missed.
"""

import argparse
import json
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.devloop import READY, SOURCE, WATCHING, Dev  # noqa: E402
from bench.e2e_deploy import steps  # noqa: E402
from bench.session import bench_project  # noqa: E402
from tests.e2e.todoapp import SELECTOR, ClusterUnavailable, Project, ready  # noqa: E402
from todoops.images import content_tag  # noqa: E402

# The chart's backend replicas.
REPLICAS = 2

TARGET_SECONDS = 10.0


@dataclass
class Change:
    """One measured change: seconds from the write until the new version alone serves, and until the tool is done."""

    serving: float
    done: float
    note: str = ""


class Serving(threading.Thread):
    """Watches the backend's pods from the write on: when every ready pod that is not stopping runs the new content
    tag (the old ones are out of the Service's endpoints), the new version alone serves.

    One kubectl watch, each event timed as it arrives: polling (a kubectl every fraction of a second) would
    load the two cores whose work it measures.
    """

    def __init__(self, project: Project, written: float) -> None:
        super().__init__(daemon=True)
        self.tag, self.written = content_tag(project.root / "backend"), written
        self.seconds: float | None = None
        self.watch = subprocess.Popen(
            ["kubectl", "--context", project.cluster.context, "--namespace", project.namespace, "get", "pods",
             "-l", f"{SELECTOR},app.kubernetes.io/component=backend", "--watch", "--output-watch-events", "-o", "json"],
            stdout=subprocess.PIPE, text=True, env=project.cluster.env())
        self.start()

    def run(self) -> None:
        pods: dict[str, dict] = {}
        for event in events(self.watch.stdout):
            pod = event["object"]
            if event["type"] == "DELETED":
                pods.pop(pod["metadata"]["name"], None)
            else:
                pods[pod["metadata"]["name"]] = pod
            if self.serves_new(pods.values()):
                self.seconds = time.monotonic() - self.written
                break
        self.watch.terminate()

    def serves_new(self, pods: Iterable[dict]) -> bool:
        images = [status["image"] for pod in pods if ready(pod) for status in pod["status"]["containerStatuses"]]
        return len(images) >= REPLICAS and all(f":{self.tag}-" in image for image in images)

    def result(self) -> float:
        self.join(600)
        self.watch.kill()
        assert self.seconds is not None, f"the backend never served {self.tag}"
        return self.seconds


def events(lines: Iterable[str]) -> Iterator[dict]:
    """The watch events of kubectl's ``-o json`` stream: JSON objects one after another (one per line when
    watching, indented otherwise)."""
    decoder, text = json.JSONDecoder(), ""
    for line in lines:
        text += line
        try:
            event, end = decoder.raw_decode(text.lstrip())
        except ValueError:
            continue
        yield event
        text = text.lstrip()[end:]


def change(project: Project, why: str) -> Serving:
    # Unique each time: the tag is content-addressed, and an image built before would not be rebuilt.
    written = time.monotonic()
    project.append(SOURCE, f"# bench dev_loop: {why} ({uuid.uuid4()})\n")
    return Serving(project, written)


def dev_runs(project: Project, runs: int) -> list[Change]:
    """Each measured change in `invoke dev`; done is its status line saying ready (the old pods gone too)."""
    dev = Dev(project)
    try:
        dev.wait_for(WATCHING, timeout=1800)
        mark = len(dev.lines)
        change(project, "warm-up").result()
        dev.wait_for(READY, timeout=300, after=mark)
        figures = []
        for run in range(runs):
            mark = len(dev.lines)
            serving = change(project, f"dev run {run}")
            seen = dev.wait_for(READY, timeout=300, after=mark)
            build, load, roll = seen.match.groups()
            figures.append(Change(serving.result(), seen.at - serving.written, f"build {build}, load {load}, roll {roll}"))
            print(f"bench: dev run {run + 1}: {figures[-1]}", flush=True)
        dev.process.send_signal(signal.SIGINT)
        dev.process.wait(60)
        return figures
    finally:
        dev.stop()


def deploy_runs(project: Project, runs: int) -> list[Change]:
    """Each measured change through `invoke deploy`; done is the command's end."""
    figures = []
    for run in range(runs):
        serving = change(project, f"deploy run {run}")
        deployed = project.invoke("deploy")
        figures.append(Change(serving.result(), deployed.seconds, steps(deployed)))
        print(f"bench: deploy run {run + 1}: {figures[-1]}", flush=True)
    return figures


def report(dev: list[Change], deploy: list[Change], how: str) -> float:
    """Print the side-by-side table; dev's median edit-to-serving seconds."""
    print(f"\nimages reach the cluster by {how}; seconds from the edit to the new version alone serving "
          f"(and to the tool being done)")
    print(f"{'one backend change':<16} {'serving':>8} {'done':>6}  runs: serving (done) split")
    print("-" * 110)
    medians = {}
    for name, runs in (("invoke dev", dev), ("invoke deploy", deploy)):
        medians[name] = statistics.median(run.serving for run in runs)
        print(f"{name:<16} {medians[name]:>8.1f} {statistics.median(run.done for run in runs):>6.1f}  "
              + "; ".join(f"{run.serving:.1f} ({run.done:.1f}) {run.note}" for run in runs))
    print(f"invoke deploy took {medians['invoke deploy'] / medians['invoke dev']:.1f}x as long as the dev loop")
    return medians["invoke dev"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="measured changes per way (default 3)")
    parser.add_argument("--registry", metavar="HOST:PORT",
                        help="Deploy through this registry (the registry provider) instead of kind load.")
    args = parser.parse_args()
    try:
        with bench_project("bench-dev", args.registry) as project:
            dev = dev_runs(project, args.runs)
            deploy = deploy_runs(project, args.runs)
    except ClusterUnavailable as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    median = report(dev, deploy, f"the registry {args.registry}" if args.registry else "kind load")
    met = median < TARGET_SECONDS
    print(f"target {'met   ' if met else 'MISSED'} invoke dev, one backend change < {TARGET_SECONDS:.0f} s: "
          f"{median:.1f} s")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
