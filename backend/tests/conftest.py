"""Fixtures: every app test runs against SQLite and against a real PostgreSQL the tests start.

The PostgreSQL server starts once per session; each test gets a fresh database
copied from a migrated template (fast), and the app runs with TestClient.
"""

import itertools
import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from pg_testserver import PostgresServer, find_pg_bin
from support import auth_headers, make_settings, migrate

TEMPLATE_DB = "todo_template"
_database_names = (f"todo_test_{n}" for n in itertools.count())


@pytest.fixture(autouse=True)
def _environment_unchanged():
    """Config is passed as Settings, never through os.environ: fail any test that leaks into it."""
    before = _environment()
    yield
    assert _environment() == before, "a test changed os.environ"


def _environment() -> dict:
    # pytest itself updates PYTEST_CURRENT_TEST on every phase.
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    """Each hash stores its own cost, so a low cost in tests exercises the same code paths faster."""
    monkeypatch.setattr("app.security.SCRYPT_N", 2**10)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql); PostgreSQL cases skipped")
    server = PostgresServer(bin_dir)
    server.init()
    server.start()
    try:
        server.execute(f"CREATE DATABASE {TEMPLATE_DB}")
        migrate(server.url(TEMPLATE_DB))
        yield server
    finally:
        server.remove()


@pytest.fixture
def fresh_pg_url(pg_server: PostgresServer) -> str:
    """An empty (unmigrated) database of its own."""
    name = next(_database_names)
    pg_server.execute(f"CREATE DATABASE {name}")
    return pg_server.url(name)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, request, tmp_path) -> str:
    """A migrated database for one test."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'todo.sqlite3'}"
        migrate(url)
        return url
    server = request.getfixturevalue("pg_server")
    name = next(_database_names)
    server.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    return server.url(name)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, max_body_bytes=4096)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def ada(client: TestClient) -> dict:
    return auth_headers(client, "ada@example.com")


@pytest.fixture
def bob(client: TestClient) -> dict:
    return auth_headers(client, "bob@example.com")
