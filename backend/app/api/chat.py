from datetime import datetime, timezone

from fastapi import APIRouter

from app.api.deps import AutocommitEngineDep, RuntimeDep, UserIdDep
from app.chat.service import answer
from app.schemas import ChatRequest, ChatResponse, TaskOut

router = APIRouter(prefix="/api", tags=["chat"])


@router.post("/chat", response_model=ChatResponse)
def chat(body: ChatRequest, user_id: UserIdDep, engine: AutocommitEngineDep, runtime: RuntimeDep) -> ChatResponse:
    today = datetime.now(timezone.utc).date()
    # Each task operation of the turn is one statement of its own, committed as it runs.
    with engine.connect() as connection:
        turn = answer(connection, user_id, body.message, today, runtime.model)
        return ChatResponse(
            reply=turn.outcome.reply,
            actions=turn.outcome.actions,
            tasks=[TaskOut.model_validate(task) for task in turn.outcome.tasks],
            source=turn.source,
        )
