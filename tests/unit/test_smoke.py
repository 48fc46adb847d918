"""The smoke check: its commands on a strict MockContext, its HTTP flow against the real backend.

The real backend (uvicorn on 127.0.0.1, SQLite) runs from backend/.venv, which
`invoke test` builds for the backend suite. A small front in this process stands
where the frontend Service would be: it forwards to one or two backends (two
pods) and can break one route, as a broken deployment would.
"""
import json
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from invoke import Exit, Result

from tests.conftest import commands_run, failed
from tests.unit.fixtures import fixture
from tests.unit.fixtures.validate import healthy_answers
from todoops.config import resolve
from todoops.errors import ExitCode
from todoops.smoke import flow, hint, service_path, serving_backends, smoke_checks
from todoops.smoke_http import StepFailed
from todoops.smoke_steps import POD_STEP, STEPS
from todoops.validate import validate

REPO = Path(__file__).resolve().parents[2]
BACKEND_PYTHON = REPO / "backend/.venv/bin/python"
PROXY = "exec kubectl --context minikube --namespace todo-app proxy --port 0 --address 127.0.0.1"
FRONTEND = {"kind": "Service", "metadata": {"name": "todo-app-frontend",
                                            "labels": {"app.kubernetes.io/component": "frontend"}},
            "spec": {"ports": [{"port": 3000}]}}
BACKEND_SERVICE = {"kind": "Service", "metadata": {"name": "todo-app-backend",
                                                   "labels": {"app.kubernetes.io/component": "backend"}},
                   "spec": {"ports": [{"port": 8000}]}}
STEP_NAMES = [f"smoke {name}" for name, _ in STEPS]


def names(checks) -> list[str]:
    return [check.name for check in checks]


def statuses(checks) -> dict[str, str]:
    return {check.name: check.status for check in checks}


# -- pure parts


@pytest.mark.parametrize("step, failure, expected", [
    ("register", StepFailed(None, "Connection refused"), "service proxy did not answer"),
    ("register", StepFailed(502, "unreachable", "backend_unavailable"), "cannot reach the backend"),
    ("chat", StepFailed(504, "too slow", "backend_timeout"), "cannot reach the backend"),
    ("register", StepFailed(503, 'no endpoints available for service "x"', "ServiceUnavailable"), "no ready pod"),
    ("create task", StepFailed(401, "Not authenticated", "not_authenticated"), "JWT_SECRET"),
    ("log in", StepFailed(401, "Invalid email or password", "invalid_credentials"), "invoke app.logs"),
    ("register", StepFailed(503, "Database not reachable", "not_ready"), "database"),
    ("delete account", StepFailed(500, "boom", "internal_error"), "DELETE FROM users WHERE email = 'a@b.c'"),
])
def test_hints_follow_where_and_how_the_flow_stopped(step, failure, expected):
    assert expected in hint(step, failure, "a@b.c")


def test_service_path_is_the_api_servers_proxy_to_the_first_port():
    assert service_path("todo-app", FRONTEND) == "/api/v1/namespaces/todo-app/services/http:todo-app-frontend:3000/proxy"


def test_serving_backends_are_the_ready_backend_pods():
    backend, frontend = fixture("pods-healthy.json")["items"]
    unready = {**backend, "metadata": {**backend["metadata"], "name": "unready"},
               "status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    assert serving_backends([backend, frontend, unready]) == [("todo-app-backend-7c9d8b6f5-x2k4q", 8000)]


# -- the command side (strict MockContext)


def test_without_a_frontend_service_nothing_runs(make_context):
    c = make_context({})
    [check] = smoke_checks(c, resolve(c), [BACKEND_SERVICE], [])
    assert (check.name, check.status, check.code) == ("smoke", "fail", ExitCode.UNHEALTHY)
    assert commands_run(c) == []


def test_a_proxy_that_does_not_start_is_one_failed_row_with_its_error(make_context):
    c = make_context({PROXY: failed(stderr='error: context "minikube" does not exist\n')})
    [check] = smoke_checks(c, resolve(c), [FRONTEND], [])
    assert (check.name, check.status) == ("smoke proxy", "fail")
    assert 'context "minikube" does not exist' in check.detail
    assert commands_run(c) == [PROXY]


class ApiServerWithoutEndpoints(BaseHTTPRequestHandler):
    """What the API server's service proxy answers for a Service without a ready pod."""

    paths: list[str] = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.paths.append(self.path)
        body = json.dumps({"kind": "Status", "status": "Failure", "reason": "ServiceUnavailable", "code": 503,
                           "message": 'no endpoints available for service "todo-app-frontend"'}).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[type], int]]:
    """``serve(handler_class)`` runs an HTTP server on 127.0.0.1 for the test; returns its port."""
    servers = []

    def start(handler: type) -> int:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_flow_goes_through_the_proxy_to_the_frontend_service(make_context, serve):
    port = serve(ApiServerWithoutEndpoints)
    c = make_context({PROXY: Result(stdout=f"Starting to serve on 127.0.0.1:{port}\n")})
    found = smoke_checks(c, resolve(c), [BACKEND_SERVICE, FRONTEND], [])
    assert ApiServerWithoutEndpoints.paths == [
        "/api/v1/namespaces/todo-app/services/http:todo-app-frontend:3000/proxy/api/auth/register"]
    assert names(found) == STEP_NAMES
    register, *later = found
    assert register.status == "fail" and register.code == ExitCode.UNHEALTHY
    assert register.detail.startswith('HTTP 503 ServiceUnavailable: no endpoints available for service')
    assert "no ready pod" in register.hint
    assert {check.status for check in later} == {"skip"}
    assert commands_run(c) == [PROXY]


# -- the HTTP flow against the real backend


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_backend(database: Path, jwt_secret: str) -> tuple[subprocess.Popen, str]:
    """The real backend on a free 127.0.0.1 port, once /ready answers; its environment is its own."""
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{database}", "JWT_SECRET": jwt_secret,
           "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [str(BACKEND_PYTHON), "-m", "uvicorn", "--factory", "app.serve:app_from_environment",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
        cwd=REPO / "backend", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=2) as response:
                if response.status == 200:
                    return process, url
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    process.kill()
    pytest.fail(f"the backend did not get ready: {process.communicate()[1][-2000:]}")


@pytest.fixture(scope="module")
def backends(tmp_path_factory) -> Iterator[tuple[Path, list[str]]]:
    """Two backend processes ("pods") on one SQLite database, each with its own JWT secret."""
    if not BACKEND_PYTHON.exists():
        pytest.skip("backend/.venv is missing: `invoke test --suite backend` creates it")
    database = tmp_path_factory.mktemp("smoke") / "todo.sqlite3"
    started = [start_backend(database, "smoke-test-secret-" + letter * 32) for letter in "ab"]
    yield database, [url for _, url in started]
    for process, _ in started:
        process.terminate()
        process.wait(timeout=30)


def smoke_accounts(database: Path) -> tuple[int, int]:
    """(users, their tasks) of smoke accounts, read directly in the database."""
    with sqlite3.connect(database) as connection:
        users = connection.execute("SELECT count(*) FROM users WHERE email LIKE 'smoke-%'").fetchone()[0]
        tasks = connection.execute("SELECT count(*) FROM tasks JOIN users ON users.id = tasks.user_id "
                                   "WHERE users.email LIKE 'smoke-%'").fetchone()[0]
    return users, tasks


@pytest.fixture
def clean_database(backends):
    """Each test starts without smoke accounts; one the test could not remove is removed here."""
    database, _ = backends
    assert smoke_accounts(database) == (0, 0)
    yield database
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("DELETE FROM users WHERE email LIKE 'smoke-%'")


def front(serve, upstreams: list[str], route: Callable[[str, str], int] = lambda method, path: 0,
          broken: dict[tuple[str, str], Callable[[Message], tuple[int, dict]]] | None = None,
          prefix: str = "") -> str:
    """Where the frontend Service would be: forwards each request to ``upstreams[route(method, path)]``,
    except the ``broken`` routes, which answer ``broken[route](request headers)``: (status, body).
    With ``prefix`` it stands for the API server's service proxy: requests arrive below it."""
    broken = broken or {}

    class Front(BaseHTTPRequestHandler):
        def forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if not self.path.startswith(prefix):
                self.answer(404, b"{}", {"Content-Type": "application/json"})
                return
            path = self.path[len(prefix):]
            if (self.command, path) in broken:
                status, answer = broken[(self.command, path)](self.headers)
                self.answer(status, json.dumps(answer).encode(), {"Content-Type": "application/json"})
                return
            upstream = upstreams[route(self.command, path)]
            wanted = {name: value for name, value in self.headers.items()
                      if name.lower() in ("authorization", "content-type", "accept", "x-request-id")}
            request = urllib.request.Request(upstream + path, data=body, method=self.command, headers=wanted)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    self.answer(response.status, response.read(), response.headers)
            except urllib.error.HTTPError as error:
                self.answer(error.code, error.read(), error.headers)

        def answer(self, status: int, body: bytes, answer_headers) -> None:
            self.send_response(status)
            if "Content-Type" in answer_headers:
                self.send_header("Content-Type", answer_headers["Content-Type"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = forward  # noqa: N815 (http.server's naming)

        def log_message(self, *args):
            pass

    return f"http://127.0.0.1:{serve(Front)}"


def test_the_whole_flow_passes_and_leaves_no_smoke_account(backends, clean_database, serve, capsys):
    _, urls = backends
    found = flow(front(serve, urls))
    assert names(found) == [*STEP_NAMES, "smoke delete account"]
    assert set(statuses(found).values()) <= {"ok", "warn"}, found
    assert all(check.detail.endswith("s") for check in found)  # every step timed
    assert smoke_accounts(clean_database) == (0, 0)
    assert capsys.readouterr() == ("", "")


def test_broken_login_names_the_step_and_its_status(backends, clean_database, serve):
    _, urls = backends
    broken = {("POST", "/api/auth/login"): lambda _: (500, {"detail": "Internal server error",
                                                             "code": "internal_error"})}
    found = flow(front(serve, urls, broken=broken))
    by_name = {check.name: check for check in found}
    assert statuses(found)["smoke register"] == "ok"
    assert by_name["smoke log in"].status == "fail"
    assert by_name["smoke log in"].detail.startswith("HTTP 500 internal_error: Internal server error")
    assert {statuses(found)[name] for name in STEP_NAMES[2:]} == {"skip"}
    # Without a login the account cannot delete itself: the row says so and how to remove it.
    left = by_name["smoke delete account"]
    assert left.status == "fail" and "DELETE FROM users WHERE email = 'smoke-" in left.hint
    assert smoke_accounts(clean_database)[0] == 1


def test_a_backend_that_is_down_names_the_first_step():
    found = flow(f"http://127.0.0.1:{free_port()}")
    assert names(found) == STEP_NAMES  # never registered: nothing to delete
    assert found[0].status == "fail" and found[0].detail.startswith("no answer: ")
    assert "service proxy did not answer" in found[0].hint


def test_pods_with_different_jwt_secrets_fail_after_login_and_still_remove_the_account(backends, clean_database,
                                                                                      serve):
    _, urls = backends
    turns = iter(range(10_000))
    found = flow(front(serve, urls, route=lambda method, path: next(turns) % 2))  # alternate like two pods
    failed_rows = [check for check in found if check.status == "fail"]
    assert [check.name for check in failed_rows] == ["smoke create task"]
    assert failed_rows[0].detail.startswith("HTTP 401 not_authenticated")
    assert "JWT_SECRET" in failed_rows[0].hint
    assert statuses(found)["smoke delete account"] == "ok"
    assert smoke_accounts(clean_database) == (0, 0)


def test_a_pod_with_another_jwt_secret_is_named_whichever_pod_the_frontend_sticks_to(backends, clean_database,
                                                                                     serve):
    _, urls = backends
    # The frontend's connection sticks to the first pod: through it alone, everything passes.
    found = flow(front(serve, urls), backend_pods=[("pod-a", urls[0]), ("pod-b", urls[1])])
    by_name = {check.name: check for check in found}
    pods = by_name[f"smoke {POD_STEP[0]}"]
    assert pods.status == "fail" and pods.detail.startswith("HTTP 401 not_authenticated: pod pod-b: ")
    assert "JWT_SECRET" in pods.hint
    assert names(found)[:3] == ["smoke register", "smoke log in", f"smoke {POD_STEP[0]}"]
    assert statuses(found)["smoke delete account"] == "ok"
    assert smoke_accounts(clean_database) == (0, 0)


def test_the_account_is_removed_even_when_its_token_lands_on_the_other_pod(backends, clean_database, serve):
    _, urls = backends
    pod = {"now": 0}

    def route(method: str, path: str) -> int:
        # Every step on the first pod; from the account's deletion on, the second one, which
        # refuses the first pod's token: the deletion must log in again and succeed there.
        if (method, path) == ("DELETE", "/api/auth/me"):
            pod["now"] = 1
        return pod["now"]

    found = flow(front(serve, urls, route=route))
    assert set(statuses(found).values()) <= {"ok", "warn"}, found
    assert smoke_accounts(clean_database) == (0, 0)


def test_the_session_never_reaches_the_rows_even_when_an_answer_echoes_it(backends, clean_database, serve):
    _, urls = backends
    echo = {("POST", "/api/chat"): lambda sent: (502, {"detail": f"lost {sent['Authorization']}",
                                                        "code": "backend_unavailable"})}
    found = flow(front(serve, urls, broken=echo))
    chat = next(check for check in found if check.name == "smoke chat")
    assert chat.status == "fail" and chat.detail.startswith("HTTP 502 backend_unavailable: lost Bearer ***")
    assert "cannot reach the backend" in chat.hint
    assert statuses(found)["smoke delete account"] == "ok"
    assert smoke_accounts(clean_database) == (0, 0)


# -- invoke validate --smoke


def test_validate_smoke_adds_passing_rows_to_the_table_and_json(backends, clean_database, serve, make_context,
                                                                 tmp_path, capsys):
    _, urls = backends
    answers, _ = healthy_answers(tmp_path, make_context)
    proxy_port = front(serve, urls, prefix=service_path("todo-app", FRONTEND)).rsplit(":", 1)[1]
    c = make_context({**answers, PROXY: Result(stdout=f"Starting to serve on 127.0.0.1:{proxy_port}\n")})
    validate(c, json=True, smoke=True)
    found = {check["name"]: check["status"] for check in json.loads(capsys.readouterr().out)}
    assert {found[name] for name in [*STEP_NAMES, "smoke delete account"]} <= {"ok", "warn"}
    assert "http backend /ready" in found and PROXY in commands_run(c)
    assert smoke_accounts(clean_database) == (0, 0)


def test_validate_smoke_failure_is_unhealthy_naming_the_step(make_context, tmp_path, serve, capsys):
    answers, _ = healthy_answers(tmp_path, make_context)
    port = serve(ApiServerWithoutEndpoints)
    c = make_context({**answers, PROXY: Result(stdout=f"Starting to serve on 127.0.0.1:{port}\n")})
    with pytest.raises(Exit) as error:
        validate(c, smoke=True)
    assert error.value.code == ExitCode.UNHEALTHY
    row = next(r for r in capsys.readouterr().out.splitlines() if r.startswith("smoke register"))
    assert "fail" in row and "HTTP 503" in row


def test_validate_smoke_over_ssh_is_refused_before_anything_runs(make_context):
    c = make_context({})
    with pytest.raises(Exit) as error:
        validate(c, smoke=True, host="alice@devbox")
    assert error.value.code == ExitCode.BAD_INPUT and "--host" in error.value.message
    assert commands_run(c) == []


def test_smoke_checks_forward_to_each_serving_backend_pod_and_stop_them(backends, clean_database, serve,
                                                                         make_context):
    _, urls = backends
    pod = fixture("pods-healthy.json")["items"][0]
    forward = ("exec kubectl --context minikube --namespace todo-app port-forward --address 127.0.0.1 "
               "pod/todo-app-backend-7c9d8b6f5-x2k4q :8000")
    proxy_port = front(serve, urls, prefix=service_path("todo-app", FRONTEND)).rsplit(":", 1)[1]
    c = make_context({PROXY: Result(stdout=f"Starting to serve on 127.0.0.1:{proxy_port}\n"),
                      forward: Result(stdout=f"Forwarding from 127.0.0.1:{urls[0].rsplit(':', 1)[1]} -> 8000\n")})
    found = smoke_checks(c, resolve(c), [FRONTEND], [pod])
    assert statuses(found)[f"smoke {POD_STEP[0]}"] == "ok"
    assert set(statuses(found).values()) <= {"ok", "warn"}, found
    assert commands_run(c) == [PROXY, forward]
