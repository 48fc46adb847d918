"""The rules for a value: placeholders (plain and base64) and problems that name the key, never the value."""
import base64

import pytest

from tests.unit.fixtures import ENV
from tests.unit.fixtures.leaks import NEON
from todoops.env_keys import KEYS, is_placeholder, value_problems

SPECS = {spec.name: spec for spec in KEYS}


@pytest.mark.parametrize("value", ["changeme", "CHANGE_ME_PLEASE", "your-api-key-here", "<jwt secret>",
                                   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                   "replace-me-with-a-real-secret-value-now", "postgresql://user:pass@example.com/db",
                                   "secret", "Y2hhbmdlbWU=", base64.b64encode(b"your-secret-key-goes-here").decode()])
def test_placeholders_are_detected_plain_and_base64(value):
    assert is_placeholder(value)


@pytest.mark.parametrize("value", [ENV["JWT_SECRET"], ENV["POSTGRES_PASSWORD"], NEON,
                                   base64.b64encode(b"q8Lr2Vx0Tn5Wm3Kb9Zc1").decode(),
                                   # Real values that merely contain a placeholder-ish word, or are short.
                                   "o1", "gpt-4o-mini", "default", "llama-3-test", "Q7xXxk2Lm9pR4vT8wZ1nB6cY3hJ5sF0d",
                                   "sk-proj-XXX9Lm2pR4vT8wZ1nB6cY3hJ5s", "https://example-llm.internal/v1"])
def test_real_values_are_not_placeholders(value):
    assert not is_placeholder(value)


def test_env_example_values_are_placeholders_plain_and_base64():
    examples = {"sk-your-openai-key", "Kq2-dummy-Lm9"}
    assert is_placeholder("Kq2-dummy-Lm9", examples)
    assert is_placeholder(base64.b64encode(b"Kq2-dummy-Lm9").decode(), examples)
    assert not is_placeholder("Kq2-dummy-Lm9-but-real", examples)


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("JWT_SECRET", "tooShort-9Kq2", "has 13 characters, at least 32"),
    ("POSTGRES_PASSWORD", "Pq7-Lm2x", "at least 16"),
    ("DATABASE_URL", "mysql://u:p4ssw0rdLong@db.internal/x", "must be a postgresql://host/... URL"),
    ("DATABASE_URL", "postgresql:///nohost", "must be a postgresql://"),
    ("OPENAI_BASE_URL", "ftp://models.internal/v1", "must be a https://"),
    ("OPENAI_API_KEY", "sk-" + "Q" * 3 + "w9Lm2", "at least 20"),
])
def test_value_problems_name_the_key_never_the_value(key, value, expected):
    problems = value_problems(SPECS[key], value)
    assert any(expected in problem for problem in problems)
    assert all(value not in problem for problem in problems)
