"""todoops.remote.targets: --host values parsed into targets, and bad ones refused."""
import pytest
from invoke import Exit

from todoops.errors import ExitCode
from todoops.remote import targets
from todoops.remote.targets import Target


@pytest.mark.parametrize("text, target", [
    ("alice@devbox", Target("devbox", "alice")),
    ("alice@10.0.0.5:2222", Target("10.0.0.5", "alice", 2222)),
    ("devbox", Target("devbox")),
    ("ci-runner.example.internal:22", Target("ci-runner.example.internal", None, 22)),
    ("bob@[2001:db8::1]:2200", Target("2001:db8::1", "bob", 2200)),
    (" deploy_user@box-1 ", Target("box-1", "deploy_user")),
])
def test_hosts_parse(text, target):
    assert targets.parse_target(text) == target


@pytest.mark.parametrize("text", ["", "alice@", "@box", "alice@box:0", "alice@box:70000", "alice@box:22:1",
                                  "alice@box;rm -rf /", "al ice@box", "alice@-box", "ssh://alice@box"])
def test_malformed_hosts_are_refused_with_the_expected_form(text):
    with pytest.raises(Exit) as raised:
        targets.parse_target(text)
    assert raised.value.code == ExitCode.BAD_INPUT
    assert "user@machine[:port]" in raised.value.message


def test_target_label_round_trips():
    assert str(Target("box", "alice", 2222)) == "alice@box:2222"
    assert str(Target("box")) == "box"
    assert targets.parse_targets(" a@one, two:2200 ,") == (Target("one", "a"), Target("two", None, 2200))
    assert targets.parse_targets("") == ()
