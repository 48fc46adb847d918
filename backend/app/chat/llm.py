"""The OpenAI-compatible chat-completions path with tool calls.

The model only chooses operations: every tool call becomes an intent executed
by the same code as the parser's, under the same per-user scoping and
validation. A transport or protocol failure before any change raises
ModelUnavailable and the caller falls back to the parser; after a change the
partial result is returned instead, so nothing is done twice.
"""

import json
import logging
from datetime import date

import httpx
from sqlalchemy import Connection

from app.chat import intents
from app.chat.executor import Outcome, execute
from app.schemas import TaskOut

log = logging.getLogger(__name__)

MAX_ROUNDS = 4
TIMEOUT = httpx.Timeout(20.0, connect=3.0)

_ID_PARAM = {"task_id": {"type": "integer", "description": "the task's id"}}
_DATE_PARAM = {"type": "string", "description": "YYYY-MM-DD"}
_PRIORITY_PARAM = {"type": "string", "enum": ["low", "medium", "high"]}


def _tool(name: str, description: str, properties: dict, required: list[str]) -> dict:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"type": "function", "function": {"name": name, "description": description, "parameters": schema}}


TOOLS = [
    _tool("add_task", "Create a task", {"title": {"type": "string"}, "description": {"type": "string"},
          "due_date": _DATE_PARAM, "priority": _PRIORITY_PARAM}, ["title"]),
    _tool("list_tasks", "List tasks; done=false for open ones, true for finished, omit for all",
          {"done": {"type": "boolean"}}, []),
    _tool("set_task_done", "Mark a task done (done=true) or open again (done=false)",
          {**_ID_PARAM, "done": {"type": "boolean"}}, ["task_id"]),
    _tool("update_task", "Change a task's title, priority or due date",
          {**_ID_PARAM, "title": {"type": "string"}, "priority": _PRIORITY_PARAM, "due_date": _DATE_PARAM}, ["task_id"]),
    _tool("delete_task", "Delete a task", _ID_PARAM, ["task_id"]),
]


class ModelUnavailable(Exception):
    pass


class BadToolCall(ValueError):
    pass


def intent_from_tool_call(name: str, args: dict) -> intents.Intent:
    try:
        if name == "add_task":
            due = date.fromisoformat(args["due_date"]) if args.get("due_date") else None
            return intents.Create(args["title"], due, args.get("priority") or "medium", args.get("description") or "")
        if name == "list_tasks":
            return intents.ListTasks(done=args.get("done"))
        if name == "set_task_done":
            return intents.SetDone(int(args["task_id"]), bool(args.get("done", True)))
        if name == "update_task":
            changes = {k: args[k] for k in ("title", "priority", "due_date") if args.get(k) is not None}
            return intents.Update(int(args["task_id"]), changes)
        if name == "delete_task":
            return intents.Delete(int(args["task_id"]))
    except (KeyError, TypeError, ValueError) as error:
        raise BadToolCall(f"bad arguments for {name}: {error}") from error
    raise BadToolCall(f"unknown tool {name}")


class ModelChat:
    def __init__(self, base_url: str, api_key: str, model: str, transport: httpx.BaseTransport | None = None):
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._model = model
        self._transport = transport

    def answer(self, connection: Connection, user_id: int, message: str, today: date) -> Outcome:
        messages = [
            {"role": "system", "content": _system_prompt(today)},
            {"role": "user", "content": message},
        ]
        total = Outcome(reply="")
        with httpx.Client(timeout=TIMEOUT, transport=self._transport) as client:
            for _ in range(MAX_ROUNDS):
                try:
                    reply = self._complete(client, messages)
                except ModelUnavailable:
                    if not total.actions:
                        raise
                    # Changes are already committed; falling back would repeat them.
                    total.reply = "Done, but the assistant stopped early: check your list."
                    return total
                calls = reply.get("tool_calls") or []
                if not calls:
                    total.reply = (reply.get("content") or "").strip() or "Done."
                    return total
                messages.append(reply)
                messages.extend(self._run_tool_call(connection, user_id, call, total) for call in calls)
        total.reply = "Done."
        return total

    def _complete(self, client: httpx.Client, messages: list[dict]) -> dict:
        body = {"model": self._model, "messages": messages, "tools": TOOLS, "tool_choice": "auto"}
        try:
            response = client.post(self._url, json=body, headers=self._headers)
            response.raise_for_status()
            return response.json()["choices"][0]["message"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
            # The error type only: messages of HTTP errors may include the URL, never the key.
            raise ModelUnavailable(type(error).__name__) from error

    def _run_tool_call(self, connection: Connection, user_id: int, call: dict, total: Outcome) -> dict:
        function = call.get("function") or {}
        try:
            intent = intent_from_tool_call(function.get("name", ""), json.loads(function.get("arguments") or "{}"))
            step = execute(connection, user_id, intent)
        except (BadToolCall, ValueError) as error:
            step = Outcome(f"error: {error}")
        _merge(total, step)
        result = {"result": step.reply, "tasks": [TaskOut.model_validate(t).model_dump(mode="json") for t in step.tasks]}
        return {"role": "tool", "tool_call_id": call.get("id", ""), "content": json.dumps(result)}


def _merge(total: Outcome, step: Outcome) -> None:
    total.actions.extend(step.actions)
    deleted = {a.task_id for a in step.actions if a.type == "delete"}
    seen = {t.id: t for t in total.tasks if t.id not in deleted}
    seen.update({t.id: t for t in step.tasks})
    total.tasks = list(seen.values())


def _system_prompt(today: date) -> str:
    return (
        "You manage the user's todo list through the tools. Today is "
        f"{today.isoformat()} ({today.strftime('%A')}). Use tools for every change; "
        "answer briefly in plain text, mentioning task ids."
    )
