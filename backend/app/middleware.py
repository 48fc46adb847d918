"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware on every request).

RequestContext: a request id per request (the client's X-Request-ID when it is
sane, else a new one), echoed in the response and put in every log line, plus
one access log line with status and duration (a passing probe's only at DEBUG).

BodyLimit: refuses bodies over the limit with 413 before any handler parses
them: by Content-Length up front, or by reading a chunked body within the limit.
"""

import json
import logging
import re
import time
import uuid

from app.logs import request_id_var

access_log = logging.getLogger("app.access")
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The kubelet asks these every few seconds: a passing answer is no news (a failing one is).
PROBE_PATHS = frozenset({"/health", "/ready"})


class RequestContext:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_log.log(
                logging.DEBUG if scope["path"] in PROBE_PATHS and status < 400 else logging.INFO,
                "request",
                extra={
                    "method": scope["method"],
                    # The path only: query strings may carry user text.
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)


def _request_id(scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _SANE_REQUEST_ID.match(candidate):
                return candidate
    return uuid.uuid4().hex


class BodyLimit:
    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _declared_length(scope)
        if declared is not None:
            # The server enforces Content-Length, so checking the declaration is enough.
            if declared > self.max_bytes:
                return await _send_413(send)
            return await self.app(scope, receive, send)
        # Chunked or unknown length: read it here, within the limit, and replay it. (Raising from
        # inside the app's own read would be turned into a 400 by the framework's body parser.)
        body = await _read_within(receive, self.max_bytes)
        if body is None:
            return await _send_413(send)
        await self.app(scope, _replay(body, receive), send)


async def _read_within(receive, max_bytes: int) -> bytes | None:
    """The whole body, or None as soon as it exceeds max_bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive):
    delivered = False

    async def replaying_receive():
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replaying_receive


def _declared_length(scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(send) -> None:
    body = json.dumps({"detail": "Request body too large", "code": "body_too_large"}).encode()
    await send({
        "type": "http.response.start",
        "status": 413,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})
