"""Reading .env: problems by line number and known key only, nothing run before the file is valid."""
import base64

import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import ENV, env_text, project
from tests.unit.fixtures.leaks import CORPUS, NEON
from todoops.config import resolve
from todoops.env_file import check_env, key_specs, read_env
from todoops.env_keys import KEYS
from todoops.errors import ExitCode
from todoops.redaction import REDACTOR
from todoops.report import Report
from todoops.secrets import prepare

SPECS = {spec.name: spec for spec in KEYS}


def test_read_env_registers_secrets_at_once_and_reports_malformed_lines_by_number(tmp_path):
    path = tmp_path / ".env"
    path.write_text('JWT_SECRET=jT4mQ9vXz2LkP8sR1wYb6NcF0hGdE3aU7iO5eW\nthis is not an assignment\n'
                    'POSTGRES_PASSWORD="unterminated\nHOME_DIR=${HOME}\n')
    values, problems = read_env(path, SPECS)
    assert REDACTOR(values["JWT_SECRET"]) == "***"
    assert any("lines 2-3 are not KEY=VALUE" in problem for problem in problems)
    assert all("assignment" not in problem and "HOME" not in problem for problem in problems)


def test_read_env_never_expands_from_the_environment(tmp_path):
    path = tmp_path / ".env"
    path.write_text("OPENAI_MODEL=${HOME}\n")
    values, _ = read_env(path, SPECS)
    assert values["OPENAI_MODEL"] == "${HOME}"


def test_absent_keys_are_fine_and_unknown_keys_are_named_by_line(make_context, tmp_path):
    project(tmp_path, {"JWT_SECRET": "", "JWT_SECRETS": "x"})
    _, problems = check_env(resolve(make_context()))
    assert problems == [".env line 2 sets a key .env.example does not have (did you mean JWT_SECRET?): "
                        "fix the spelling or add it to .env.example"]


def test_a_three_line_env_with_an_external_database_is_accepted(make_context, tmp_path):
    project(tmp_path, {"DATABASE_URL": NEON, "OPENAI_API_KEY": CORPUS["OPENAI_API_KEY"], "OPENAI_MODEL": "o1"})
    values, problems = check_env(resolve(make_context()))
    assert problems == [] and set(values) == {"DATABASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"}


WRAPPED = "Zm9vYmFyLWEtd3JhcHBlZC1zZWNyZXQtdmFsdWUtdGhhdC1nb2Vz"


@pytest.mark.parametrize(("text", "expected"), [
    (f"OPENAI_API_KEY=sk-proj-Ab3De5Gh7Jk9\n{WRAPPED}\n", ".env line 2 is not KEY=VALUE"),
    (f"OPENAI_API_KEY: {WRAPPED}\n", ".env line 1 is not KEY=VALUE"),
    (f"\n\n# pasted\n{WRAPPED}=\n", ".env line 4 sets a key .env.example does not have"),
    (f"-----BEGIN OPENSSH PRIVATE KEY-----\n{WRAPPED}\n{WRAPPED}\n-----END OPENSSH PRIVATE KEY-----\n",
     ".env lines 1-4 are not KEY=VALUE"),
    (f"JWT_SECRET={ENV['JWT_SECRET']}\nOPENAI_MODEL=o1\nJWT_SECRET={WRAPPED}\n", ".env lines 1, 3 all set JWT_SECRET"),
])
def test_env_lines_are_reported_by_number_never_by_content(make_context, tmp_path, capsys, text, expected):
    project(tmp_path, None)
    (tmp_path / ".env").write_text(text)
    c = make_context()
    with pytest.raises(Exit) as error:
        prepare(c, resolve(c), Report())
    assert error.value.code == ExitCode.BAD_INPUT and expected in error.value.message
    shown = error.value.message + "".join(capsys.readouterr())
    assert WRAPPED[:12] not in shown and "PRIVATE" not in shown and "sk-proj" not in shown
    assert commands_run(c) == []


def test_keys_follow_env_example(make_context, tmp_path):
    project(tmp_path)
    assert [spec.name for spec in key_specs(tmp_path)] == list(ENV)


@pytest.mark.parametrize(("env", "expected"), [
    ({**ENV, "JWT_SECRET": "changeme"}, "JWT_SECRET is a placeholder"),
    ({**ENV, "JWT_SECRET": base64.b64encode(b"changeme-changeme-changeme-changeme").decode()}, "placeholder"),
    ({**ENV, "POSTGRES_PASSWORD": "Short-9x"}, "POSTGRES_PASSWORD has 8 characters"),
    ({**ENV, "DATABASE_URL": "sqlite:///tmp/x.db"}, "DATABASE_URL must be a postgresql://"),
    ({**ENV, "OPENAI_MODEL": "gpt\x00mini"}, "OPENAI_MODEL holds a control character"),
])
def test_bad_env_fails_before_any_command(make_context, tmp_path, env, expected):
    project(tmp_path, env)
    c = make_context()
    with pytest.raises(Exit) as error:
        prepare(c, resolve(c), Report())
    assert error.value.code == ExitCode.BAD_INPUT
    assert expected in error.value.message and "hint:" in error.value.message
    assert commands_run(c) == []


@pytest.mark.parametrize("url", ["postgresql://app:Pw9-Lm2xQ7kR4vT8@[bad/todo",
                                 "postgresql://app:Pw9-Lm2xQ7kR4vT8@db.internal:Pw9x/todo",
                                 "postgresql://app:Pw9-Lm2xQ7kR4vT8@db.internal:99999/todo"])
def test_a_url_the_parser_rejects_is_bad_input_without_any_value(make_context, tmp_path, capsys, url):
    project(tmp_path, {**ENV, "DATABASE_URL": url})
    c = make_context()
    with pytest.raises(Exit) as error:
        prepare(c, resolve(c), Report())
    assert error.value.code == ExitCode.BAD_INPUT and "DATABASE_URL" in error.value.message
    shown = error.value.message + "".join(capsys.readouterr())
    assert "Pw9" not in shown and "db.internal" not in shown and "bad" not in shown.replace("bad input", "")


def test_malformed_env_fails_before_any_command(make_context, tmp_path):
    project(tmp_path)
    (tmp_path / ".env").write_text(env_text(ENV) + "export = = =\n")
    c = make_context()
    with pytest.raises(Exit) as error:
        prepare(c, resolve(c), Report())
    assert "line 7 is not KEY=VALUE" in error.value.message
    assert commands_run(c) == []
