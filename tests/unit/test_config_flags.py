"""``todoops.config.flags``: a task's flags read by the schema's kinds before any command runs."""
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import Exit

from todoops.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("task", "flags", "fragment"), [
    ("todoops.validate:validate", {"wait": "3 minutes"}, "--wait is not a duration"),
    ("todoops.rollout:wait", {"timeout": "soon"}, "todoops.rollout_timeout (from the command line) is not a duration"),
    ("todoops.app:logs", {"tail": "many"}, "--tail is not a whole number"),
    ("todoops.app:port_forward", {"port": "99999"}, "--port is not a port number"),
    ("todoops.deploy:deploy", {"build_in_cluster": "maybe"}, "todoops.build_in_cluster (from the command line)"),
])
def test_task_flags_are_read_by_the_schema_before_anything_runs(make_context, task, flags, fragment):
    module, name = task.split(":")
    c = make_context()
    with pytest.raises(Exit) as error:
        getattr(__import__(module, fromlist=[name]), name)(c, **flags)
    assert error.value.code == ExitCode.BAD_INPUT and fragment in error.value.message
    assert c.run.call_args_list == []


def test_build_in_cluster_takes_an_optional_value_on_the_command_line():
    shown = subprocess.run([str(Path(sys.executable).with_name("invoke")), "--help", "deploy"], cwd=REPO,
                           env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                           timeout=120).stdout
    assert "--build-in-cluster[=STRING]" in shown and "=false turns a configured true off" in " ".join(shown.split())
