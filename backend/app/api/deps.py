"""Request dependencies: the runtime state, a database session, the caller's user id."""

import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.chat.llm import ModelChat
from app.config import Settings
from app.errors import not_authenticated
from app.security import user_id_from_token


@dataclass
class Runtime:
    """Everything a request needs, built once per app."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    autocommit_engine: Engine
    model: ModelChat | None
    migrated: threading.Event = field(default_factory=threading.Event)


# Cheap, non-blocking dependencies are async so FastAPI runs them on the event loop instead of
# handing each to the worker-thread pool (a thread hop per dependency per request adds up).
async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def get_sessions(runtime: Annotated[Runtime, Depends(get_runtime)]) -> sessionmaker[Session]:
    """Endpoints open their session inside their own worker thread (`with sessions() as session`).

    A yield-dependency session would be closed in a second thread hop after the endpoint, holding
    its pooled connection until a worker thread frees up: under load, connections then run out.
    """
    return runtime.sessions


async def get_autocommit_engine(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Engine:
    """For task work, one statement per request: `with engine.connect() as connection` in the
    endpoint (see app.db.autocommit and get_sessions)."""
    return runtime.autocommit_engine


_bearer = HTTPBearer(auto_error=False)


async def current_user_id(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> int:
    """The token is the proof: no database round trip per request."""
    if credentials is None:
        raise not_authenticated()
    user_id = user_id_from_token(credentials.credentials, runtime.settings.jwt_secret)
    if user_id is None:
        raise not_authenticated()
    return user_id


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionsDep = Annotated[sessionmaker[Session], Depends(get_sessions)]
AutocommitEngineDep = Annotated[Engine, Depends(get_autocommit_engine)]
UserIdDep = Annotated[int, Depends(current_user_id)]
