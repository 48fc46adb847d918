"""What a chat message asks for, independent of who understood it (parser or model)."""

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Create:
    title: str
    due_date: date | None = None
    priority: str = "medium"
    description: str = ""


@dataclass(frozen=True)
class ListTasks:
    done: bool | None = False


@dataclass(frozen=True)
class SetDone:
    task_id: int
    done: bool = True


@dataclass(frozen=True)
class Update:
    task_id: int
    changes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Delete:
    task_id: int


@dataclass(frozen=True)
class Help:
    understood: bool = True


Intent = Create | ListTasks | SetDone | Update | Delete | Help
