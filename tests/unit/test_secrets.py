import base64
import json
import stat
from urllib.parse import quote, quote_plus

import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import ENV, env_text, failed, not_found, ok, project
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.redaction import REDACTOR
from todoops.report import Report
from todoops.secrets import (KEYS, check_env, desired_values, is_placeholder, key_specs, prepare, read_env,
                             secret_manifest, value_problems, write_private)

SPECS = {spec.name: spec for spec in KEYS}
KUBECTL = "kubectl --context minikube --namespace todo-app"
GET_SECRET = f"{KUBECTL} get secret todo-app-secrets -o json"
GET_NS = f"{KUBECTL} get namespace todo-app -o name"
APPLY = f"{KUBECTL} apply -f -"


def placed(root, target, ignored: bool = True, top=None) -> dict:
    """git's answers about an --output target: the project's top level, the target folder's, check-ignore."""
    folder = target.parent if target.parent.exists() else root
    return {f"git -C {root} rev-parse --show-toplevel": ok(f"{root}\n"),
            f"git -C {folder} rev-parse --show-toplevel": ok(f"{top or root}\n"),
            f"git -C {root} check-ignore -q {target}": ok() if ignored else failed(exited=1)}
SECRET_NOT_FOUND = failed(stderr='Error from server (NotFound): secrets "todo-app-secrets" not found\n')
NEON = "postgresql://app_user:Zx9%2Fq+Lm4wRt7VbN2kP@ep-cool-name-123456.eu-central-1.aws.neon.tech/todo?sslmode=require"


def cluster_secret(values: dict[str, str]) -> str:
    return json.dumps({"kind": "Secret", "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}})


def stdin_of(c, index: int) -> str:
    return c.run.call_args_list[index].kwargs["in_stream"].getvalue()


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


def test_generated_values_are_never_checked_against_placeholders(make_context, tmp_path, monkeypatch):
    # About 1 in 500 random tokens contains "xxx"; the first deploy must not refuse its own secret.
    project(tmp_path, {})
    monkeypatch.setattr("todoops.secrets.random.token_urlsafe", lambda size: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
    c = make_context({GET_SECRET: SECRET_NOT_FOUND, GET_NS: ok("namespace/todo-app"), APPLY: ok()})
    prepare(c, resolve(c), Report())
    assert set(json.loads(stdin_of(c, 2))["data"]) == {"JWT_SECRET", "POSTGRES_PASSWORD"}


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


def test_a_long_database_url_is_valid_and_never_wrapped(make_context, tmp_path):
    assert value_problems(SPECS["DATABASE_URL"], NEON) == []
    manifest = secret_manifest(resolve(make_context()), {"DATABASE_URL": NEON})
    encoded = manifest["data"]["DATABASE_URL"]
    assert "\n" not in encoded and base64.b64decode(encoded).decode() == NEON


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


def test_desired_values_prefer_env_then_cluster_then_answer_then_generated():
    specs = KEYS
    values = desired_values({"JWT_SECRET": "", "OPENAI_MODEL": "gpt-4o-mini"},
                            {"JWT_SECRET": "from-cluster-" + "k" * 30, "OPENAI_MODEL": "old"}, specs,
                            ask=lambda name: "sk-answered-on-the-terminal-123" if name == "OPENAI_API_KEY" else "")
    assert values["JWT_SECRET"].startswith("from-cluster-")
    assert values["OPENAI_MODEL"] == "gpt-4o-mini"
    assert values["OPENAI_API_KEY"] == "sk-answered-on-the-terminal-123"
    assert len(values["POSTGRES_PASSWORD"]) >= 16 and REDACTOR(values["POSTGRES_PASSWORD"]) == "***"
    assert "DATABASE_URL" not in values


def test_force_ask_replaces_a_value_from_env():
    values = desired_values({"OPENAI_API_KEY": "sk-old-value-from-dotenv-file"}, {}, KEYS,
                            ask=lambda name: "sk-new-value-typed-in-hidden" if name == "OPENAI_API_KEY" else "",
                            force_ask=("OPENAI_API_KEY",))
    assert values["OPENAI_API_KEY"] == "sk-new-value-typed-in-hidden"


def test_first_run_creates_namespace_and_secret_through_stdin(make_context, tmp_path):
    project(tmp_path)
    c = make_context({GET_SECRET: not_found("secrets", "todo-app-secrets"), GET_NS: not_found("namespaces", "todo-app"),
                      APPLY: ok()})
    assert prepare(c, resolve(c), Report()) is False
    assert commands_run(c) == [GET_SECRET, GET_NS, APPLY, APPLY]
    assert json.loads(stdin_of(c, 2))["kind"] == "Namespace"
    secret = json.loads(stdin_of(c, 3))
    assert secret["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "todoops"
    assert base64.b64decode(secret["data"]["JWT_SECRET"]).decode() == ENV["JWT_SECRET"]
    assert set(secret["data"]) == {"JWT_SECRET", "POSTGRES_PASSWORD"}


def test_rerun_with_the_same_values_changes_nothing(make_context, tmp_path):
    project(tmp_path)
    current = {key: value for key, value in ENV.items() if value}
    c = make_context({GET_SECRET: ok(cluster_secret(current))})
    assert prepare(c, resolve(c), Report()) is False
    assert commands_run(c) == [GET_SECRET]


def test_generated_values_are_kept_from_the_cluster(make_context, tmp_path):
    project(tmp_path, {**ENV, "JWT_SECRET": "", "POSTGRES_PASSWORD": ""})
    current = {"JWT_SECRET": "g" * 10 + ENV["JWT_SECRET"], "POSTGRES_PASSWORD": ENV["POSTGRES_PASSWORD"]}
    c = make_context({GET_SECRET: ok(cluster_secret(current))})
    prepare(c, resolve(c), Report())
    assert commands_run(c) == [GET_SECRET]


def test_a_changed_value_updates_the_secret_and_says_so(make_context, tmp_path):
    project(tmp_path, {**ENV, "OPENAI_MODEL": "gpt-4o-mini"})
    current = {key: value for key, value in ENV.items() if value}
    c = make_context({GET_SECRET: ok(cluster_secret(current)), GET_NS: ok("namespace/todo-app"), APPLY: ok()})
    assert prepare(c, resolve(c), Report()) is True
    assert commands_run(c) == [GET_SECRET, GET_NS, APPLY]


def test_emptying_an_optional_key_removes_it_from_the_cluster_secret(make_context, tmp_path):
    project(tmp_path, {**ENV, "OPENAI_API_KEY": ""})
    current = {**{key: value for key, value in ENV.items() if value}, "OPENAI_API_KEY": CORPUS["OPENAI_API_KEY"]}
    c = make_context({GET_SECRET: ok(cluster_secret(current)), GET_NS: ok("namespace/todo-app"), APPLY: ok(),
                      **placed(tmp_path, tmp_path / "secrets" / "out.yaml")})
    assert prepare(c, resolve(c), Report()) is True
    applied = json.loads(stdin_of(c, commands_run(c).index(APPLY)))["data"]
    assert applied == json.loads(cluster_secret({key: value for key, value in ENV.items() if value}))["data"]
    prepare(c, resolve(c), Report(), output=tmp_path / "secrets" / "out.yaml")
    assert json.loads((tmp_path / "secrets" / "out.yaml").read_text())["data"] == applied


def test_a_generated_key_absent_from_env_keeps_the_cluster_value(make_context, tmp_path):
    project(tmp_path, {"OPENAI_MODEL": "o1"})
    current = {key: value for key, value in ENV.items() if value}
    c = make_context({GET_SECRET: ok(cluster_secret(current)), GET_NS: ok("namespace/todo-app"), APPLY: ok()})
    prepare(c, resolve(c), Report())
    applied = json.loads(stdin_of(c, commands_run(c).index(APPLY)))["data"]
    assert applied == json.loads(cluster_secret({**current, "OPENAI_MODEL": "o1"}))["data"]


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


def test_output_file_is_private_and_must_be_gitignored(make_context, tmp_path):
    project(tmp_path)
    target = tmp_path / "secrets" / "todo.secret.yaml"
    c = make_context(placed(tmp_path, target))
    prepare(c, resolve(c), Report(), output=target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert json.loads(target.read_text())["metadata"]["name"] == "todo-app-secrets"
    assert commands_run(c) == [f"git -C {tmp_path} rev-parse --show-toplevel"] * 2 + [
        f"git -C {tmp_path} check-ignore -q {target}"]
    assert [path.name for path in target.parent.iterdir()] == ["todo.secret.yaml"]


def test_output_file_tracked_by_git_is_refused(make_context, tmp_path):
    project(tmp_path)
    target = tmp_path / "secret.yaml"
    c = make_context(placed(tmp_path, target, ignored=False))
    with pytest.raises(Exit) as error:
        prepare(c, resolve(c), Report(), output=target)
    assert error.value.code == ExitCode.BAD_INPUT and "not ignored by git" in error.value.message
    assert not target.exists()


@pytest.mark.parametrize(("where", "expected"), [
    (lambda root: root.parent / "elsewhere.secret.yaml", "is outside the project"),
    (lambda root: root / "backend", "is a folder"),
    (lambda root: root / ".env" / "todo.secret.yaml", "which is a file"),
])
def test_output_must_be_a_file_inside_the_project(make_context, tmp_path, where, expected):
    project(tmp_path)
    c = make_context()
    with pytest.raises(Exit) as error:
        prepare(c, resolve(c), Report(), output=where(tmp_path))
    assert error.value.code == ExitCode.BAD_INPUT and expected in error.value.message
    assert commands_run(c) == []


def test_output_into_another_git_repository_is_refused(make_context, tmp_path):
    project(tmp_path)
    (tmp_path / "vendor" / "other").mkdir(parents=True)
    target = tmp_path / "vendor" / "other" / "todo.secret.yaml"
    c = make_context(placed(tmp_path, target, top=tmp_path / "vendor" / "other"))
    with pytest.raises(Exit) as error:
        prepare(c, resolve(c), Report(), output=target)
    assert error.value.code == ExitCode.BAD_INPUT and "another git repository" in error.value.message
    assert not target.exists()


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    target = tmp_path / "todo.secret.yaml"
    target.write_text("the previous, complete Secret\n")
    target.chmod(0o644)

    def interrupted(descriptor):
        raise KeyboardInterrupt

    monkeypatch.setattr("todoops.secrets.os.fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_private(target, "x" * 100000)
    assert target.read_text() == "the previous, complete Secret\n"
    assert [path.name for path in tmp_path.iterdir()] == ["todo.secret.yaml"]
    monkeypatch.undo()
    write_private(target, "new\n")
    assert target.read_text() == "new\n" and stat.S_IMODE(target.stat().st_mode) == 0o600


def test_dry_run_writes_and_applies_nothing(make_context, tmp_path, capsys):
    project(tmp_path)
    c = make_context({GET_SECRET: not_found("secrets", "todo-app-secrets"), GET_NS: not_found("namespaces", "todo-app")})
    prepare(c, resolve(c, dry_run=True), Report())
    assert commands_run(c) == [GET_SECRET, GET_NS]
    assert "[dry-run] kubectl --context minikube --namespace todo-app apply -f - < (stdin)" in capsys.readouterr().err


def spellings(value: str) -> set[str]:
    raw = value.encode()
    return {value, base64.b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("="),
            quote(value, safe=""), quote_plus(value)}


CORPUS = {
    "JWT_SECRET": "Hq3/Lz+Vw8=Rk1&Ty6%Pn0#Bx5@Mc2!Ja9?Sd4",
    "POSTGRES_PASSWORD": "pW-7xK:q2/Lm@9#vR&4z",
    "DATABASE_URL": NEON,
    "OPENAI_API_KEY": "sk-proj-Ab3De5Gh7Jk9Mn1Pq3St5Vw7Yz9",
    "OPENAI_BASE_URL": "",
    "OPENAI_MODEL": "",
}


def leaked(text: str) -> list[str]:
    forms = set().union(*(spellings(v) for v in CORPUS.values() if v), spellings("Zx9/q+Lm4wRt7VbN2kP"))
    return sorted(form for form in forms if form in text)


def test_secret_hygiene_corpus(make_context, tmp_path, capsys):
    project(tmp_path, CORPUS)
    c = make_context({GET_SECRET: ok(cluster_secret({"JWT_SECRET": CORPUS["JWT_SECRET"] + "x"})),
                      GET_NS: ok("namespace/todo-app"), APPLY: ok(), **placed(tmp_path, tmp_path / "secrets" / "out.yaml")})
    cfg = resolve(c)
    prepare(c, cfg, Report())
    prepare(c, cfg, Report(), output=tmp_path / "secrets" / "out.yaml")
    (tmp_path / ".env").write_text(env_text({**CORPUS, "POSTGRES_PASSWORD": CORPUS["POSTGRES_PASSWORD"][:10]}))
    with pytest.raises(Exit) as error:
        prepare(c, cfg, Report())
    out, err = capsys.readouterr()
    assert leaked(out + err + error.value.message) == []
    assert leaked(" ".join(commands_run(c))) == []
    written = [path for path in tmp_path.rglob("*") if path.is_file() and path.name not in (".env", "out.yaml")]
    assert all(leaked(path.read_text()) == [] for path in written)
