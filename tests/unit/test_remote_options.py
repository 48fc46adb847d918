"""todoops.remote.options: SSH options from settings, then the SSH config, then defaults."""
import pytest
from invoke import Exit

from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.remote import options
from todoops.remote.targets import Target


def test_host_and_ssh_settings_resolve_from_config(make_context):
    cfg = resolve(make_context(host=["a@one", "b@two:2200"], ssh={"identity_file": "~/.ssh/deploy"}))
    assert cfg.host == "a@one,b@two:2200"
    assert cfg.ssh.identity_file == "~/.ssh/deploy" and cfg.ssh.known_hosts == "" and cfg.ssh.remote_dir == ""
    assert resolve(make_context()).host == ""


@pytest.mark.parametrize("setting, ssh_config, policy", [
    ("", {}, "strict"),
    ("", {"stricthostkeychecking": "accept-new"}, "accept-new"),
    ("", {"stricthostkeychecking": "no"}, "accept-new"),
    ("", {"stricthostkeychecking": "yes"}, "strict"),
    ("strict", {"stricthostkeychecking": "no"}, "strict"),
    ("accept-new", {}, "accept-new"),
])
def test_host_key_policy_explicit_then_ssh_config_then_strict(setting, ssh_config, policy):
    assert options.host_key_policy(setting, ssh_config) == policy


def test_unknown_host_key_policy_is_refused():
    with pytest.raises(Exit) as raised:
        options.host_key_policy("trust-everything", {})
    assert raised.value.code == ExitCode.BAD_INPUT and "strict, accept-new" in raised.value.message


def test_known_hosts_file_explicit_then_ssh_config_then_default():
    assert str(options.known_hosts_path("/x/known", {"userknownhostsfile": ["/y/known"]})) == "/x/known"
    assert str(options.known_hosts_path("", {"userknownhostsfile": ["/y/known", "/z/known"]})) == "/y/known"
    assert str(options.known_hosts_path("", {"userknownhostsfile": "/y/known /z/known"})) == "/y/known"
    assert options.known_hosts_path("", {}).name == "known_hosts"
    assert "~" not in str(options.known_hosts_path("", {}))


def test_an_explicit_identity_is_the_only_key_offered():
    assert options.auth_kwargs("") == {}
    kwargs = options.auth_kwargs("/keys/deploy")
    assert kwargs == {"key_filename": ["/keys/deploy"], "allow_agent": False, "look_for_keys": False}


def test_jump_hops_explicit_then_ssh_config():
    assert options.jump_hops("", {}) == ()
    assert options.jump_hops("j@bastion:2222", {"proxyjump": "other"}) == (Target("bastion", "j", 2222),)
    assert options.jump_hops("", {"proxyjump": "a@one,two"}) == (Target("one", "a"), Target("two"))
    assert options.jump_hops("none", {"proxyjump": "a@one"}) == ()
