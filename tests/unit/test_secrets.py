"""The Secret: exactly what .env says, generated values kept from the cluster, applied through stdin."""
import base64
import json

import pytest
from invoke import Exit

from tests.conftest import commands_run
from tests.unit.fixtures import ENV, env_text, failed, not_found, ok, placed, project
from tests.unit.fixtures.leaks import CORPUS, NEON, leaked
from todoops.config import resolve
from todoops.env_keys import KEYS, value_problems
from todoops.redaction import REDACTOR
from todoops.report import Report
from todoops.secrets import desired_values, prepare, secret_manifest

SPECS = {spec.name: spec for spec in KEYS}
KUBECTL = "kubectl --context minikube --namespace todo-app"
GET_SECRET = f"{KUBECTL} get secret todo-app-secrets -o json"
APPLY = f"{KUBECTL} apply -f -"
SECRET_NOT_FOUND = failed(stderr='Error from server (NotFound): secrets "todo-app-secrets" not found\n')


def cluster_secret(values: dict[str, str]) -> str:
    return json.dumps({"kind": "Secret", "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}})


def stdin_of(c, index: int) -> str:
    return c.run.call_args_list[index].kwargs["in_stream"].getvalue()


def test_generated_values_are_never_checked_against_placeholders(make_context, tmp_path, monkeypatch):
    # About 1 in 500 random tokens contains "xxx"; the first deploy must not refuse its own secret.
    project(tmp_path, {})
    monkeypatch.setattr("todoops.secrets.random.token_urlsafe", lambda size: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
    c = make_context({GET_SECRET: SECRET_NOT_FOUND, APPLY: ok()})
    prepare(c, resolve(c), Report())
    assert set(json.loads(stdin_of(c, 1))["data"]) == {"JWT_SECRET", "POSTGRES_PASSWORD"}


def test_a_long_database_url_is_valid_and_never_wrapped(make_context, tmp_path):
    assert value_problems(SPECS["DATABASE_URL"], NEON) == []
    manifest = secret_manifest(resolve(make_context()), {"DATABASE_URL": NEON})
    encoded = manifest["data"]["DATABASE_URL"]
    assert "\n" not in encoded and base64.b64decode(encoded).decode() == NEON


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


def test_first_run_creates_the_secret_through_stdin_and_leaves_the_namespace_to_its_step(make_context, tmp_path):
    project(tmp_path)
    c = make_context({GET_SECRET: not_found("secrets", "todo-app-secrets"), APPLY: ok()})
    assert prepare(c, resolve(c), Report()) is False
    assert commands_run(c) == [GET_SECRET, APPLY]
    secret = json.loads(stdin_of(c, 1))
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
    c = make_context({GET_SECRET: ok(cluster_secret(current)), APPLY: ok()})
    assert prepare(c, resolve(c), Report()) is True
    assert commands_run(c) == [GET_SECRET, APPLY]


def test_emptying_an_optional_key_removes_it_from_the_cluster_secret(make_context, tmp_path):
    project(tmp_path, {**ENV, "OPENAI_API_KEY": ""})
    current = {**{key: value for key, value in ENV.items() if value}, "OPENAI_API_KEY": CORPUS["OPENAI_API_KEY"]}
    c = make_context({GET_SECRET: ok(cluster_secret(current)), APPLY: ok(),
                      **placed(tmp_path, tmp_path / "secrets" / "out.yaml")})
    assert prepare(c, resolve(c), Report()) is True
    applied = json.loads(stdin_of(c, commands_run(c).index(APPLY)))["data"]
    assert applied == json.loads(cluster_secret({key: value for key, value in ENV.items() if value}))["data"]
    prepare(c, resolve(c), Report(), output=tmp_path / "secrets" / "out.yaml")
    assert json.loads((tmp_path / "secrets" / "out.yaml").read_text())["data"] == applied


def test_a_generated_key_absent_from_env_keeps_the_cluster_value(make_context, tmp_path):
    project(tmp_path, {"OPENAI_MODEL": "o1"})
    current = {key: value for key, value in ENV.items() if value}
    c = make_context({GET_SECRET: ok(cluster_secret(current)), APPLY: ok()})
    prepare(c, resolve(c), Report())
    applied = json.loads(stdin_of(c, commands_run(c).index(APPLY)))["data"]
    assert applied == json.loads(cluster_secret({**current, "OPENAI_MODEL": "o1"}))["data"]


def test_dry_run_writes_and_applies_nothing(make_context, tmp_path, capsys):
    project(tmp_path)
    c = make_context({GET_SECRET: not_found("secrets", "todo-app-secrets")})
    prepare(c, resolve(c, dry_run=True), Report())
    assert commands_run(c) == [GET_SECRET]
    assert "[dry-run] kubectl --context minikube --namespace todo-app apply -f - < (stdin)" in capsys.readouterr().err


def test_secret_hygiene_corpus(make_context, tmp_path, capsys):
    project(tmp_path, CORPUS)
    c = make_context({GET_SECRET: ok(cluster_secret({"JWT_SECRET": CORPUS["JWT_SECRET"] + "x"})),
                      APPLY: ok(), **placed(tmp_path, tmp_path / "secrets" / "out.yaml")})
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
