import json
import socket

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from openai_stub import OpenAIStub, text_message, tool_call_message
from support import auth_headers, make_settings


def chat(client, headers, message: str) -> dict:
    response = client.post("/api/chat", json={"message": message}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_parser_conversation(client, ada):
    added = chat(client, ada, "add buy milk tomorrow high priority")
    assert added["source"] == "parser"
    task_id = added["actions"][0]["task_id"]
    assert added["actions"] == [{"type": "create", "task_id": task_id}]
    assert added["tasks"][0]["title"] == "Buy milk" and added["tasks"][0]["priority"] == "high"
    assert added["reply"].startswith(f"Added task {task_id}: Buy milk (due ")

    left = chat(client, ada, "what is left")
    assert left["actions"] == [{"type": "list", "task_id": None}]
    assert [t["id"] for t in left["tasks"]] == [task_id]

    done = chat(client, ada, f"mark {task_id} done")
    assert done["actions"] == [{"type": "complete", "task_id": task_id}] and done["tasks"][0]["done"] is True
    assert chat(client, ada, "what is left")["reply"] == "You have no open tasks."

    deleted = chat(client, ada, f"delete {task_id}")
    assert deleted["actions"] == [{"type": "delete", "task_id": task_id}] and deleted["tasks"] == []
    assert client.get("/api/tasks", headers=ada).json() == []


def test_unknown_id_and_gibberish_change_nothing(client, ada):
    assert chat(client, ada, "mark 4242 done") == {"reply": "I can't find task 4242.", "actions": [], "tasks": [], "source": "parser"}
    assert chat(client, ada, "sing a song")["reply"].startswith("Sorry, I didn't understand")


@pytest.mark.parametrize("body, status", [({"message": ""}, 422), ({"message": "x" * 1001}, 422), ({}, 422), ({"msg": "hi"}, 422)])
def test_chat_validation(client, ada, body, status):
    assert client.post("/api/chat", json=body, headers=ada).status_code == status


def test_chat_needs_a_token(client):
    assert client.post("/api/chat", json={"message": "what is left"}).status_code == 401


@pytest.fixture
def model_app(database_url):
    """An app wired to a fresh stub model; yields (client, stub, headers)."""
    stubs = []

    def build(script: list[dict], base_url: str | None = None):
        stub = OpenAIStub(script)
        stubs.append(stub)
        settings = make_settings(database_url, openai_api_key="sk-test-key", openai_base_url=base_url or stub.base_url,
                                 openai_model="stub-model")
        client = TestClient(create_app(settings))
        client.__enter__()
        stubs.append(client)
        return client, stub, auth_headers(client, "ada@example.com")

    yield build
    for item in reversed(stubs):
        item.__exit__(None, None, None) if isinstance(item, TestClient) else item.close()


def test_model_tool_calls_drive_the_same_operations(model_app):
    script = [
        tool_call_message(("add_task", {"title": "Buy milk", "due_date": "2025-02-01", "priority": "high"}),
                          ("add_task", {"title": "Call mom"})),
        tool_call_message(("set_task_done", {"task_id": 2, "done": True})),
        text_message("Added Buy milk (1) and Call mom (2); Call mom is done."),
    ]
    client, stub, ada = model_app(script)
    turn = chat(client, ada, "I need milk by Feb 1st, it's important, and I already called mom")
    assert turn["source"] == "llm"
    assert turn["reply"] == "Added Buy milk (1) and Call mom (2); Call mom is done."
    ids = [a["task_id"] for a in turn["actions"]]
    assert [a["type"] for a in turn["actions"]] == ["create", "create", "complete"]
    tasks = {t["title"]: t for t in client.get("/api/tasks", headers=ada).json()}
    assert tasks["Buy milk"]["due_date"] == "2025-02-01" and tasks["Buy milk"]["priority"] == "high"
    assert tasks["Call mom"]["done"] is True and tasks["Call mom"]["id"] == ids[1]

    first = stub.requests[0]
    assert first["auth"] == "Bearer sk-test-key" and first["body"]["model"] == "stub-model"
    assert {t["function"]["name"] for t in first["body"]["tools"]} >= {"add_task", "list_tasks", "delete_task"}
    tool_results = [m for m in stub.requests[1]["body"]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_results] == ["call_0", "call_1"]


def test_model_cannot_reach_other_users_tasks(model_app):
    client, _stub, ada = model_app([tool_call_message(("delete_task", {"task_id": 1})), text_message("Deleted.")])
    bob = auth_headers(client, "bob@example.com")
    bobs = client.post("/api/tasks", json={"title": "bob's"}, headers=bob).json()
    assert bobs["id"] == 1
    turn = chat(client, ada, "delete task 1")
    assert turn["actions"] == []
    assert client.get("/api/tasks/1", headers=bob).status_code == 200


def test_model_bad_arguments_are_reported_back_not_fatal(model_app):
    script = [tool_call_message(("add_task", {"title": ""}), ("update_task", {"task_id": "x"}), ("nope", {})),
              text_message("Sorry.")]
    client, stub, ada = model_app(script)
    turn = chat(client, ada, "add nothing")
    assert turn == {"reply": "Sorry.", "actions": [], "tasks": [], "source": "llm"}
    results = [json.loads(m["content"]) for m in stub.requests[1]["body"]["messages"] if m["role"] == "tool"]
    assert [r["tasks"] for r in results] == [[], [], []]
    assert results[0]["result"].startswith("Sorry, I can't use that title")
    assert all(r["result"].startswith("error: ") for r in results[1:])


@pytest.mark.parametrize("message", ["rename 1 to ...", "add ,,,"])
def test_parser_input_the_api_would_refuse_changes_nothing(client, ada, message):
    task = client.post("/api/tasks", json={"title": "keep me"}, headers=ada).json()
    turn = chat(client, ada, message)
    assert turn["actions"] == [] and turn["tasks"] == []
    assert client.get("/api/tasks", headers=ada).json() == [task]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_model_falls_back_to_parser(model_app):
    client, _stub, ada = model_app([], base_url=f"http://127.0.0.1:{_closed_port()}/v1")
    turn = chat(client, ada, "add buy milk")
    assert turn["source"] == "parser" and turn["tasks"][0]["title"] == "Buy milk"


def test_model_error_status_falls_back_to_parser(model_app):
    client, stub, ada = model_app([])  # an empty script answers 500
    turn = chat(client, ada, "add buy milk")
    assert turn["source"] == "parser" and len(stub.requests) == 1
    assert len(client.get("/api/tasks", headers=ada).json()) == 1


def test_model_failing_after_a_change_does_not_repeat_it(model_app):
    client, _stub, ada = model_app([tool_call_message(("add_task", {"title": "Buy milk"}))])
    turn = chat(client, ada, "add buy milk")
    assert turn["source"] == "llm" and [a["type"] for a in turn["actions"]] == ["create"]
    assert len(client.get("/api/tasks", headers=ada).json()) == 1
