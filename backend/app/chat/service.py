"""One chat turn: the model when configured and reachable, else the parser."""

import logging
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection

from app.chat.executor import Outcome, execute
from app.chat.llm import ModelChat, ModelUnavailable
from app.chat.parser import parse

log = logging.getLogger(__name__)


@dataclass
class ChatTurn:
    outcome: Outcome
    source: str


def answer(connection: Connection, user_id: int, message: str, today: date, model: ModelChat | None) -> ChatTurn:
    if model is not None:
        try:
            return ChatTurn(model.answer(connection, user_id, message, today), "llm")
        except ModelUnavailable as error:
            # Raised only before the model changed anything, so the parser may act in its place.
            log.warning("model unavailable, using the parser", extra={"error": str(error)})
    return ChatTurn(execute(connection, user_id, parse(message, today)), "parser")
