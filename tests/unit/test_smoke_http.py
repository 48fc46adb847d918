"""The smoke check's HTTP: the session a login hands out (cookie or token, redacted), failures as rows read them."""
from email.message import Message

import pytest

from todoops.redaction import REDACTOR
from todoops.smoke_http import StepFailed, session_of


def headers(*set_cookies: str) -> Message:
    message = Message()
    for value in set_cookies:
        message["Set-Cookie"] = value
    return message


def test_the_frontends_session_cookie_is_the_session_and_is_redacted():
    token = "eyJhbGciOiJIUzI1NiJ9.payload.signature"
    found = session_of(headers("other=1; Path=/", f"todo_session={token}; Path=/; HttpOnly; SameSite=lax"),
                       {"ok": True})
    assert found == (token, {"Cookie": f"todo_session={token}"})
    assert REDACTOR(f"cookie {token}") == "cookie ***"


def test_the_backends_token_is_the_session_without_a_cookie_and_is_redacted():
    token = "eyJhbGciOiJIUzI1NiJ9.other.signature"
    assert session_of(headers(), {"access_token": token}) == (token, {"Authorization": f"Bearer {token}"})
    assert REDACTOR(token) == "***"


def test_a_login_without_a_session_fails_the_step():
    with pytest.raises(StepFailed, match="without a session"):
        session_of(headers("todo_session=; Max-Age=0"), {"ok": True})


def test_failures_read_as_status_code_and_detail():
    assert str(StepFailed(401, "Not authenticated", "not_authenticated")) == "HTTP 401 not_authenticated: Not authenticated"
    assert str(StepFailed(None, "timed out")) == "no answer: timed out"
