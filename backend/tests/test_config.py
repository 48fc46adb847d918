import pytest

from app.config import DEFAULT_SQLITE_URL, ConfigError, load_database_url, load_settings

SECRET = "s" * 32


def problems_of(env: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    return str(caught.value)


def test_defaults_with_only_a_secret():
    settings = load_settings({"JWT_SECRET": SECRET})
    assert settings.database_url == DEFAULT_SQLITE_URL
    assert (settings.jwt_expire_minutes, settings.log_level, settings.cors_origins) == (60, "INFO", ())
    assert not settings.llm_enabled


@pytest.mark.parametrize(
    "env, variable",
    [
        ({}, "JWT_SECRET"),
        ({"JWT_SECRET": "short"}, "JWT_SECRET"),
        ({"JWT_SECRET": SECRET, "JWT_EXPIRE_MINUTES": "soon"}, "JWT_EXPIRE_MINUTES"),
        ({"JWT_SECRET": SECRET, "JWT_EXPIRE_MINUTES": "0"}, "JWT_EXPIRE_MINUTES"),
        ({"JWT_SECRET": SECRET, "MAX_BODY_BYTES": "12"}, "MAX_BODY_BYTES"),
        ({"JWT_SECRET": SECRET, "LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"JWT_SECRET": SECRET, "CORS_ORIGINS": "example.com"}, "CORS_ORIGINS"),
        ({"JWT_SECRET": SECRET, "DATABASE_URL": "mysql://u:p@h/db"}, "DATABASE_URL"),
        ({"JWT_SECRET": SECRET, "DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"JWT_SECRET": SECRET, "OPENAI_API_KEY": "k"}, "OPENAI_BASE_URL"),
        ({"JWT_SECRET": SECRET, "OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}, "OPENAI_API_KEY"),
        ({"JWT_SECRET": SECRET, "OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "ftp://x"}, "OPENAI_BASE_URL"),
        ({"JWT_SECRET": SECRET, "POSTGRES_HOST": "db"}, "POSTGRES_PASSWORD"),
        ({"JWT_SECRET": SECRET, "WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY"),
        ({"JWT_SECRET": SECRET, "WORKER_THREADS": "many"}, "WORKER_THREADS"),
        ({"APP_ENV": "development", "WEB_CONCURRENCY": "2"}, "JWT_SECRET"),
        ({"JWT_SECRET": SECRET, "POSTGRES_HOST": "db", "POSTGRES_USER": "u", "POSTGRES_PASSWORD": "p",
          "POSTGRES_DB": "d", "POSTGRES_PORT": "x"}, "POSTGRES_PORT"),
    ],
)
def test_each_bad_variable_is_named(env, variable):
    assert f"{variable}:" in problems_of(env)


def test_all_problems_reported_together():
    message = problems_of({"JWT_SECRET": "short", "LOG_LEVEL": "loud", "MAX_BODY_BYTES": "x"})
    assert all(name in message for name in ("JWT_SECRET", "LOG_LEVEL", "MAX_BODY_BYTES"))


def test_secret_values_never_in_errors_or_repr():
    secret_like = "p" * 31
    assert secret_like not in problems_of({"JWT_SECRET": secret_like})
    settings = load_settings({"JWT_SECRET": SECRET, "OPENAI_API_KEY": "sk-hidden", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
                              "DATABASE_URL": "postgresql://u:pw-hidden@db:5432/todo"})
    assert not {SECRET, "sk-hidden", "pw-hidden"} & set(repr(settings).split("'"))
    assert "pw-hidden" not in settings.safe_database_url


def test_workers_and_threads():
    assert (load_settings({"JWT_SECRET": SECRET}).web_concurrency, load_settings({"JWT_SECRET": SECRET}).worker_threads) == (1, 8)
    settings = load_settings({"JWT_SECRET": SECRET, "WEB_CONCURRENCY": "2", "WORKER_THREADS": "4"})
    assert (settings.web_concurrency, settings.worker_threads) == (2, 4)


def test_development_may_run_without_a_secret():
    first = load_settings({"APP_ENV": "development"})
    assert len(first.jwt_secret) >= 32
    assert first.jwt_secret != load_settings({"APP_ENV": "development"}).jwt_secret


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("postgres://u:p@db/todo", "postgresql+psycopg://u:p@db/todo"),
        ("postgresql://u:p@db:6543/todo?sslmode=require", "postgresql+psycopg://u:p@db:6543/todo?sslmode=require"),
        ("sqlite:////var/tmp/x.db", "sqlite:////var/tmp/x.db"),
    ],
)
def test_database_url_spellings(raw, expected):
    assert load_database_url({"DATABASE_URL": raw}) == expected


def test_url_built_from_postgres_parts_quotes_the_password():
    env = {"POSTGRES_HOST": "db", "POSTGRES_USER": "todo", "POSTGRES_PASSWORD": "p@ss/w:rd", "POSTGRES_DB": "todo"}
    assert load_database_url(env) == "postgresql+psycopg://todo:p%40ss%2Fw%3Ard@db:5432/todo"


def test_database_url_wins_over_parts():
    env = {"DATABASE_URL": "postgresql://a:b@elsewhere/x", "POSTGRES_HOST": "db"}
    assert "elsewhere" in load_database_url(env)


def test_cors_origins_split_and_trimmed():
    settings = load_settings({"JWT_SECRET": SECRET, "CORS_ORIGINS": "http://localhost:3000, https://todo.example/ ,"})
    assert settings.cors_origins == ("http://localhost:3000", "https://todo.example")
