import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from app.db import create_db_engine
from app.migrate import alembic_config, exclusive_connection, upgrade_to_head

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
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["0002"]
    finally:
        engine.dispose()


def test_migrate_again_is_a_no_op(empty_database_url):
    assert [r.returncode for r in run_migrate_processes(empty_database_url, 1)] == [0]
    assert [r.returncode for r in run_migrate_processes(empty_database_url, 1)] == [0]


def test_migrate_reports_bad_config_by_name():
    env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": "mysql://u:p@h/db"}
    result = subprocess.run([sys.executable, "-m", "app.migrate"], cwd=BACKEND_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 2 and "DATABASE_URL" in result.stderr


@pytest.fixture
def engine_at_0001(empty_database_url):
    """A database at revision 0001 holding one user with one task."""
    engine = create_db_engine(empty_database_url)
    with exclusive_connection(engine) as connection:
        command.upgrade(alembic_config(connection), "0001")
        connection.execute(text("INSERT INTO users (id, email, password_hash, created_at) "
                                "VALUES (7, 'ada@example.com', 'x', CURRENT_TIMESTAMP)"))
        connection.execute(text("INSERT INTO tasks (user_id, title, description, done, priority, created_at, "
                                "updated_at) VALUES (7, 't', '', false, 'low', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        connection.commit()
    yield engine
    engine.dispose()


def test_upgrade_keeps_every_row(engine_at_0001):
    """SQLite rebuilds users to alter it; with foreign keys on, dropping the old table would
    cascade-delete every task."""
    upgrade_to_head(engine_at_0001)
    with engine_at_0001.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM tasks WHERE user_id = 7")).scalar() == 1
        assert connection.execute(text("SELECT email FROM users")).scalars().all() == ["ada@example.com"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_connections_keep_foreign_keys_after_migrating(engine_at_0001):
    upgrade_to_head(engine_at_0001)
    # The migrating connection went back to the pool; the next request gets it.
    with engine_at_0001.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_migration_refuses_to_leave_broken_foreign_keys(engine_at_0001):
    with engine_at_0001.connect() as connection:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.execute(text("DELETE FROM users"))
        connection.commit()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
    with pytest.raises(RuntimeError, match="1 row"):
        upgrade_to_head(engine_at_0001)
