import json
import logging

from app.logs import JsonFormatter, request_id_var
from support import PASSWORD


def test_log_lines_are_json_with_request_id():
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.status = 200
    token = request_id_var.set("req-1")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["msg"] == "hello world" and line["request_id"] == "req-1" and line["status"] == 200


def test_no_secret_in_any_log_line(client, caplog):
    caplog.set_level(logging.DEBUG)
    client.post("/api/auth/register", json={"email": "ada@example.com", "password": PASSWORD})
    token = client.post("/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}).json()["access_token"]
    client.get("/api/tasks", params={"q": "x"}, headers={"Authorization": f"Bearer {token}"})
    client.post("/api/auth/login", json={"email": "ada@example.com", "password": "wrong-" + PASSWORD})
    lines = [JsonFormatter().format(record) for record in caplog.records]
    access = [json.loads(line) for line in lines if '"app.access"' in line]
    assert {(a["path"], a["status"]) for a in access} >= {("/api/auth/login", 200), ("/api/tasks", 200), ("/api/auth/login", 401)}
    for line in lines:
        assert PASSWORD not in line and token not in line and client.app.state.runtime.settings.jwt_secret not in line


def test_a_passing_probe_is_logged_only_at_debug(client, caplog):
    caplog.set_level(logging.DEBUG, logger="app.access")
    client.get("/health")
    # The app migrates in a thread at start: once it is done, clearing its flag makes /ready answer 503.
    assert client.app.state.runtime.migrated.wait(30)
    client.app.state.runtime.migrated.clear()
    client.get("/ready")
    client.get("/api/tasks")
    levels = {(record.path, record.status): record.levelno for record in caplog.records if record.name == "app.access"}
    assert levels == {("/health", 200): logging.DEBUG, ("/ready", 503): logging.INFO, ("/api/tasks", 401): logging.INFO}
