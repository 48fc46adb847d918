"""Task operations for one user: used by the REST routes and by the chat alike.

Every query is scoped by user_id, so another user's task id behaves exactly
like an id that does not exist.
"""

from collections.abc import Sequence

from sqlalchemy import Row, case, or_, select
from sqlalchemy.orm import Session

from app.errors import ApiError
from app.models import Task
from app.schemas import TaskCreate, TaskFilters

_PRIORITY_RANK = case({"low": 1, "medium": 2, "high": 3}, value=Task.priority)
_SORT_COLUMNS = {"created_at": Task.created_at, "due_date": Task.due_date, "priority": _PRIORITY_RANK, "title": Task.title}


class TaskNotFound(ApiError):
    def __init__(self, task_id: int):
        super().__init__(404, "not_found", "Task not found")
        self.task_id = task_id


def list_tasks(session: Session, user_id: int, filters: TaskFilters) -> Sequence[Row]:
    """Read-only rows with the task's attributes: building ORM objects for up to 500 rows per call
    cost as much as the rest of the request."""
    query = select(*Task.__table__.columns).where(Task.user_id == user_id)
    if filters.done is not None:
        query = query.where(Task.done == filters.done)
    if filters.priority:
        query = query.where(Task.priority == filters.priority)
    if filters.q:
        # Bound as a parameter; LIKE wildcards in the text are matched literally.
        pattern = "%" + _escape_like(filters.q.lower()) + "%"
        query = query.where(or_(Task.title.ilike(pattern, escape="\\"), Task.description.ilike(pattern, escape="\\")))
    if filters.due_before:
        query = query.where(Task.due_date <= filters.due_before)
    if filters.due_after:
        query = query.where(Task.due_date >= filters.due_after)
    query = query.order_by(*_ordering(filters.sort)).limit(filters.limit).offset(filters.offset)
    return session.execute(query).all()


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


def create_task(session: Session, user_id: int, data: TaskCreate) -> Task:
    task = Task(user_id=user_id, **data.model_dump())
    session.add(task)
    session.commit()
    return task


def get_task(session: Session, user_id: int, task_id: int) -> Task:
    task = session.scalar(select(Task).where(Task.id == task_id, Task.user_id == user_id))
    if task is None:
        raise TaskNotFound(task_id)
    return task


def update_task(session: Session, user_id: int, task_id: int, changes: dict) -> Task:
    task = get_task(session, user_id, task_id)
    for name, value in changes.items():
        setattr(task, name, value)
    session.commit()
    return task


def delete_task(session: Session, user_id: int, task_id: int) -> None:
    session.delete(get_task(session, user_id, task_id))
    session.commit()
