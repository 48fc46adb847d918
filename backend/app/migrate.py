"""Alembic migrations, safe when several replicas start at once.

`python -m app.migrate` applies them once and exits (a Job or an init step);
the server also applies them at start. Concurrent runners serialise on a lock:
a PostgreSQL advisory lock (held by the migrating connection, released by the
server if that process dies), or an flock beside a SQLite file. The second
runner then finds the schema at head and does nothing.
"""

import fcntl
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from app.config import ConfigError, load_database_url
from app.db import create_db_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Arbitrary constant shared by every replica: "todo" in ASCII.
ADVISORY_LOCK_KEY = 0x746F646F

log = logging.getLogger(__name__)


# Alembic is imported inside these functions: it is the slowest import of the app, and the server
# migrates in a background thread, so /health can answer before Alembic has even loaded.
def alembic_config(connection: Connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade_to_head(engine: Engine) -> None:
    from alembic import command

    with exclusive_connection(engine) as connection:
        command.upgrade(alembic_config(connection), "head")
        connection.commit()
    log.info("database schema at head")


@contextmanager
def exclusive_connection(engine: Engine) -> Iterator[Connection]:
    """A connection that only one migrator at a time holds."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection, _advisory_lock(connection):
            yield connection
    else:
        # Locked before connecting: even opening a fresh SQLite file (and switching it to WAL)
        # races with another process creating the same file.
        with _file_lock(engine.url.database), engine.connect() as connection, _foreign_keys_off(connection):
            yield connection


@contextmanager
def _advisory_lock(connection: Connection) -> Iterator[None]:
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
        connection.commit()


@contextmanager
def _foreign_keys_off(connection: Connection) -> Iterator[None]:
    """SQLite rebuilds a table to alter it (copy, drop, rename); with foreign keys on, dropping
    the old table would cascade-delete every row that references it. The pragma only takes
    effect outside a transaction, so it is set before the migration's and restored after it,
    and the rebuilt tables must still satisfy every foreign key."""
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    try:
        yield
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise RuntimeError(f"migration left {len(broken)} row(s) breaking a foreign key")
    finally:
        connection.rollback()
        # The connection goes back to the pool: the app's requests rely on foreign keys.
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


@contextmanager
def _file_lock(database_path: str | None) -> Iterator[None]:
    if not database_path or database_path == ":memory:":
        yield
        return
    with open(f"{database_path}.migrate-lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def main() -> int:
    from app.logs import configure_logging

    configure_logging(os.environ.get("LOG_LEVEL", "INFO").upper())
    try:
        url = load_database_url(os.environ)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    engine = create_db_engine(url)
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
