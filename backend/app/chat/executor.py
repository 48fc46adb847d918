"""Carries out intents on one user's tasks and describes the result for a person."""

from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy import Connection, Row

from app import tasks_service
from app.chat import intents
from app.schemas import ChatAction, TaskCreate, TaskFilters, TaskUpdate

HELP_TEXT = (
    "I can: add <task> [today|tomorrow|on 2025-01-31|next monday|in 3 days] [high priority]; "
    "what is left; show done; mark <id> done; reopen <id>; rename <id> to <title>; "
    "set <id> priority high; delete <id>."
)


@dataclass
class Outcome:
    """What one step (or a whole chat turn) did."""

    reply: str
    actions: list[ChatAction] = field(default_factory=list)
    tasks: list[Row] = field(default_factory=list)


def execute(connection: Connection, user_id: int, intent: intents.Intent) -> Outcome:
    handler = _HANDLERS[type(intent)]
    try:
        return handler(connection, user_id, intent)
    except tasks_service.TaskNotFound as missing:
        return Outcome(f"I can't find task {missing.task_id}.")
    except ValidationError as invalid:
        # The same limits as the REST API (title length, priority names, dates).
        problem = invalid.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        return Outcome(f"Sorry, I can't use that {field}: {problem['msg'].lower()}.")


def _create(connection: Connection, user_id: int, intent: intents.Create) -> Outcome:
    data = TaskCreate(title=intent.title, description=intent.description, priority=intent.priority, due_date=intent.due_date)
    task = tasks_service.create_task(connection, user_id, data)
    return Outcome(f"Added task {task.id}: {describe(task)}.", [ChatAction(type="create", task_id=task.id)], [task])


def _list(connection: Connection, user_id: int, intent: intents.ListTasks) -> Outcome:
    sort = "-created_at" if intent.done else "due_date"
    found = tasks_service.list_tasks(connection, user_id, TaskFilters(done=intent.done, sort=sort))
    label = {None: "tasks", True: "finished tasks", False: "open tasks"}[intent.done]
    if not found:
        reply = f"You have no {label}."
    else:
        reply = f"You have {len(found)} {label}: " + "; ".join(f"{t.id}. {describe(t)}" for t in found) + "."
    return Outcome(reply, [ChatAction(type="list")], found)


def _set_done(connection: Connection, user_id: int, intent: intents.SetDone) -> Outcome:
    task = tasks_service.update_task(connection, user_id, intent.task_id, {"done": intent.done})
    verb, action = ("Marked", "complete") if intent.done else ("Reopened", "reopen")
    state = " as done" if intent.done else ""
    return Outcome(f"{verb} task {task.id}{state}: {task.title}.", [ChatAction(type=action, task_id=task.id)], [task])


def _update(connection: Connection, user_id: int, intent: intents.Update) -> Outcome:
    # The same validation as PATCH, so the model cannot write what the API would refuse.
    changes = TaskUpdate(**intent.changes).changes()
    task = tasks_service.update_task(connection, user_id, intent.task_id, changes)
    return Outcome(f"Updated task {task.id}: {describe(task)}.", [ChatAction(type="update", task_id=task.id)], [task])


def _delete(connection: Connection, user_id: int, intent: intents.Delete) -> Outcome:
    title = tasks_service.delete_task(connection, user_id, intent.task_id).title
    return Outcome(f"Deleted task {intent.task_id}: {title}.", [ChatAction(type="delete", task_id=intent.task_id)])


def _help(_connection: Connection, _user_id: int, intent: intents.Help) -> Outcome:
    prefix = "" if intent.understood else "Sorry, I didn't understand that. "
    return Outcome(prefix + HELP_TEXT)


_HANDLERS = {
    intents.Create: _create,
    intents.ListTasks: _list,
    intents.SetDone: _set_done,
    intents.Update: _update,
    intents.Delete: _delete,
    intents.Help: _help,
}


def describe(task: Row) -> str:
    details = [f"due {task.due_date.isoformat()}"] if task.due_date else []
    if task.priority != "medium":
        details.append(f"{task.priority} priority")
    if task.done:
        details.append("done")
    return task.title + (f" ({', '.join(details)})" if details else "")
