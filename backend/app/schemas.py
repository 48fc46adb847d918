"""Request and response bodies. Unknown fields are rejected so typos fail loudly."""

from datetime import date, datetime, timezone
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Priority = Literal["low", "medium", "high"]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=2000)]
SortKey = Literal["created_at", "-created_at", "due_date", "-due_date", "priority", "-priority", "title", "-title"]


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Credentials(StrictBody):
    email: Annotated[
        str,
        StringConstraints(strip_whitespace=True, to_lower=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    ]
    password: Annotated[str, StringConstraints(min_length=8, max_length=128)]


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


def _as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    created_at: datetime

    _utc = field_validator("created_at")(_as_utc)


class TaskCreate(StrictBody):
    title: Title
    description: Description = ""
    done: bool = False
    priority: Priority = "medium"
    due_date: date | None = None


class TaskUpdate(StrictBody):
    """Only the fields sent are changed; due_date: null clears the date."""

    title: Title | None = None
    description: Description | None = None
    done: bool | None = None
    priority: Priority | None = None
    due_date: date | None = None

    @field_validator("title", "description", "done", "priority")
    @classmethod
    def _not_null(cls, value):
        if value is None:
            raise ValueError("may not be null")
        return value

    def changes(self) -> dict:
        return self.model_dump(exclude_unset=True)


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str
    done: bool
    priority: Priority
    due_date: date | None
    created_at: datetime
    updated_at: datetime

    _utc = field_validator("created_at", "updated_at")(_as_utc)


class TaskFilters(BaseModel):
    done: bool | None = None
    priority: Priority | None = None
    q: Annotated[str, StringConstraints(max_length=200)] | None = None
    due_before: date | None = None
    due_after: date | None = None
    sort: SortKey = "-created_at"
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0)


class ChatRequest(StrictBody):
    message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class ChatAction(BaseModel):
    type: Literal["create", "list", "complete", "reopen", "update", "delete"]
    task_id: int | None = None


class ChatResponse(BaseModel):
    reply: str
    actions: list[ChatAction]
    tasks: list[TaskOut]
    source: Literal["parser", "llm"]
