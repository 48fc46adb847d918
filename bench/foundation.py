"""Benchmark of the foundation's two speed promises; prints its figures.

1. `invoke --list` starts fast (target < 0.5 s): importing tasks.py must do no work.
2. `invoke images.bases` with every image present does nothing (target < 5 s).

Run from the project root with the project venv: `.venv/bin/python bench/foundation.py`.
"""
import statistics
import subprocess
import sys
import time
from pathlib import Path

INVOKE = str(Path(sys.executable).with_name("invoke"))


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - started


def report(name: str, samples: list[float], target: float) -> bool:
    median, worst = statistics.median(samples), max(samples)
    verdict = "ok" if worst < target else "OVER TARGET"
    print(f"{name:<28} runs={len(samples):<3} median={median:.3f}s max={worst:.3f}s target<{target}s {verdict}")
    return worst < target


def main() -> int:
    results = [report("invoke --list", [timed([INVOKE, "--list"]) for _ in range(10)], 0.5)]
    if subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
        results.append(report("invoke images.bases (warm)", [timed([INVOKE, "images.bases"]) for _ in range(3)], 5.0))
    else:
        print("invoke images.bases (warm)   skipped: no Docker daemon answers")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
