"""todoops.remote.hosttask: tasks with --host keep -h for help."""
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("name", ["deploy", "prepare-secrets", "doctor", "validate", "clean"])
def test_dash_h_is_help_on_tasks_with_host(name):
    """`invoke deploy -h` must print help, not read the next word as a host."""
    root = Path(__file__).resolve().parents[2]
    invoke = Path(sys.executable).with_name("invoke")
    shown = subprocess.run([str(invoke), name, "-h"], cwd=root, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert f"{name} [--options]" in shown.stdout
    assert "--host=STRING" in shown.stdout and "-h STRING" not in shown.stdout
