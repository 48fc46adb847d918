"""Hostile or broken requests: right status, nothing leaked, nothing changed."""

import pytest

from app.db import create_db_engine
from sqlalchemy import inspect

SQL_LOOKING = ["'; DROP TABLE tasks; --", "1 OR 1=1", "\" OR \"\"=\"", "Robert'); DELETE FROM users;--"]


def test_malformed_json_is_400(client, ada):
    response = client.post("/api/tasks", content=b'{"title": "x",', headers={**ada, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Request body is not valid JSON", "code": "malformed_json"}
    assert client.get("/api/tasks", headers=ada).json() == []


def test_non_object_json_is_422(client, ada):
    response = client.post("/api/tasks", json=["title"], headers=ada)
    assert response.status_code == 422


def test_oversized_body_is_413_by_length(client, ada, settings):
    body = b'{"title": "' + b"x" * settings.max_body_bytes + b'"}'
    response = client.post("/api/tasks", content=body, headers={**ada, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"
    assert client.get("/api/tasks", headers=ada).json() == []


def test_oversized_chunked_body_is_413(client, ada, settings):
    """Without Content-Length the limit is enforced by counting what arrives."""

    def chunks():
        yield b'{"title": "'
        for _ in range(settings.max_body_bytes // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    response = client.post("/api/tasks", content=chunks(), headers={**ada, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert client.get("/api/tasks", headers=ada).json() == []


@pytest.mark.parametrize("text", SQL_LOOKING)
def test_sql_looking_strings_are_just_text(client, ada, database_url, text):
    created = client.post("/api/tasks", json={"title": text, "description": text}, headers=ada)
    assert created.status_code == 201 and created.json()["title"] == text
    found = client.get("/api/tasks", params={"q": text}, headers=ada).json()
    assert [t["title"] for t in found] == [text]
    login = client.post("/api/auth/login", json={"email": f"a{text}@x.io".replace(" ", ""), "password": text + "12345678"})
    assert login.status_code in (401, 422)
    engine = create_db_engine(database_url)
    try:
        assert {"users", "tasks"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert client.get("/api/auth/me", headers=ada).status_code == 200


@pytest.mark.parametrize("task_id, status", [("abc", 422), ("0", 422), ("-1", 422), (str(2**31), 422), ("99999", 404), ("1;DROP", 422)])
def test_odd_task_ids(client, ada, task_id, status):
    assert client.get(f"/api/tasks/{task_id}", headers=ada).status_code == status


def test_other_users_task_cannot_be_touched_through_chat(client, ada, bob):
    task = client.post("/api/tasks", json={"title": "ada only"}, headers=ada).json()
    for message in (f"delete {task['id']}", f"mark {task['id']} done", f"rename {task['id']} to pwned"):
        reply = client.post("/api/chat", json={"message": message}, headers=bob).json()
        assert reply["actions"] == [] and reply["tasks"] == []
        assert "ada only" not in reply["reply"]
    assert client.get(f"/api/tasks/{task['id']}", headers=ada).json() == task


def test_unknown_route_and_method(client, ada):
    assert client.get("/api/nope", headers=ada).json()["code"] == "not_found"
    assert client.put("/api/tasks", headers=ada).status_code == 405
