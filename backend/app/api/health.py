from fastapi import APIRouter

from app.api.deps import RuntimeDep
from app.db import database_answers
from app.errors import error_response

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict:
    """Liveness: the process serves requests. Never touches the database."""
    return {"status": "healthy"}


@router.get("/ready")
def ready(runtime: RuntimeDep):
    """Readiness: the schema is migrated and the database answers right now."""
    if not runtime.migrated.is_set():
        return error_response(503, "not_ready", "Database migrations not applied yet")
    if not database_answers(runtime.engine):
        return error_response(503, "not_ready", "Database not reachable")
    return {"status": "ready"}
