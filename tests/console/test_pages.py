"""The console's pages over HTTP: login, the operator guard, CSRF, keys made and revoked in
the UI and used on the API, the usage data, and `[ui] enabled = false`."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from proxy.app import create_app
from proxy.settings import load_settings

TOKEN = "console-test-admin-token-0001"


def _client(tmp_path: Path, extra: str = "") -> TestClient:  # type: ignore[type-arg]
    config = tmp_path / "config.toml"
    config.write_text(f'[admin]\ntoken = "{TOKEN}"\n{extra}')
    settings = load_settings(config, environ={"UNIGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'u.db'}"})
    return TestClient(create_app(settings))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with _client(tmp_path) as test_client:
        yield test_client


def _login(client: TestClient) -> str:  # type: ignore[type-arg]
    answer = client.post("/ui/login", data={"token": TOKEN, "next": "/ui/keys"}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/keys"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert TOKEN not in cookie
    page = client.get("/ui/keys").text
    match = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


def test_an_admin_page_without_login_redirects_to_the_login(client: TestClient) -> None:  # type: ignore[type-arg]
    for path in ("/ui/keys", "/ui/usage", "/ui/log", "/ui/pools", "/ui/routes", "/ui/usage/data"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/ui/login?next=")
    fragment = client.get("/ui/log/rows", headers={"HX-Request": "true"}, follow_redirects=False)
    assert fragment.headers["HX-Redirect"].startswith("/ui/login")


def test_a_wrong_token_is_refused_and_pages_carry_a_strict_csp(client: TestClient) -> None:  # type: ignore[type-arg]
    answer = client.post("/ui/login", data={"token": "not-the-token"}, follow_redirects=False)
    assert answer.status_code == 401
    assert "set-cookie" not in answer.headers
    policy = client.get("/ui").headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "<script>" not in client.get("/ui").text


def test_a_key_created_in_the_ui_works_and_revoking_it_makes_the_next_call_401(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    csrf = _login(client)
    created = client.post("/ui/keys", data={"_csrf": csrf, "name": "<b>web</b>", "rpm": "60", "budget": "5"})
    assert created.status_code == 200
    assert "&lt;b&gt;web&lt;/b&gt;" in created.text  # escaped, never markup
    key = re.search(r'id="new-key" class="secret" readonly value="([^"]+)"', created.text)
    assert key is not None
    models = client.get("/models/v2/list/models", headers={"Authorization": f"Key {key.group(1)}"})
    assert models.status_code == 200
    key_id = re.search(r'data-key-id="([^"]+)"', created.text)
    assert key_id is not None
    assert client.get("/ui/keys").text.count("data-key-id=") == 1
    revoked = client.post(f"/ui/keys/{key_id.group(1)}/revoke", data={"_csrf": csrf})
    assert revoked.status_code == 200
    again = client.get("/models/v2/list/models", headers={"Authorization": f"Key {key.group(1)}"})
    assert again.status_code == 401


def test_forms_without_the_csrf_token_or_from_another_origin_are_refused(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    csrf = _login(client)
    assert client.post("/ui/keys", data={"_csrf": "forged", "name": "x"}).status_code == 403
    other = client.post(
        "/ui/keys", data={"_csrf": csrf, "name": "x"}, headers={"Origin": "https://evil.example"}
    )
    assert other.status_code == 403
    assert "data-key-id=" not in client.get("/ui/keys").text


def test_bad_form_input_is_a_422_with_the_reason(client: TestClient) -> None:  # type: ignore[type-arg]
    csrf = _login(client)
    answer = client.post(
        "/ui/keys", data={"_csrf": csrf, "name": "x", "rpm": "lots"}, headers={"HX-Request": "true"}
    )
    assert answer.status_code == 422
    assert "rpm must be a whole number" in answer.text


def test_usage_data_and_the_log_read_the_ledger(client: TestClient) -> None:  # type: ignore[type-arg]
    _login(client)
    series = client.get("/ui/usage/data?window=1h&group=provider")
    assert series.status_code == 200
    assert series.json()["bucket_seconds"] == 60
    assert client.get("/ui/usage/data?window=9y").status_code == 400
    assert client.get("/ui/log/rows?model=%25").status_code == 200


def test_the_login_never_redirects_off_the_console(client: TestClient) -> None:  # type: ignore[type-arg]
    answer = client.post(
        "/ui/login", data={"token": TOKEN, "next": "//evil.example/"}, follow_redirects=False
    )
    assert answer.headers["location"] == "/ui/keys"


def test_ui_enabled_false_turns_the_console_off(tmp_path: Path) -> None:
    with _client(tmp_path, "[ui]\nenabled = false\n") as client:
        assert client.get("/ui").status_code == 404
        assert client.get("/ui/static/console.css").status_code == 404


def test_the_log_shows_a_refusal_and_the_usage_does_not_count_it_as_a_call(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    _login(client)
    record, key = client.app.state.gateway.keys.create("refused-in-the-log")
    refused = client.post(
        "/models/v2/nobody/nothing", json={"text": "hi"}, headers={"Authorization": f"Key {key}"}
    )
    assert refused.status_code == 404
    request_id = refused.headers["x-request-id"]
    deadline = time.monotonic() + 5
    while request_id not in (rows := client.get(f"/ui/log/rows?status=refused&key={record.id}").text):
        assert time.monotonic() < deadline, rows
        time.sleep(0.05)
    assert "not_found" in rows and "nobody/nothing" in rows
    points = [
        point
        for point in client.get("/ui/usage/data?window=1h&group=key").json()["points"]
        if point["group"] == record.id
    ]
    assert [(point["requests"], point["refused"], point["cost"]) for point in points] == [(0, 1, 0)]
