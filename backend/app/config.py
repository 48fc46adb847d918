"""Settings read once from environment variables and validated at start.

Every problem is collected and reported together, each naming its variable, so
a misconfigured pod says everything that is wrong in one crash message.
Secret values never appear in messages or in the settings' repr.
"""

import logging
import secrets
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlsplit

from sqlalchemy.engine import URL, make_url

DEFAULT_SQLITE_URL = "sqlite:////tmp/todo.sqlite3"
MIN_JWT_SECRET_CHARS = 32
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(Exception):
    """One or more environment variables are missing or invalid."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration: " + "; ".join(problems))


@dataclass(frozen=True)
class Settings:
    database_url: str = field(repr=False)
    jwt_secret: str = field(repr=False)
    jwt_expire_minutes: int = 60
    cors_origins: tuple[str, ...] = ()
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    log_level: str = "INFO"
    max_body_bytes: int = 65536
    app_env: str = "production"
    web_concurrency: int = 1
    worker_threads: int = 8

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_api_key and self.openai_base_url)

    @property
    def safe_database_url(self) -> str:
        """The database URL with its password masked, for log lines."""
        return make_url(self.database_url).render_as_string(hide_password=True)


class _Problems:
    """Collects problems while parsing so all of them are reported at once."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, variable: str, message: str) -> None:
        self.items.append(f"{variable}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(self.items)


def load_settings(env: Mapping[str, str]) -> Settings:
    """Parse and validate the environment; raise ConfigError naming each bad variable."""
    problems = _Problems()
    app_env = env.get("APP_ENV", "production").strip() or "production"
    web_concurrency = _int(env, "WEB_CONCURRENCY", 1, 1, 32, problems)
    settings = Settings(
        database_url=_database_url(env, problems),
        jwt_secret=_jwt_secret(env, app_env, web_concurrency, problems),
        jwt_expire_minutes=_int(env, "JWT_EXPIRE_MINUTES", 60, 1, 60 * 24 * 30, problems),
        cors_origins=_cors_origins(env, problems),
        openai_api_key=env.get("OPENAI_API_KEY") or None,
        openai_base_url=_optional_http_url(env, "OPENAI_BASE_URL", problems),
        openai_model=env.get("OPENAI_MODEL", "").strip() or "gpt-4o-mini",
        log_level=_log_level(env, problems),
        max_body_bytes=_int(env, "MAX_BODY_BYTES", 65536, 1024, 16 * 1024 * 1024, problems),
        app_env=app_env,
        web_concurrency=web_concurrency,
        worker_threads=_int(env, "WORKER_THREADS", 8, 1, 64, problems),
    )
    _check_llm_pair(env, problems)
    problems.raise_if_any()
    return settings


def load_database_url(env: Mapping[str, str]) -> str:
    """Only the database URL: what the one-shot migration command needs."""
    problems = _Problems()
    url = _database_url(env, problems)
    problems.raise_if_any()
    return url


def _database_url(env: Mapping[str, str], problems: _Problems) -> str:
    raw = env.get("DATABASE_URL", "").strip()
    if raw:
        return _normalise_database_url(raw, problems)
    if env.get("POSTGRES_HOST", "").strip():
        return _url_from_postgres_parts(env, problems)
    return DEFAULT_SQLITE_URL


def _normalise_database_url(raw: str, problems: _Problems) -> str:
    """Accept the URL spellings people paste (postgres://, postgresql://) and pin psycopg 3."""
    try:
        url = make_url(raw)
    except Exception:
        problems.add("DATABASE_URL", "not a database URL (expected postgresql://user:pass@host:5432/db)")
        return raw
    backend = url.get_backend_name()
    if backend in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        problems.add("DATABASE_URL", f"unsupported database {backend!r}; use postgresql:// or sqlite://")
    return url.render_as_string(hide_password=False)


def _url_from_postgres_parts(env: Mapping[str, str], problems: _Problems) -> str:
    for name in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"):
        if not env.get(name):
            problems.add(name, "required when POSTGRES_HOST is set and DATABASE_URL is not")
    port = _int(env, "POSTGRES_PORT", 5432, 1, 65535, problems)
    # URL.create quotes user and password, so any character is safe in them.
    url = URL.create(
        "postgresql+psycopg",
        username=env.get("POSTGRES_USER"),
        password=env.get("POSTGRES_PASSWORD"),
        host=env["POSTGRES_HOST"].strip(),
        port=port,
        database=env.get("POSTGRES_DB"),
    )
    return url.render_as_string(hide_password=False)


def _jwt_secret(env: Mapping[str, str], app_env: str, web_concurrency: int, problems: _Problems) -> str:
    secret = env.get("JWT_SECRET", "")
    if secret:
        if len(secret) < MIN_JWT_SECRET_CHARS:
            problems.add("JWT_SECRET", f"too short: at least {MIN_JWT_SECRET_CHARS} characters")
    elif app_env != "development":
        problems.add("JWT_SECRET", f"required (at least {MIN_JWT_SECRET_CHARS} characters)")
    elif web_concurrency > 1:
        # Each worker would draw its own secret and refuse the tokens the others signed.
        problems.add("JWT_SECRET", "required when WEB_CONCURRENCY is above 1, even with APP_ENV=development")
    else:
        # A per-process random secret: a laptop run works, and tokens die with the process.
        logging.getLogger(__name__).warning("JWT_SECRET unset; APP_ENV=development, using a random secret")
        return secrets.token_urlsafe(48)
    return secret


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int, problems: _Problems) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.add(name, f"not an integer: {raw!r}")
        return default
    if not low <= value <= high:
        problems.add(name, f"must be between {low} and {high}, got {value}")
    return value


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _cors_origins(env: Mapping[str, str], problems: _Problems) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in env.get("CORS_ORIGINS", "").split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not _is_http_url(origin):
            problems.add("CORS_ORIGINS", f"not an http(s) origin: {origin!r}")
    return origins


def _optional_http_url(env: Mapping[str, str], name: str, problems: _Problems) -> str | None:
    value = env.get(name, "").strip()
    if value and not _is_http_url(value):
        problems.add(name, "must be an http(s) URL")
    return value or None


def _log_level(env: Mapping[str, str], problems: _Problems) -> str:
    level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if level not in LOG_LEVELS:
        problems.add("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}")
        return "INFO"
    return level


def _check_llm_pair(env: Mapping[str, str], problems: _Problems) -> None:
    """The model is used only with both a key and a base URL; half a pair is a mistake."""
    has_key = bool(env.get("OPENAI_API_KEY"))
    has_url = bool(env.get("OPENAI_BASE_URL", "").strip())
    if has_key and not has_url:
        problems.add("OPENAI_BASE_URL", "required when OPENAI_API_KEY is set")
    if has_url and not has_key:
        problems.add("OPENAI_API_KEY", "required when OPENAI_BASE_URL is set")
