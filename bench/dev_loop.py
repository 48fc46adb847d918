"""Benchmark: edit-to-serving time of one backend change, in `invoke dev` and through a plain `invoke deploy`.

    .venv/bin/python bench/dev_loop.py [--runs N]   # the running kind cluster, or one it brings up (and down)

In a copy of the project and a uuid-named namespace (removed at the end), side
by side in one run:

- dev: `invoke dev` deploys, then one backend change warms the layer caches
  (untimed); each measured run appends a comment to backend/app/main.py and
  takes the time from the write to dev's status line saying the rollout is
  ready (the new pods Ready, the old ones gone), with that line's build, load
  and roll seconds; then dev is stopped with SIGINT;
- deploy: the same change, then `invoke deploy`, timed as a user sees it (the
  command's wall time: it also runs preflight, secrets and verify).

Target (issue 14): dev's median under 10 s with warm layer caches. Prints every
figure; exits 1 when the target is missed.
"""

import argparse
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.devloop import READY, SOURCE, WATCHING, Dev  # noqa: E402
from tests.e2e.todoapp import ClusterUnavailable, Project, kind_cluster, new_namespace, pristine_copy  # noqa: E402

TARGET_SECONDS = 10.0


def change(project: Project, why: str) -> None:
    # Unique each time: the tag is content-addressed, and an image built before would not be rebuilt.
    project.append(SOURCE, f"# bench dev_loop: {why} ({uuid.uuid4()})\n")


def dev_runs(project: Project, runs: int) -> list[tuple[float, str]]:
    """(edit-to-ready seconds, the status line's split) of each measured change in `invoke dev`."""
    dev = Dev(project)
    try:
        dev.wait_for(WATCHING, timeout=1800)
        mark = dev.append(f"# bench dev_loop: warm-up ({uuid.uuid4()})\n")
        dev.wait_for(READY, timeout=600, after=mark)
        figures = []
        for run in range(runs):
            mark = dev.append(f"# bench dev_loop: run {run} ({uuid.uuid4()})\n")
            written = time.monotonic()
            seen = dev.wait_for(READY, timeout=300, after=mark)
            build, load, roll = seen.match.groups()
            figures.append((seen.at - written, f"build {build}, load {load}, roll {roll}"))
            print(f"bench: dev run {run + 1}: {seen.at - written:.1f} s ({figures[-1][1]})", flush=True)
        dev.process.send_signal(signal.SIGINT)
        dev.process.wait(60)
        return figures
    finally:
        dev.stop()


def deploy_runs(project: Project, runs: int) -> list[float]:
    """Wall seconds of `invoke deploy` after each change."""
    figures = []
    for run in range(runs):
        change(project, f"deploy run {run}")
        figures.append(project.invoke("deploy").seconds)
        print(f"bench: deploy run {run + 1}: {figures[-1]:.1f} s", flush=True)
    return figures


def report(dev: list[tuple[float, str]], deploy: list[float]) -> float:
    """Print the side-by-side table; dev's median."""
    dev_median, deploy_median = statistics.median(s for s, _ in dev), statistics.median(deploy)
    print()
    print(f"{'one backend change, edit to serving':<40} {'median s':>9}  runs (s)")
    print("-" * 100)
    print(f"{'invoke dev':<40} {dev_median:>9.1f}  {', '.join(f'{s:.1f} ({split})' for s, split in dev)}")
    print(f"{'invoke deploy':<40} {deploy_median:>9.1f}  {', '.join(f'{s:.1f}' for s in deploy)}")
    print(f"invoke deploy took {deploy_median / dev_median:.1f}x as long as the dev loop")
    return dev_median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="measured changes per way (default 3)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="todoops-bench-dev-"))
    try:
        with kind_cluster() as cluster:
            project = Project.create(workdir, new_namespace("bench-dev"), cluster, source=pristine_copy(workdir))
            try:
                dev = dev_runs(project, args.runs)
                deploy = deploy_runs(project, args.runs)
            finally:
                project.remove()
    except ClusterUnavailable as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    median = report(dev, deploy)
    met = median < TARGET_SECONDS
    print(f"target {'met   ' if met else 'MISSED'} invoke dev, one backend change < {TARGET_SECONDS:.0f} s: "
          f"{median:.1f} s")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
