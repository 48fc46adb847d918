import pytest
from invoke import Exit

from todoops.config import DEFAULTS, check_project_file, resolve, unknown_keys
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


def test_unknown_keys_walks_nested_schema():
    assert unknown_keys({"bases": {"mirror": "", "typo": 1}}, DEFAULTS["todoops"]) == ["todoops.bases.typo"]


@pytest.mark.parametrize("flags, fragment", [
    ({"namespace": "Todo_App"}, "not a DNS label"),
    ({"namespace": "a" * 64}, "not a DNS label"),
    ({"release": "-x"}, "not a DNS label"),
    ({"provider": "aks"}, "unknown provider"),
    ({"method": "kustomize"}, "unknown method"),
    ({"rollout_timeout": 0}, "positive number"),
])
def test_bad_values_are_rejected(make_context, flags, fragment):
    with pytest.raises(Exit) as error:
        resolve(make_context(), **flags)
    assert error.value.code == ExitCode.BAD_INPUT
    assert fragment in error.value.message


def test_env_strings_become_numbers(make_context):
    assert resolve(make_context(rollout_timeout="90")).rollout_timeout == 90


@pytest.mark.parametrize("content, fragment", [
    ("todoops:\n\tnamespace: x\n", "line 2 is not valid YAML"),
    ("- just\n- a list\n", "must be a mapping"),
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
