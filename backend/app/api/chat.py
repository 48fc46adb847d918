from datetime import datetime, timezone

from fastapi import APIRouter

from app.api.deps import RuntimeDep, SessionsDep, UserIdDep
from app.chat.service import answer
from app.schemas import ChatRequest, ChatResponse, TaskOut

router = APIRouter(prefix="/api", tags=["chat"])


@router.post("/chat", response_model=ChatResponse)
def chat(body: ChatRequest, user_id: UserIdDep, sessions: SessionsDep, runtime: RuntimeDep) -> ChatResponse:
    today = datetime.now(timezone.utc).date()
    with sessions() as session:
        turn = answer(session, user_id, body.message, today, runtime.model)
        return ChatResponse(
            reply=turn.outcome.reply,
            actions=turn.outcome.actions,
            tasks=[TaskOut.model_validate(task) for task in turn.outcome.tasks],
            source=turn.source,
        )
