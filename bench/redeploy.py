"""Benchmark: wall time and command count of a no-change re-deploy.

Runs against whatever cluster the project config points to (invoke.yaml and
INVOKE_TODOOPS_* variables; without any, the kubeconfig's current context,
e.g. kind-todo after `invoke cluster.up`, and the provider its name implies). It
deploys once to converge, then deploys again and measures that second run.
Target: under 2 s, no build, no load, no restart (pod UIDs and restart counts
unchanged). Prints JSON; exits 1 when a target is missed.

    python bench/redeploy.py [--method kubectl|helm] [--runs N]
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from invoke import Config, Context, Exit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from todoops.config import DEFAULTS, resolve  # noqa: E402
from todoops.deploy import deploy_release  # noqa: E402
from todoops.kubectl import get_json, selector  # noqa: E402
from todoops.report import Report  # noqa: E402

TARGET_SECONDS = 2.0
# Substrings of the commands a no-change re-deploy must not run.
CHANGES = {"build": ("docker build",), "load": ("image load", "images import", "kind load", "k3d image import",
                                                 "docker push"), "restart": ("rollout restart",)}


class CountingContext(Context):
    """A Context that records every command line it runs."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self._set("commands", [])

    def run(self, command: str, **kwargs):
        self.commands.append(command)
        return super().run(command, **kwargs)


def project_config(method: str | None) -> Config:
    config = Config(project_location=str(ROOT))
    config.load_collection(DEFAULTS)
    config.load_project()
    config.load_shell_env()
    config.load_overrides({"todoops": {"root": str(ROOT), **({"method": method} if method else {})}})
    return config


def pods(c: Context, cfg) -> dict[str, int]:
    """uid -> total restarts of the release's pods."""
    found = get_json(c, cfg, "pods", "-l", selector(cfg)) or {}
    return {pod["metadata"]["uid"]: sum(s.get("restartCount", 0) for s in pod["status"].get("containerStatuses") or [])
            for pod in found.get("items", [])}


def timed_deploy(config: Config) -> tuple[float, list[str]]:
    c = CountingContext(config)
    cfg = resolve(c)
    started = time.monotonic()
    deploy_release(c, cfg, Report(json_mode=True))
    return time.monotonic() - started, c.commands


def main() -> int:
    try:
        return measure()
    except Exit as error:
        print(error.message, file=sys.stderr)
        return error.code


def measure() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=("kubectl", "helm"), help="override todoops.method")
    parser.add_argument("--runs", type=int, default=3, help="measured no-change re-deploys (default 3)")
    args = parser.parse_args()
    config = project_config(args.method)
    observer = Context(config)
    cfg = resolve(observer)
    timed_deploy(config)  # converge first: the measured runs must find nothing to do
    before = pods(observer, cfg)
    runs = [timed_deploy(config) for _ in range(args.runs)]
    after = pods(observer, cfg)
    commands = runs[-1][1]
    changes = {kind: sum(any(word in line for word in words) for line in commands) for kind, words in CHANGES.items()}
    result = {
        "cluster": {"context": cfg.context, "provider": cfg.provider, "method": cfg.method},
        "seconds": [round(seconds, 2) for seconds, _ in runs],
        "median_seconds": round(statistics.median(seconds for seconds, _ in runs), 2),
        "commands": len(commands),
        "command_log": commands,
        **changes,
        "pods_replaced": len(set(before) ^ set(after)),
        "restarts_added": sum(after.get(uid, 0) - count for uid, count in before.items()),
        "target_seconds": TARGET_SECONDS,
    }
    print(json.dumps(result, indent=2))
    missed = (result["median_seconds"] > TARGET_SECONDS or any(changes.values()) or result["pods_replaced"]
              or result["restarts_added"])
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
