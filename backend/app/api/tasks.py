from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app import tasks_service
from app.api.deps import SessionsDep, UserIdDep
from app.models import Task
from app.schemas import TaskCreate, TaskFilters, TaskOut, TaskUpdate

router = APIRouter(prefix="/api/tasks", tags=["tasks"])

# Bounded to the database's integer range: a larger id is a 422, not a driver error.
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("", response_model=list[TaskOut])
def list_tasks(user_id: UserIdDep, sessions: SessionsDep, filters: Annotated[TaskFilters, Query()]) -> list[Task]:
    with sessions() as session:
        return tasks_service.list_tasks(session, user_id, filters)


@router.post("", status_code=201, response_model=TaskOut)
def create_task(body: TaskCreate, user_id: UserIdDep, sessions: SessionsDep) -> Task:
    with sessions() as session:
        return tasks_service.create_task(session, user_id, body)


@router.get("/{task_id}", response_model=TaskOut)
def get_task(task_id: TaskId, user_id: UserIdDep, sessions: SessionsDep) -> Task:
    with sessions() as session:
        return tasks_service.get_task(session, user_id, task_id)


@router.patch("/{task_id}", response_model=TaskOut)
def update_task(task_id: TaskId, body: TaskUpdate, user_id: UserIdDep, sessions: SessionsDep) -> Task:
    with sessions() as session:
        return tasks_service.update_task(session, user_id, task_id, body.changes())


@router.delete("/{task_id}", status_code=204)
def delete_task(task_id: TaskId, user_id: UserIdDep, sessions: SessionsDep) -> Response:
    with sessions() as session:
        tasks_service.delete_task(session, user_id, task_id)
    return Response(status_code=204)
