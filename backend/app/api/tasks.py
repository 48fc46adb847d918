from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import TypeAdapter

from app import tasks_service
from app.api.deps import OneStatementSessionsDep, SessionsDep, UserIdDep
from app.schemas import TaskCreate, TaskFilters, TaskOut, TaskUpdate

router = APIRouter(prefix="/api/tasks", tags=["tasks"])

# Bounded to the database's integer range: a larger id is a 422, not a driver error.
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1)]

_ONE_TASK = TypeAdapter(TaskOut)
_TASK_LIST = TypeAdapter(list[TaskOut])


def _json(adapter: TypeAdapter, value, status_code: int = 200) -> Response:
    """Validate and serialize in the endpoint's own worker thread, straight to bytes.

    Returning ORM objects would make FastAPI validate them in a second worker-thread hop and then
    serialize them in two more passes; on the hot path that cost more than the query itself.
    """
    checked = adapter.validate_python(value, from_attributes=True)
    return Response(adapter.dump_json(checked), status_code=status_code, media_type="application/json")


@router.get("", response_model=list[TaskOut])
def list_tasks(user_id: UserIdDep, sessions: OneStatementSessionsDep, filters: Annotated[TaskFilters, Query()]) -> Response:
    with sessions() as session:
        return _json(_TASK_LIST, tasks_service.list_tasks(session, user_id, filters))


@router.post("", status_code=201, response_model=TaskOut)
def create_task(body: TaskCreate, user_id: UserIdDep, sessions: OneStatementSessionsDep) -> Response:
    with sessions() as session:
        return _json(_ONE_TASK, tasks_service.create_task(session, user_id, body), status_code=201)


@router.get("/{task_id}", response_model=TaskOut)
def get_task(task_id: TaskId, user_id: UserIdDep, sessions: OneStatementSessionsDep) -> Response:
    with sessions() as session:
        return _json(_ONE_TASK, tasks_service.get_task(session, user_id, task_id))


@router.patch("/{task_id}", response_model=TaskOut)
def update_task(task_id: TaskId, body: TaskUpdate, user_id: UserIdDep, sessions: SessionsDep) -> Response:
    with sessions() as session:
        return _json(_ONE_TASK, tasks_service.update_task(session, user_id, task_id, body.changes()))


@router.delete("/{task_id}", status_code=204)
def delete_task(task_id: TaskId, user_id: UserIdDep, sessions: SessionsDep) -> Response:
    with sessions() as session:
        tasks_service.delete_task(session, user_id, task_id)
    return Response(status_code=204)
