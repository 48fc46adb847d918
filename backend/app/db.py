"""Engine and session handling for PostgreSQL (psycopg 3) and SQLite."""

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def create_db_engine(url: str, connections: int = 1) -> Engine:
    """An engine whose pool keeps ``connections`` open: one per worker thread, so a request never
    waits for a connection, and none is opened per request (each new PostgreSQL connection costs a
    server process and a password exchange: more than the query)."""
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return create_engine(
        url,
        # A restarted database leaves dead pooled connections; test each before use.
        pool_pre_ping=True,
        pool_size=connections,
        # A little headroom for work outside the request threads (migrations at start).
        max_overflow=2,
        pool_timeout=10,
        # Fail readiness checks fast instead of hanging while the server is away.
        connect_args={"connect_timeout": 3},
        # SQL parameters (password hashes, user text) must not reach logs via error messages.
        hide_parameters=True,
    )


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def autocommit(engine: Engine) -> Engine:
    """The engine for work that is one SQL statement: autocommit, so no BEGIN and COMMIT/ROLLBACK
    round trips around it (two of the four round trips such a request otherwise makes).

    One statement is atomic and sees one snapshot anyway; anything that reads then writes, or runs
    two statements that must agree, uses session_factory instead. Same pool as ``engine``.
    """
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def database_answers(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
