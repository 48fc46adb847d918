import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from support import make_settings, wait_for_status


def test_health_is_static(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}


def test_ready_when_database_answers(client):
    assert wait_for_status(client, "/ready", 200) == 200
    assert client.get("/ready").json() == {"status": "ready"}


def test_ready_follows_the_database(pg_server, fresh_pg_url):
    """Stop PostgreSQL: /ready turns 503 while /health stays 200; start it again: /ready is back to 200."""
    with TestClient(create_app(make_settings(fresh_pg_url))) as client:
        assert wait_for_status(client, "/ready", 200) == 200
        pg_server.stop()
        try:
            response = client.get("/ready")
            assert response.status_code == 503
            assert response.json()["code"] == "not_ready"
            assert client.get("/health").status_code == 200
        finally:
            pg_server.start()
        assert wait_for_status(client, "/ready", 200) == 200


def test_app_starts_before_its_database(pg_server, fresh_pg_url):
    """With the database away at start, the app still serves /health and migrates once it appears."""
    pg_server.stop()
    try:
        client = TestClient(create_app(make_settings(fresh_pg_url)))
        client.__enter__()
        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code == 503
    finally:
        pg_server.start()
    try:
        assert wait_for_status(client, "/ready", 200, timeout=30) == 200
    finally:
        client.__exit__(None, None, None)


def test_request_id_echoed_or_generated(client):
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = client.get("/health", headers={"X-Request-ID": "bad id\twith junk"}).headers["x-request-id"]
    assert len(generated) == 32 and generated.isalnum()


@pytest.mark.parametrize("origin, allowed", [("http://localhost:3000", True), ("http://evil.test", False)])
def test_cors_only_for_configured_origins(database_url, origin, allowed):
    settings = make_settings(database_url, cors_origins=("http://localhost:3000",))
    with TestClient(create_app(settings)) as client:
        response = client.options(
            "/api/tasks", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        )
    assert (response.headers.get("access-control-allow-origin") == origin) is allowed
