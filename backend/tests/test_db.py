"""The connection pool (against the real PostgreSQL) and the worker threads."""

import threading

import anyio.to_thread
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from app.db import create_db_engine
from app.main import create_app
from support import make_settings


def test_pool_keeps_its_connections_under_a_burst(fresh_pg_url):
    """More threads than connections: they wait for a pooled one instead of opening one per
    statement (a new PostgreSQL connection costs a server process and a password exchange)."""
    engine = create_db_engine(fresh_pg_url, connections=4)
    opened = []
    event.listen(engine, "connect", lambda *_: opened.append(1))

    def work():
        for _ in range(10):
            with engine.connect() as connection:
                assert connection.execute(text("SELECT 1")).scalar() == 1

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    # The pool's 4, plus at most 2 overflow connections for work outside request threads.
    assert 1 <= len(opened) <= 6


def test_sync_endpoints_run_on_as_many_threads_as_pooled_connections(database_url):
    with TestClient(create_app(make_settings(database_url, worker_threads=3))) as client:
        tokens = client.portal.call(_thread_tokens)
    assert tokens == 3


async def _thread_tokens() -> float:
    return anyio.to_thread.current_default_thread_limiter().total_tokens
