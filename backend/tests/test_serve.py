"""The real server process (`python -m app.serve`) at SIGTERM, as a rolling update stops it.

A proxy in front (the frontend's fetch pool) keeps connections alive and may send a request on
one at the very moment the pod is told to stop. That request must be answered, with
``Connection: close`` so the proxy opens its next connection to a pod that stays, and the
process must still exit promptly and cleanly.
"""

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pg_testserver import free_port
from support import JWT_SECRET

BACKEND_DIR = Path(__file__).resolve().parents[1]
# uvicorn's line once it has begun its shutdown (connections asked to finish).
SHUTTING_DOWN = "Shutting down"
# uvicorn re-raises the signal once it is done: outside a container (not PID 1) that ends the process by it.
STOPPED = (0, -signal.SIGTERM)


class Server:
    """A running ``python -m app.serve`` on a loopback port, its log lines read as they come."""

    def __init__(self, process: subprocess.Popen, port: int):
        self.process, self.port = process, port
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    def wait_for_log(self, text: str, timeout: float = 15) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: any(text in line for line in self.lines), timeout):
                raise AssertionError(f"the server never logged {text!r}:\n{''.join(self.lines)[-3000:]}")

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)


@contextmanager
def serving(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    env = {"PATH": os.environ["PATH"], "PORT": str(port), "JWT_SECRET": JWT_SECRET,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'todo.sqlite3'}"}
    process = subprocess.Popen([sys.executable, "-m", "app.serve"], cwd=BACKEND_DIR, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        server = Server(process, port)
        server.wait_for_log("Uvicorn running on")
        yield server
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def get(connection: http.client.HTTPConnection, path: str = "/health") -> http.client.HTTPResponse:
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    return response


def test_a_request_on_a_kept_alive_connection_at_sigterm_is_answered_with_connection_close(tmp_path):
    with serving(tmp_path) as server:
        kept = server.connection()
        first = get(kept)
        assert first.status == 200 and first.getheader("connection") != "close"
        server.process.send_signal(signal.SIGTERM)
        server.wait_for_log(SHUTTING_DOWN)
        # Before the fix uvicorn had closed this idle connection here: RemoteDisconnected.
        during = get(kept)
        assert during.status == 200 and during.getheader("connection") == "close"
        assert server.process.wait(15) in STOPPED
        assert "Application shutdown complete" in "".join(server.lines)


def test_an_idle_connection_is_closed_by_its_keep_alive_timeout_and_the_process_exits(tmp_path):
    with serving(tmp_path) as server:
        idle, silent = server.connection(), server.connection()
        assert get(idle).status == 200
        silent.connect()  # connected, never sends a request
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        # uvicorn's keep-alive timeout (5 s) closes both, then the process ends: well before the
        # graceful-shutdown limit (20 s) that a never-closed connection would run into.
        assert server.process.wait(15) in STOPPED
        assert time.monotonic() - started < 10
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            get(idle)
