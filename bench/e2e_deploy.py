"""Deploy benchmark on the kind cluster: the suite against the old way, one cluster, one run.

    .venv/bin/python bench/e2e_deploy.py     # uses the running kind cluster, or brings one up (and down)

Each phase is timed as a user sees it (wall clock of the command), in a copy of
the project and uuid-named namespaces deleted at the end:

- suite, cold deploy: ``invoke deploy`` into a fresh namespace, until every pod
  is Ready; the images are built beforehand (untimed) under content tags no
  node has yet, so both are loaded (``kind load docker-image``);
- suite, no-change re-deploy: ``invoke deploy`` again (nothing built, loaded, restarted);
- suite, one-service change: a backend source edit, ``invoke deploy``;
- the old way, exactly as the earlier phase deployed: ``docker build -t
  todo-backend:latest`` and ``-t todo-frontend:latest`` (docker's layer cache on),
  ``kind load docker-image`` of both, ``kubectl apply`` of each k8s/ file in
  order, ``kubectl rollout status`` of each workload; first into a fresh
  namespace, then the same again with nothing changed.

With ``--registry localhost:5001`` the suite deploys through the local registry
(the registry provider: push once, each node pulls only the layers it lacks)
instead of ``kind load``; the old way stays as it was.

Targets: no-change re-deploy < 2 s, one-service change < 15 s, cold
deploy (images built) < 30 s. Prints every figure, each deploy's time per step
and each target met or MISSED; exits 1 when one is missed.
"""

import argparse
import re
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.session import bench_project  # noqa: E402
from tests.e2e.todoapp import SELECTOR, ClusterUnavailable, Project, Run, command_lines, new_namespace, sh  # noqa: E402

TARGETS = {"no-change re-deploy": 2.0, "one-service change": 15.0, "cold deploy": 30.0}
IMAGES = ("backend", "frontend")
# A file of each image's sources that ends up in the image, and how a comment starts in it.
SOURCES = {"backend/app/main.py": "#", "frontend/next.config.ts": "//"}


def timed(what: str, action: Callable[[], object]) -> tuple[float, object]:
    started = time.monotonic()
    result = action()
    seconds = time.monotonic() - started
    print(f"bench: {what}: {seconds:.1f} s", flush=True)
    return seconds, result


STEP_LINE = re.compile(r"^\[ ?(ok|fail) ?\] (\w+) \(([\d.]+)s\)$")


def steps(run: Run) -> str:
    """Each deploy step's time, from its own report lines: ``preflight 0.8, namespace 0.2, ...``."""
    found = [match for line in run.output.splitlines() if (match := STEP_LINE.match(line.strip()))]
    return ", ".join(f"{match[2]} {float(match[3]):.1f}" for match in found)


def counts(run: Run) -> str:
    loads = command_lines(run.output, "kind load docker-image") + command_lines(run.output, "docker push")
    return f"{len(command_lines(run.output, 'docker build'))} build(s), {len(loads)} load(s) or push(es)"


def old_way(project: Project, namespace: str) -> dict[str, float]:
    """The earlier phase's deploy: plain builds to :latest, two loads, apply in order, rollout waits.
    Returns the seconds of each part."""
    env, parts, started = project.env(), {}, time.monotonic()
    for name in IMAGES:
        sh(["docker", "build", "-q", "-t", f"todo-{name}:latest", str(project.root / name)], env=env, timeout=1800)
    parts["build"], started = time.monotonic() - started, time.monotonic()
    for name in IMAGES:
        project.cluster.load(f"todo-{name}:latest")
    parts["load"], started = time.monotonic() - started, time.monotonic()
    for path in sorted((project.root / "k8s").glob("*.yaml")):
        text = path.read_text()
        for name in IMAGES:
            text = text.replace(f"image: todo-{name}:dev", f"image: todo-{name}:latest")
        project.cluster.kubectl("apply", "-f", "-", namespace=namespace, stdin=text)
    parts["apply"], started = time.monotonic() - started, time.monotonic()
    workloads = project.cluster.kubectl("get", "deployments,statefulsets", "-l", SELECTOR, "-o", "name",
                                        namespace=namespace).split()
    for workload in workloads:
        project.cluster.kubectl("rollout", "status", workload, "--timeout=600s", namespace=namespace, timeout=660)
    parts["rollout"] = time.monotonic() - started
    return parts


def new_images(project: Project) -> None:
    """Untimed: both images changed (other image IDs, so no node has them) and built."""
    for source, comment in SOURCES.items():
        project.append(source, f"{comment} bench {uuid.uuid4()}\n")
    print("bench: building new images (untimed)", flush=True)
    project.invoke("images.build", timeout=3600)


def split(parts: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.1f}" for name, seconds in parts.items())


def table(rows: list[tuple[str, float, str]]) -> str:
    lines = [f"{'phase':<44} {'seconds':>8}  notes", "-" * 100]
    lines += [f"{name:<44} {seconds:>8.1f}  {note}" for name, seconds, note in rows]
    return "\n".join(lines)


def ratio(old: float, new: float) -> str:
    """How many times as long the old way took (below 1: the suite was slower)."""
    return f"{old / new:.1f}x as long" if new else "-"


def measure(project: Project, old_namespace: str) -> dict[str, float]:
    """Every phase, timed; prints the table and returns the suite's figures by target name."""
    new_images(project)
    project.invoke("prepare-secrets")
    project.invoke("prepare-secrets", namespace=old_namespace)
    cold, cold_run = timed("suite: cold deploy", lambda: (project.invoke("deploy"), project.wait_all_ready(300))[0])
    uids = project.pod_uids()
    no_change, again = timed("suite: no-change re-deploy", lambda: project.invoke("deploy"))
    restarted = project.pod_uids() != uids
    project.append("backend/app/main.py", f"# bench: a one-service change ({uuid.uuid4()})\n")
    one, changed = timed("suite: one-service change", lambda: project.invoke("deploy"))
    # The old way's first deploy starts like the suite's cold one: images built, on no node yet.
    new_images(project)
    old_first, first_parts = timed("old way: first deploy", lambda: old_way(project, old_namespace))
    old_again, again_parts = timed("old way: no-change re-run", lambda: old_way(project, old_namespace))

    print()
    print(table([
        ("suite: cold deploy to all Ready", cold, f"{counts(cold_run)}; the old way took {ratio(old_first, cold)}"),
        ("suite: no-change re-deploy", no_change, f"{counts(again)}, pods restarted: {restarted}; "
                                                  f"the old way took {ratio(old_again, no_change)}"),
        ("suite: one-service change (backend)", one, counts(changed)),
        ("old way: first deploy", old_first, split(first_parts)),
        ("old way: no-change re-run", old_again, split(again_parts)),
    ]))
    for name, run in (("cold", cold_run), ("no-change", again), ("one-service", changed)):
        print(f"suite {name} deploy, seconds per step: {steps(run)}")
    print()
    if restarted or "0 build(s), 0 load" not in counts(again):
        print("bench: the no-change re-deploy changed something (see the notes above)")
    return {"cold deploy": cold, "no-change re-deploy": no_change, "one-service change": one}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="Keep the namespaces and the copy for inspection.")
    parser.add_argument("--registry", metavar="HOST:PORT",
                        help="Deploy the suite's way through this registry (the registry provider, e.g. the "
                             "localhost:5001 of `invoke cluster.up --registry`) instead of kind load.")
    args = parser.parse_args()
    old_namespace = new_namespace("bench-old")
    try:
        with bench_project("bench", args.registry, keep=args.keep) as project:
            try:
                figures = measure(project, old_namespace)
            finally:
                if not args.keep:
                    project.cluster.kubectl("delete", "namespace", old_namespace, "--ignore-not-found",
                                            "--wait=false", check=False)
    except ClusterUnavailable as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    missed = [name for name, limit in TARGETS.items() if figures[name] >= limit]
    for name, limit in TARGETS.items():
        print(f"target {'MISSED' if name in missed else 'met   '} {name} < {limit:.0f} s: {figures[name]:.1f} s")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
