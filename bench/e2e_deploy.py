"""Deploy benchmark on the real e2e cluster: the suite against the old way, one cluster, one run.

    .venv/bin/python bench/e2e_deploy.py            # brings the cluster up (and down) if it is not running

Phases, each timed as a user would see it (wall clock of the command):

- cold deploy: ``invoke deploy`` into a fresh namespace, images already built
  locally but not in the cluster, until every pod is Ready;
- no-change re-deploy: ``invoke deploy`` again (target < 5 s, zero builds/loads/restarts);
- one-service change: a backend source edit, ``invoke deploy``;
- old way (deploy.sh): ``docker build --no-cache`` of both images, load both,
  ``kubectl apply`` of everything, wait for every workload.

Targets (issue 7): no-change < 5 s and >= 10x faster than the old way; cold < 60 s.
Everything runs in a copy of the project and in uuid-named namespaces deleted at the end.
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness import cluster, config  # noqa: E402
from tests.e2e.todoapp import (SELECTOR, Project, new_namespace, pristine_copy,  # noqa: E402
                               tool_path)

TARGET_NO_CHANGE = 5.0
TARGET_COLD = 60.0
TARGET_RATIO = 10.0


def timed(what: str, action):
    started = time.monotonic()
    result = action()
    seconds = time.monotonic() - started
    print(f"bench: {what}: {seconds:.1f} s", flush=True)
    return seconds, result


def sh(argv: list[str], *, stdin=None, env=None, timeout: float = 1800, cwd=None) -> str:
    completed = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    if completed.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed:\n{completed.stdout[-2000:]}{completed.stderr[-2000:]}")
    return completed.stdout


def echoed(output: str) -> list[str]:
    """The mutating commands the suite echoed (``$ ...``, or ``[backend] $ ...`` from a parallel build)."""
    return [line for line in output.splitlines() if re.match(r"^(\[[\w-]+\] )?\$ ", line.lstrip())]


def remove_from_cluster(project: Project, refs: list[str]) -> None:
    have = project.images_in_cluster()
    gone = [ref for ref in (f"docker.io/library/{ref}" for ref in refs) if ref in have]
    if gone:
        sh(["ctr", "--address", project.cluster["TODOOPS_CONTAINERD_ADDRESS"], "-n", "k8s.io", "images", "rm", *gone])


def built_refs(output: str) -> list[str]:
    """The refs `invoke images.build` reported (``[ ok ] todo-backend:TAG: ...``)."""
    refs = []
    for line in output.splitlines():
        for word in line.split():
            if word.startswith(("todo-backend:", "todo-frontend:")):
                refs.append(word.rstrip(":"))
    return sorted(set(refs))


def old_way(project: Project, tag: str) -> None:
    """What deploy.sh did, with a fresh tag so the rollout actually happens: build, load, apply, wait."""
    env = {**project.env(), "PATH": tool_path()}
    refs = []
    for name in ("backend", "frontend"):
        ref = f"todo-{name}:{tag}"
        sh(["docker", "build", "--no-cache", "-t", ref, str(project.root / name)], env={**env, "DOCKER_BUILDKIT": "0"})
        refs.append(ref)
    for ref in refs:
        sh(["bash", "-o", "pipefail", "-c",
            f"docker save {ref} | ctr --address {project.cluster['TODOOPS_CONTAINERD_ADDRESS']} -n k8s.io images import -"])
    stream = []
    for path in sorted((project.root / "k8s").glob("*.yaml")):
        text = path.read_text()
        for name, ref in zip(("backend", "frontend"), refs):
            text = text.replace(f"image: todo-{name}:dev", f"image: {ref}")
        stream.append(text)
    project.kubectl("apply", "-f", "-", stdin="\n---\n".join(stream))
    for workload in project.kubectl("get", "deployments,statefulsets", "-l", SELECTOR, "-o", "name").split():
        project.kubectl("rollout", "status", workload, "--timeout=600s", timeout=660)
    sh(["docker", "image", "rm", *refs])


def table(rows: list[tuple[str, float, str]], baseline: float) -> str:
    lines = [f"{'phase':<52} {'seconds':>8} {'old way / this':>15}  notes", "-" * 108]
    for name, seconds, note in rows:
        ratio = f"{baseline / seconds:.1f}x" if seconds and baseline else "-"
        lines.append(f"{name:<52} {seconds:>8.1f} {ratio:>15}  {note}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="Keep the namespace and the copy for inspection.")
    args = parser.parse_args()

    states = cluster.component_states(config.state_paths())
    brought_up = not all(states.values())
    if brought_up and cluster.up() != 0:
        cluster.down()
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="todoops-bench-"))
    project = Project.create(workdir, new_namespace("bench"), cluster.environment(), source=pristine_copy(workdir))
    try:
        # Untimed preparation: the images exist locally (built once), but not in the cluster.
        built = project.invoke("images.build", timeout=3600)
        refs = built_refs(built.output)
        remove_from_cluster(project, refs)
        project.invoke("prepare-secrets")

        cold, result = timed("cold deploy", lambda: (project.invoke("deploy"), project.wait_all_ready(300)))
        cold_run = result[0]
        uids = project.pod_uids()
        no_change, again = timed("no-change re-deploy", lambda: project.invoke("deploy"))
        restarted = project.pod_uids() != uids
        project.append("backend/app/main.py", f"# bench: a one-service change ({time.time_ns()})\n")
        one, changed = timed("one-service change", lambda: project.invoke("deploy"))
        old, _ = timed("old way", lambda: old_way(project, f"oldway-{int(time.time())}"))

        builds_again = [line for line in echoed(again.output) if "docker build" in line]
        loads_again = [line for line in echoed(again.output) if "images import" in line]
        rows = [
            ("cold deploy to all Ready (images built)", cold,
             f"{len([l for l in echoed(cold_run.output) if 'images import' in l])} image(s) loaded"),
            ("no-change re-deploy", no_change,
             f"{len(builds_again)} builds, {len(loads_again)} loads, pods restarted: {restarted}, "
             f"{len(echoed(again.output))} mutating commands echoed"),
            ("one-service change (backend source)", one,
             f"{len([l for l in echoed(changed.output) if 'docker build' in l])} build(s)"),
            ("old way: --no-cache build x2, load x2, apply, wait", old, "baseline"),
        ]
        print()
        print(table(rows, old))
        print()
        verdicts = [
            ("no-change re-deploy < 5 s", no_change < TARGET_NO_CHANGE),
            ("no-change >= 10x faster than the old way", old / no_change >= TARGET_RATIO),
            ("cold deploy < 60 s", cold < TARGET_COLD),
            ("no-change: zero builds, loads, restarts", not (builds_again or loads_again or restarted)),
        ]
        for name, passed in verdicts:
            print(f"target {'met   ' if passed else 'MISSED'} {name}")
        return 0 if all(passed for _, passed in verdicts) else 1
    finally:
        if not args.keep:
            project.invoke("clean", "--yes", check=False, timeout=600)
            project.kubectl("delete", "namespace", project.namespace, "--ignore-not-found", "--wait=false",
                            check=False)
            shutil.rmtree(workdir, ignore_errors=True)
        if brought_up:
            cluster.down()


if __name__ == "__main__":
    sys.exit(main())
