"""Helpers shared by the test modules."""

import time

from fastapi.testclient import TestClient

from app.config import Settings
from app.db import create_db_engine
from app.migrate import upgrade_to_head

JWT_SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse"


def make_settings(database_url: str, **overrides) -> Settings:
    return Settings(database_url=database_url, jwt_secret=JWT_SECRET, **overrides)


def migrate(url: str) -> None:
    engine = create_db_engine(url)
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()


def auth_headers(client: TestClient, email: str, password: str = PASSWORD) -> dict:
    assert client.post("/api/auth/register", json={"email": email, "password": password}).status_code == 201
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def wait_for_status(client: TestClient, path: str, status: int, timeout: float = 15.0) -> int:
    """Poll until path answers with status (a condition, not a fixed sleep); return the last status."""
    deadline = time.monotonic() + timeout
    while True:
        current = client.get(path).status_code
        if current == status or time.monotonic() > deadline:
            return current
        time.sleep(0.1)
