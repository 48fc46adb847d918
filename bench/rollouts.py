"""Zero downtime, repeated: e2e test 3 (a backend-only change under 20 requests/s) N times in a row.

    .venv/bin/python bench/rollouts.py [--runs 10] [--rate 20]

On the kind cluster (the running one, or one brought up and down again), in a
copy of the project and a uuid-named namespace: one deploy, one user with a
task, then each run changes the backend source, runs `invoke deploy` while a
client lists the tasks through the frontend (its /api proxy to the backend
Service) and keeps sending 5 s after the rollout. Prints each run's request and
failure counts and its failures; exits 1 when any request failed.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.todoapp import (FRONTEND, FRONTEND_PORT, ClusterUnavailable, Project, TodoClient,  # noqa: E402
                               port_forward, rollout_under_traffic)
from bench.session import bench_project  # noqa: E402


def rollouts(project: Project, runs: int, rate: float) -> int:
    """The failed requests of all runs, each run printed."""
    project.invoke("prepare-secrets")
    project.invoke("deploy")
    with port_forward(project, f"service/{FRONTEND}", FRONTEND_PORT) as base:
        user = TodoClient(base)
        user.register_and_log_in()
        user.add_task("listed during every rollout")
    failed = 0
    for run in range(1, runs + 1):
        deployed, traffic = rollout_under_traffic(project, user.cookie, f"bench/rollouts.py run {run}", rate)
        failed += len(traffic.failures)
        print(f"rollout {run}/{runs}: {traffic.summary()} (deploy {deployed.seconds:.1f} s)", flush=True)
        for failure in traffic.failures:
            print(f"  {failure}")
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="Rollouts in a row (default 10).")
    parser.add_argument("--rate", type=float, default=20, help="Requests per second during each (default 20).")
    args = parser.parse_args()
    try:
        with bench_project("bench-rollouts") as project:
            failed = rollouts(project, args.runs, args.rate)
    except ClusterUnavailable as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    print(f"{args.runs} rollouts: {failed} failed request(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
