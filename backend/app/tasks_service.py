"""Task operations for one user: used by the REST routes and by the chat alike.

Every query is scoped by user_id, so another user's task id behaves exactly
like an id that does not exist. Each operation is one SQL statement on a
connection in autocommit (no BEGIN/COMMIT round trips; one statement is atomic
anyway) and hands back read-only rows with the task's public fields: no ORM
session, identity map or unit of work, which cost more than the query itself.
"""

import functools
from collections.abc import Sequence

from sqlalchemy import Connection, Row, Select, bindparam, case, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.errors import ApiError, not_authenticated
from app.models import Task
from app.schemas import TaskCreate, TaskFilters, TaskOut

# The columns a task row carries out of this module: the public fields, not user_id.
_PUBLIC = tuple(Task.__table__.c[name] for name in TaskOut.model_fields)

_PRIORITY_RANK = case({"low": 1, "medium": 2, "high": 3}, value=Task.priority)
_SORT_COLUMNS = {"created_at": Task.created_at, "due_date": Task.due_date, "priority": _PRIORITY_RANK, "title": Task.title}


class TaskNotFound(ApiError):
    def __init__(self, task_id: int):
        super().__init__(404, "not_found", "Task not found")
        self.task_id = task_id


def list_tasks(connection: Connection, user_id: int, filters: TaskFilters) -> Sequence[Row]:
    values = {"user_id": user_id, "limit": filters.limit, "offset": filters.offset, "done": filters.done,
              "priority": filters.priority, "due_before": filters.due_before, "due_after": filters.due_after}
    if filters.q:
        # A bound parameter; LIKE wildcards in the text are matched literally.
        values["pattern"] = "%" + _escape_like(filters.q.lower()) + "%"
    given = {name: value for name, value in values.items() if value is not None}
    return connection.execute(_list_statement(frozenset(given), filters.sort), given).all()


@functools.cache
def _list_statement(given: frozenset[str], sort: str) -> Select:
    """One statement per combination of filters and sort (a few hundred at most), built once:
    building it per request cost as much as running it."""
    query = select(*_PUBLIC).where(Task.user_id == bindparam("user_id"))
    for name, condition in _FILTERS.items():
        if name in given:
            query = query.where(condition)
    return query.order_by(*_ordering(sort)).limit(bindparam("limit")).offset(bindparam("offset"))


_FILTERS = {
    "done": Task.done == bindparam("done"),
    "priority": Task.priority == bindparam("priority"),
    "pattern": or_(Task.title.ilike(bindparam("pattern"), escape="\\"),
                   Task.description.ilike(bindparam("pattern"), escape="\\")),
    "due_before": Task.due_date <= bindparam("due_before"),
    "due_after": Task.due_date >= bindparam("due_after"),
}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _ordering(sort: str) -> list:
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    column = _SORT_COLUMNS[key]
    ordered = column.desc() if descending else column.asc()
    tiebreak = Task.id.desc() if descending else Task.id.asc()
    if key == "due_date":
        # Tasks without a date come last in both directions.
        return [Task.due_date.is_(None), ordered, tiebreak]
    return [ordered, tiebreak]


def create_task(connection: Connection, user_id: int, data: TaskCreate) -> Row:
    try:
        return connection.execute(_INSERT, {"user_id": user_id, **data.model_dump()}).one()
    except IntegrityError:
        # A validated task can only break its user_id foreign key: the account was deleted while
        # one of its tokens still lives (tokens are stateless). That is a 401, not a server error.
        raise not_authenticated() from None


def get_task(connection: Connection, user_id: int, task_id: int) -> Row:
    return _found(connection.execute(_SELECT_ONE, {"user_id": user_id, "task_id": task_id}).first(), task_id)


def update_task(connection: Connection, user_id: int, task_id: int, changes: dict) -> Row:
    if not changes:
        return get_task(connection, user_id, task_id)
    statement = update(Task).where(*_owned(user_id, task_id)).values(**changes).returning(*_PUBLIC)
    return _found(connection.execute(statement).first(), task_id)


def delete_task(connection: Connection, user_id: int, task_id: int) -> Row:
    """The deleted task, as it was."""
    return _found(connection.execute(_DELETE_ONE, {"user_id": user_id, "task_id": task_id}).first(), task_id)


def _owned(user_id: int, task_id: int) -> tuple:
    return Task.id == task_id, Task.user_id == user_id


_OWNED = _owned(bindparam("user_id"), bindparam("task_id"))
_INSERT = insert(Task).returning(*_PUBLIC)
_SELECT_ONE = select(*_PUBLIC).where(*_OWNED)
_DELETE_ONE = delete(Task).where(*_OWNED).returning(*_PUBLIC)


def _found(row: Row | None, task_id: int) -> Row:
    if row is None:
        raise TaskNotFound(task_id)
    return row
