"""The smoke check's HTTP: JSON to one base URL as one logged-in user, and what an answer means.

Assumptions: the session is whatever login hands out, the frontend's httpOnly
``todo_session`` cookie or, when the flow talks to a backend directly, the
backend's bearer token; either is registered with the redaction filter before
anything could print it. Requests never go through an HTTP proxy (one from the
environment would send 127.0.0.1 traffic elsewhere). An answer other than the
one the app documents is ``StepFailed``, naming the HTTP status and the app's
error code (or the API server's, when its service proxy got no further).
"""
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import Message
from http.cookies import CookieError, SimpleCookie
from typing import Any

from .redaction import REDACTOR

SESSION_COOKIE = "todo_session"
# Long enough for the frontend's own 30 s wait on the backend (a chat that asks a model).
REQUEST_SECONDS = 35


class StepFailed(Exception):
    """A step got an answer other than the one the app documents (``status`` None: no answer at all)."""

    def __init__(self, status: int | None, detail: str, code: str = "") -> None:
        super().__init__(detail)
        self.status, self.detail, self.code = status, detail, code

    def __str__(self) -> str:
        if self.status is None:
            return f"no answer: {self.detail}"
        return f"HTTP {self.status}" + (f" {self.code}" if self.code else "") + f": {self.detail}"


def session_of(headers: Message, body: Any) -> tuple[str, dict[str, str]]:
    """The login's token, and the header that proves the login on later requests: the frontend's
    session cookie (its value is the backend's token), else the backend's own bearer token."""
    for value in headers.get_all("Set-Cookie") or []:
        try:
            cookie = SimpleCookie(value)
        except CookieError:
            continue
        if SESSION_COOKIE in cookie and cookie[SESSION_COOKIE].value:
            token = cookie[SESSION_COOKIE].value
            REDACTOR.add(token)
            return token, {"Cookie": f"{SESSION_COOKIE}={token}"}
    token = body.get("access_token") if isinstance(body, dict) else None
    if not token:
        raise StepFailed(200, "login answered without a session cookie or token")
    REDACTOR.add(token)
    return token, bearer(token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _error_of(raw: bytes) -> tuple[str, str]:
    """(code, detail) of an error body: the app's {"detail", "code"} or the API server's Status."""
    try:
        body = json.loads(raw)
    except ValueError:
        return "", raw.decode(errors="replace").strip()[:160] or "empty body"
    if not isinstance(body, dict):
        return "", str(body)[:160]
    if body.get("kind") == "Status":
        # The API server's own answer (its "code" is the HTTP status again): the proxy got no further.
        return str(body.get("reason", "")), str(body.get("message", ""))[:160]
    return str(body.get("code", "")), str(body.get("detail", ""))[:160]


class Client:
    """JSON over HTTP to one base URL, as one user once logged in; never through an HTTP proxy."""

    def __init__(self, base_url: str, run_id: str) -> None:
        self._base = base_url.rstrip("/")
        self.run_id = run_id
        # Proxies from the environment would send 127.0.0.1 traffic elsewhere.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        # The app's logs carry the request id: the smoke check's requests are easy to find.
        self._headers = {"Accept": "application/json", "X-Request-ID": run_id}

    def log_in_with(self, session: Mapping[str, str]) -> None:
        self._headers = {**self._headers, **session}

    def call(self, method: str, path: str, body: object = None, expect: int = 200,
             shape: type | None = None) -> tuple[Any, Message]:
        """The JSON body (None when empty) and headers of an answer with status ``expect``, else StepFailed.

        ``shape`` (dict or list) is what the JSON body must be.
        """
        data = None if body is None else json.dumps(body).encode()
        headers = {**self._headers, **({"Content-Type": "application/json"} if data else {})}
        request = urllib.request.Request(self._base + path, data=data, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=REQUEST_SECONDS) as response:
                status, raw, answer_headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, answer_headers = error.code, error.read(), error.headers
        except (urllib.error.URLError, OSError) as error:
            raise StepFailed(None, str(getattr(error, "reason", error))) from None
        if status != expect:
            code, detail = _error_of(raw)
            raise StepFailed(status, detail, code)
        return _parsed(status, raw, shape), answer_headers


def _parsed(status: int, raw: bytes, shape: type | None) -> Any:
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        raise StepFailed(status, f"the answer is not JSON: {raw[:80]!r}") from None
    if shape is not None and not isinstance(value, shape):
        raise StepFailed(status, f"expected a JSON {shape.__name__}, got {str(value)[:80]!r}")
    return value
