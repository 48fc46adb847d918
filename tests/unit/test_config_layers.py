"""``todoops.config.layers``: the four layers resolved into ``Settings``, every bad value refused with its key."""
import pytest
from invoke import Context, Exit

from tests.conftest import context_config
from todoops.config import resolve
from todoops.errors import ExitCode


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
