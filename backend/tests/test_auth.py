from datetime import datetime, timedelta, timezone

import jwt
import pytest

from app.security import hash_password, verify_password
from support import JWT_SECRET, PASSWORD, auth_headers


def test_register_login_me(client):
    created = client.post("/api/auth/register", json={"email": " Ada@Example.com ", "password": PASSWORD})
    assert created.status_code == 201
    assert created.json()["email"] == "ada@example.com"
    assert "password" not in created.text and "hash" not in created.text
    login = client.post("/api/auth/login", json={"email": "ADA@example.com", "password": PASSWORD})
    assert login.status_code == 200
    body = login.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["email"] == "ada@example.com"


def test_duplicate_email_is_409(client, ada):
    response = client.post("/api/auth/register", json={"email": "ADA@example.com", "password": "another-pw"})
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


@pytest.mark.parametrize("email, password", [("ada@example.com", "wrong password"), ("nobody@example.com", PASSWORD)])
def test_bad_credentials_get_one_answer(client, ada, email, password):
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid email or password", "code": "invalid_credentials"}


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"email": "not-an-email", "password": PASSWORD}, {"email"}),
        ({"email": "a@b.co", "password": "short"}, {"password"}),
        ({}, {"email", "password"}),
        ({"email": "a@b.co", "password": PASSWORD, "admin": True}, {"admin"}),
    ],
)
def test_register_validation_names_fields(client, body, fields):
    response = client.post("/api/auth/register", json=body)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == fields
    assert PASSWORD not in response.text


def _token(claims: dict, secret: str = JWT_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def _in(minutes: int) -> datetime:
    return datetime.now(timezone.utc) + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer not-a-jwt",
        "Basic YWRhOnB3",
        "Bearer " + _token({"sub": "1", "exp": _in(-1)}),
        "Bearer " + _token({"sub": "1", "exp": _in(5)}, secret="another-secret-" + "y" * 40),
        "Bearer " + _token({"sub": "1"}),
        "Bearer " + _token({"sub": "1", "exp": _in(5)}, algorithm="none", secret=None),
        "Bearer " + _token({"sub": "abc", "exp": _in(5)}),
    ],
    ids=["missing", "empty", "garbage", "basic", "expired", "wrong-secret", "no-exp", "alg-none", "bad-sub"],
)
def test_bad_tokens_are_401(client, ada, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    for path in ("/api/auth/me", "/api/tasks"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert response.headers["www-authenticate"] == "Bearer"


def test_token_of_a_vanished_user_is_401_on_me(client):
    token = _token({"sub": "999999", "exp": _in(5)})
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_passwords_hashed_with_scrypt_and_salted():
    first, second = hash_password("pw-123456"), hash_password("pw-123456")
    assert first.startswith("scrypt$") and first != second
    assert verify_password("pw-123456", first) and not verify_password("pw-123457", first)
    assert not verify_password("pw-123456", "garbage")
