import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from app.db import create_db_engine

BACKEND_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture
def empty_database_url(backend, request, tmp_path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    return request.getfixturevalue("fresh_pg_url")


def run_migrate_processes(url: str, count: int) -> list[subprocess.CompletedProcess]:
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    processes = [
        subprocess.Popen([sys.executable, "-m", "app.migrate"], cwd=BACKEND_DIR, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=60), *p.communicate()) for p in processes]


def test_concurrent_migrations_from_two_processes(empty_database_url):
    results = run_migrate_processes(empty_database_url, 2)
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    engine = create_db_engine(empty_database_url)
    try:
        assert {"users", "tasks", "alembic_version"} <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["0001"]
    finally:
        engine.dispose()


def test_migrate_again_is_a_no_op(empty_database_url):
    assert [r.returncode for r in run_migrate_processes(empty_database_url, 1)] == [0]
    assert [r.returncode for r in run_migrate_processes(empty_database_url, 1)] == [0]


def test_migrate_reports_bad_config_by_name():
    env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": "mysql://u:p@h/db"}
    result = subprocess.run([sys.executable, "-m", "app.migrate"], cwd=BACKEND_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 2 and "DATABASE_URL" in result.stderr
