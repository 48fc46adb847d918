import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from invoke import Config, Context, Exit

from tests.conftest import context_config
from todoops.config import DEFAULTS, SCHEMA, check_project_file, env_name, leaves, resolve
from todoops.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]


def test_defaults_resolve_into_frozen_settings(make_context, tmp_path):
    cfg = resolve(make_context())
    assert (cfg.namespace, cfg.provider, cfg.method) == ("todo-app", "minikube", "kubectl")
    assert cfg.env_file == tmp_path / ".env"
    assert [image.name for image in cfg.images] == ["backend", "frontend"]
    with pytest.raises(AttributeError):
        cfg.namespace = "other"


def test_config_layer_then_flags_win(make_context):
    c = make_context(namespace="from-config", provider="kind")
    cfg = resolve(c, namespace="from-flag", provider=None)
    assert cfg.namespace == "from-flag"
    assert cfg.provider == "kind"


def test_partial_nested_section_keeps_other_defaults(make_context):
    cfg = resolve(make_context(bases={"mirror": "http://mirror.invalid/debian"}))
    assert cfg.bases.mirror == "http://mirror.invalid/debian"
    assert cfg.bases.security_mirror == ""


@pytest.mark.parametrize("overrides, fragment", [
    ({"namespce": "x"}, "todoops.namespce"),
    ({"images": {"backend": {"repo": "x"}}}, "todoops.images.backend.repo"),
])
def test_unknown_keys_are_rejected_with_their_path(make_context, overrides, fragment):
    with pytest.raises(Exit) as error:
        resolve(make_context(**overrides))
    assert error.value.code == ExitCode.BAD_INPUT
    assert fragment in error.value.message and "hint:" in error.value.message


@pytest.mark.parametrize("flags, fragment", [
    ({"namespace": "Todo_App"}, "not a DNS label"),
    ({"namespace": "a" * 64}, "not a DNS label"),
    ({"release": "-x"}, "not a DNS label"),
    ({"provider": "aks"}, "todoops.provider (from the command line) is not a known provider"),
    ({"method": "kustomize"}, "is not a known method"),
    ({"rollout_timeout": 0}, "is not a duration above 0"),
    ({"rollout_timeout": "3 fortnights"}, "is not a duration above 0"),
])
def test_bad_values_are_rejected(make_context, flags, fragment):
    with pytest.raises(Exit) as error:
        resolve(make_context(), **flags)
    assert error.value.code == ExitCode.BAD_INPUT
    assert fragment in error.value.message


def test_env_strings_become_numbers(make_context):
    assert resolve(make_context(rollout_timeout="90")).rollout_timeout == 90


def shell_context(tmp_path, monkeypatch, env: dict[str, str], **project) -> Context:
    """A Context whose config invoke loads as the CLI does: defaults, the project's settings, then the shell."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = context_config(tmp_path, **project)
    config.load_shell_env()
    return Context(config)


@pytest.mark.parametrize(("env", "field", "expected"), [
    ({"INVOKE_TODOOPS_BUILD_IN_CLUSTER": "false"}, "build_in_cluster", False),
    ({"INVOKE_TODOOPS_BUILD_IN_CLUSTER": "no"}, "build_in_cluster", False),
    ({"INVOKE_TODOOPS_BUILD_IN_CLUSTER": "Off"}, "build_in_cluster", False),
    ({"INVOKE_TODOOPS_BUILD_IN_CLUSTER": "yes"}, "build_in_cluster", True),
    ({"INVOKE_TODOOPS_ROLLOUT_TIMEOUT": "3m"}, "rollout_timeout", 180),
    ({"INVOKE_TODOOPS_ROLLOUT_TIMEOUT": "1m30s"}, "rollout_timeout", 90),
    ({"INVOKE_TODOOPS_ROLLOUT_TIMEOUT": "45"}, "rollout_timeout", 45),
    ({"INVOKE_TODOOPS_LOCAL_CONTEXTS": "kind-*, lab"}, "local_contexts", ("kind-*", "lab")),
    ({"INVOKE_TODOOPS_BUILD_JOBS": "4"}, "build_jobs", 4),
])
def test_variables_are_read_by_the_schema_not_by_invoke(tmp_path, monkeypatch, env, field, expected):
    assert getattr(resolve(shell_context(tmp_path, monkeypatch, env)), field) == expected


@pytest.mark.parametrize(("env", "fragment"), [
    ({"INVOKE_TODOOPS_BUILD_JOBS": "many"}, "todoops.build_jobs (from INVOKE_TODOOPS_BUILD_JOBS) is not a whole number"),
    ({"INVOKE_TODOOPS_BUILD_IN_CLUSTER": "maybe"}, "(from INVOKE_TODOOPS_BUILD_IN_CLUSTER) is not a switch"),
    ({"INVOKE_TODOOPS_ROLLOUT_TIMEOUT": "-3m"}, "(from INVOKE_TODOOPS_ROLLOUT_TIMEOUT) is not a duration"),
    ({"INVOKE_TODOOPS_NAMESPCE": "x"}, "INVOKE_TODOOPS_NAMESPCE is not a setting: did you mean INVOKE_TODOOPS_NAMESPACE?"),
    ({"INVOKE_TODOOPS_IMAGES": "x"}, "INVOKE_TODOOPS_IMAGES is not a setting"),
])
def test_bad_variables_are_refused_by_name(tmp_path, monkeypatch, env, fragment):
    with pytest.raises(Exit) as error:
        resolve(shell_context(tmp_path, monkeypatch, env))
    assert error.value.code == ExitCode.BAD_INPUT and fragment in error.value.message


def test_a_flag_turns_a_configured_switch_off(make_context):
    c = make_context(build_in_cluster=True)
    assert resolve(c).build_in_cluster is True
    assert resolve(c, build_in_cluster="false").build_in_cluster is False
    assert resolve(c, build_in_cluster=None).build_in_cluster is True


@pytest.mark.parametrize(("flags", "fragment"), [
    (lambda root: {"env_file": str(root)}, "todoops.env_file is a folder, not a file"),
    (lambda root: {"env_file": str(root / "tasks.py" / ".env")}, "which is a file"),
])
def test_paths_that_cannot_work_are_refused(make_context, tmp_path, flags, fragment):
    (tmp_path / "tasks.py").write_text("")
    with pytest.raises(Exit) as error:
        resolve(make_context(), **flags(tmp_path))
    assert error.value.code == ExitCode.BAD_INPUT and fragment in error.value.message


@pytest.mark.parametrize(("overrides", "fragment"), [
    ({"namespace": 123}, "todoops.namespace (from invoke.yaml) is not a DNS label"),
    ({"local_contexts": [1, 2]}, "todoops.local_contexts (from invoke.yaml) is not a list"),
    ({"build_jobs": True}, "todoops.build_jobs (from invoke.yaml) is not a whole number"),
])
def test_wrong_types_and_shapes_are_refused_with_the_key(make_context, overrides, fragment):
    with pytest.raises(Exit) as error:
        resolve(make_context(**overrides))
    assert error.value.code == ExitCode.BAD_INPUT and fragment in error.value.message


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


def test_invoke_holds_every_default_as_a_string():
    # A string default is what makes invoke hand every INVOKE_TODOOPS_* variable over untouched.
    assert all(isinstance(value, str) for value in flatten(DEFAULTS["todoops"]))
    assert len(list(flatten(DEFAULTS["todoops"]))) == len(list(leaves(SCHEMA)))


def flatten(tree):
    for value in tree.values():
        yield from flatten(value) if isinstance(value, dict) else [value]


def test_the_project_invoke_yaml_repeats_no_code_default():
    tree = (yaml.safe_load((REPO / "invoke.yaml").read_text()) or {}).get("todoops") or {}
    defaults = resolve(Context(context_config(REPO)))
    configured = resolve(Context(Config(defaults=DEFAULTS, overrides={"todoops": {"root": str(REPO), **tree}})))
    assert [key for key in tree if getattr(configured, key) == getattr(defaults, key)] == []


@pytest.mark.parametrize(("project", "env", "fragment"), [
    ("todoops:\n  cluster:\n", {}, "todoops.cluster (from invoke.yaml) is not a section"),
    ("todoops:\n  build_in_cluster: true\n", {"INVOKE_TODOOPS_BUILD_IN_CLUSTER": "false"}, "cannot override"),
    ("", {"INVOKE_TODOOPS_LOG_TAIL": "lots"}, "todoops.log_tail (from INVOKE_TODOOPS_LOG_TAIL) is not a whole number"),
    ("", {"INVOKE_TODOOPS_NAMESPCE": "x"}, "INVOKE_TODOOPS_NAMESPCE is not a setting"),
])
def test_the_cli_says_the_key_and_the_fix_without_a_traceback(tmp_path, project, env, fragment):
    (tmp_path / "tasks.py").write_text((REPO / "tasks.py").read_text())
    (tmp_path / "invoke.yaml").write_text(project)
    clean = {key: value for key, value in __import__("os").environ.items() if not key.startswith("INVOKE_")}
    done = subprocess.run([str(Path(sys.executable).with_name("invoke")), "chart.lint", "--check", "none"], cwd=tmp_path,
                          env={**clean, "PYTHONPATH": str(REPO), **env}, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (ExitCode.BAD_INPUT, "")
    assert fragment in done.stderr and "hint:" in done.stderr and "Traceback" not in done.stderr


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
