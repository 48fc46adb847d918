"""``todoops.config.schema``: invoke holds every default as a string; invoke.yaml repeats none of them."""
from pathlib import Path

import yaml
from invoke import Config, Context

from tests.conftest import context_config
from todoops.config import DEFAULTS, SCHEMA, leaves, resolve

REPO = Path(__file__).resolve().parents[2]


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

