from datetime import datetime, timedelta, timezone

import jwt
import pytest
from sqlalchemy import text

from app.db import create_db_engine
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


def test_delete_me_removes_the_account_and_everything_it_owns(client, settings, ada, bob):
    for title in ("one", "two"):
        assert client.post("/api/tasks", json={"title": title}, headers=ada).status_code == 201
    assert client.post("/api/chat", json={"message": "add buy milk tomorrow"}, headers=ada).status_code == 200
    kept = client.post("/api/tasks", json={"title": "bob's"}, headers=bob).json()
    ada_id = client.get("/api/auth/me", headers=ada).json()["id"]

    response = client.delete("/api/auth/me", headers=ada)
    assert response.status_code == 204 and response.content == b""

    assert _rows(settings.database_url, ada_id) == (0, 0)
    assert client.post("/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}).status_code == 401
    assert client.get("/api/tasks", headers=bob).json() == [kept]
    # The email is free again.
    assert client.post("/api/auth/register", json={"email": "ada@example.com", "password": PASSWORD}).status_code == 201


def _rows(database_url: str, user_id: int) -> tuple[int, int]:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            users = connection.execute(text("SELECT count(*) FROM users WHERE id = :id"), {"id": user_id}).scalar()
            tasks = connection.execute(text("SELECT count(*) FROM tasks WHERE user_id = :id"), {"id": user_id}).scalar()
    finally:
        engine.dispose()
    return users, tasks


def test_a_deleted_accounts_token_is_401_everywhere_not_500(client, ada):
    assert client.delete("/api/auth/me", headers=ada).status_code == 204
    for method, path, body in (("GET", "/api/auth/me", None), ("DELETE", "/api/auth/me", None),
                               ("POST", "/api/tasks", {"title": "ghost"}),
                               ("POST", "/api/chat", {"message": "add ghost task"})):
        response = client.request(method, path, json=body, headers=ada)
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["code"] == "not_authenticated"


def test_a_new_account_never_inherits_a_deleted_ones_id(client):
    ada = auth_headers(client, "ada@example.com")
    ada_id = client.get("/api/auth/me", headers=ada).json()["id"]
    assert client.delete("/api/auth/me", headers=ada).status_code == 204
    carol = client.post("/api/auth/register", json={"email": "carol@example.com", "password": PASSWORD}).json()
    assert carol["id"] != ada_id
    # Ada's token is still signed and unexpired: it must not open Carol's account.
    assert client.get("/api/auth/me", headers=ada).status_code == 401


def test_delete_me_needs_a_token(client):
    response = client.delete("/api/auth/me")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
