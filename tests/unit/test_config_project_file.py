"""``todoops.config.project_file``: invoke.yaml refused with the key and the fix before invoke reads it."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import Exit

from todoops.config import check_project_file, env_name
from todoops.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("content, fragment", [
    ("todoops:\n\tnamespace: x\n", "line 2 is not valid YAML"),
    ("- just\n- a list\n", "must be a mapping"),
    # invoke itself cannot merge these over its defaults: they must be caught before it reads the file.
    ("todoops:\n", "todoops (from invoke.yaml) is not a section (settings indented below it): it is empty"),
    ("todoops: 5\n", "todoops (from invoke.yaml) is not a section"),
    ("todoops:\n  cluster:\n", "todoops.cluster (from invoke.yaml) is not a section"),
    ("todoops:\n  cluster: todo\n", "todoops.cluster (from invoke.yaml) is not a section"),
    ("todoops:\n  namespace:\n    a: 1\n", "todoops.namespace (from invoke.yaml) is not a DNS label"),
    ("todoops:\n  registry:\n    host: x\n", "todoops.registry (from invoke.yaml) is not text"),
    ("todoops:\n  build_jobs: true\n", "todoops.build_jobs (from invoke.yaml) is not a whole number"),
    ("todoops:\n  namespace:\n", "todoops.namespace (from invoke.yaml) is not a DNS label"),
    ("todoops:\n  release: 2024\n", "todoops.release (from invoke.yaml) is not a DNS label"),
    ("todoops:\n  nmespace: x\n", "todoops.nmespace (from invoke.yaml) is not a setting: did you mean "
                                    "todoops.namespace?"),
])
def test_broken_invoke_yaml_is_explained(tmp_path, content, fragment):
    (tmp_path / "invoke.yaml").write_text(content)
    with pytest.raises(Exit) as error:
        check_project_file(tmp_path)
    assert error.value.code == ExitCode.BAD_INPUT and fragment in error.value.message


def test_unreadable_invoke_yaml_is_explained(tmp_path):
    (tmp_path / "invoke.yaml").mkdir()  # reading a folder fails even as root
    with pytest.raises(Exit) as error:
        check_project_file(tmp_path)
    assert "cannot read" in error.value.message


def test_missing_invoke_yaml_is_fine(tmp_path):
    check_project_file(tmp_path)


@pytest.mark.parametrize("value", ["180", "[minikube]", "true"])
def test_a_variable_over_a_typed_invoke_yaml_value_is_refused_before_invoke_misreads_it(tmp_path, monkeypatch, value):
    # invoke would turn "false" into True over a YAML boolean, and fail on "3m" over a number or on any list.
    key = {"180": "rollout_timeout", "[minikube]": "local_contexts", "true": "build_in_cluster"}[value]
    (tmp_path / "invoke.yaml").write_text(f"todoops:\n  {key}: {value}\n")
    monkeypatch.setenv(env_name((key,)), "3m")
    with pytest.raises(Exit) as error:
        check_project_file(tmp_path)
    assert error.value.code == ExitCode.BAD_INPUT
    assert f"{env_name((key,))} cannot override todoops.{key}" in error.value.message and "quote" in error.value.message
    (tmp_path / "invoke.yaml").write_text(f"todoops:\n  {key}: '{value}'\n")
    check_project_file(tmp_path)


@pytest.mark.parametrize(("project", "env", "fragment"), [
    ("todoops:\n  cluster:\n", {}, "todoops.cluster (from invoke.yaml) is not a section"),
    ("todoops:\n  build_in_cluster: true\n", {"INVOKE_TODOOPS_BUILD_IN_CLUSTER": "false"}, "cannot override"),
    ("", {"INVOKE_TODOOPS_LOG_TAIL": "lots"}, "todoops.log_tail (from INVOKE_TODOOPS_LOG_TAIL) is not a whole number"),
    ("", {"INVOKE_TODOOPS_NAMESPCE": "x"}, "INVOKE_TODOOPS_NAMESPCE is not a setting"),
])
def test_the_cli_says_the_key_and_the_fix_without_a_traceback(tmp_path, project, env, fragment):
    (tmp_path / "tasks.py").write_text((REPO / "tasks.py").read_text())
    (tmp_path / "invoke.yaml").write_text(project)
    clean = {key: value for key, value in os.environ.items() if not key.startswith("INVOKE_")}
    done = subprocess.run([str(Path(sys.executable).with_name("invoke")), "chart.lint", "--check", "none"], cwd=tmp_path,
                          env={**clean, "PYTHONPATH": str(REPO), **env}, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (ExitCode.BAD_INPUT, "")
    assert fragment in done.stderr and "hint:" in done.stderr and "Traceback" not in done.stderr

