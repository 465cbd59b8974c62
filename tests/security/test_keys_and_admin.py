"""Proxy keys (S6) and who may read or manage what (S12)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from proxy.identity.keys import PREFIX_LENGTH, KeyStore, hash_key
from proxy.settings import ConfigError, load_settings
from proxy.storage import sqlite_path
from tests.conftest import RunningGateway
from tests.security.conftest import ADMIN_TOKEN, MODEL, SEED, VENDOR_KEY, MakeGateway

ADMIN_CONFIG = f'[admin]\ntoken = "{ADMIN_TOKEN}"\n'
HOSTILE_KEYS = [
    "' OR 1=1 --",
    "ug-x'; DROP TABLE keys; --",
    "%' OR hash LIKE '%",
    "ug-" + "a" * 3_000,
    "no-prefix-at-all",
    "\u00e9\u20ac\U0001f600",
    "*",
]


# S6 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("presented", HOSTILE_KEYS)
def test_any_presented_string_is_a_plain_401(make_gateway: MakeGateway, presented: str) -> None:
    gateway = make_gateway()
    with httpx.Client(base_url=gateway.url) as client:
        response = client.post(
            MODEL,
            json=SEED,
            headers={"Authorization": b"Key " + presented.encode()},
        )
    assert response.status_code == 401
    assert response.json()["code"] == "authentication"
    with sqlite3.connect(sqlite_path(gateway.settings.database_url)) as connection:
        assert connection.execute("SELECT COUNT(*) FROM keys").fetchone()[0] == 1  # the table is intact


def test_a_10_kb_key_is_refused_by_the_header_cap(make_gateway: MakeGateway) -> None:
    gateway = make_gateway()
    with httpx.Client(base_url=gateway.url) as client:
        response = client.post(MODEL, json=SEED, headers={"Authorization": "Key ug-" + "a" * 10_000})
    assert response.status_code == 431


def test_only_the_hash_is_stored_and_lookup_goes_through_the_prefix_index(tmp_path: Path) -> None:
    store = KeyStore(f"sqlite:///{tmp_path / 'keys.db'}")
    record, key = store.create("k")
    rows = store._db().execute("SELECT * FROM keys").fetchall()
    flat = " ".join(str(value) for value in rows[0])
    secret = key.removeprefix(f"ug-{record.id}-")  # the secret itself may hold a "-"
    assert len(secret) >= 40 and key not in flat and secret not in flat
    assert hash_key(key) in flat
    plan = " ".join(
        str(row)
        for row in store._db().execute(
            "EXPLAIN QUERY PLAN SELECT * FROM keys WHERE hash_prefix = ?", (hash_key(key)[:PREFIX_LENGTH],)
        )
    )
    assert "keys_hash_prefix" in plan
    assert asyncio.run(store.lookup(key)) == record
    store.close()


def test_a_hash_prefix_collision_still_needs_the_full_hash(tmp_path: Path) -> None:
    store = KeyStore(f"sqlite:///{tmp_path / 'keys.db'}")
    record, key = store.create("k")
    impostor_hash = hash_key(key)[:PREFIX_LENGTH] + "0" * (64 - PREFIX_LENGTH)
    store._db().execute("UPDATE keys SET hash = ? WHERE id = ?", (impostor_hash, record.id))
    store._cache.clear()
    assert asyncio.run(store.lookup(key)) is None
    store.close()


def test_a_near_miss_of_a_real_key_is_looked_up_as_a_random_string_is(tmp_path: Path) -> None:
    """Constant-ish time without timing anything: the store never compares the presented text.
    It looks a key up by the SHA-256 of what was presented, so a near miss of a real key
    shares the real key's indexed hash prefix no more than a random string does, and each
    costs one fetch of the same shape (timed medians were flaky on a shared machine)."""
    store = KeyStore(f"sqlite:///{tmp_path / 'keys.db'}")
    _, real = store.create("real")
    near_miss = real[:-1] + ("A" if real[-1] != "A" else "B")
    random_string = "ug-000000000000-" + "z" * 43
    fetched: list[str] = []
    fetch = store._fetch

    def recording(digest: str) -> object:
        fetched.append(digest)
        return fetch(digest)

    store._fetch = recording  # type: ignore[method-assign]
    assert asyncio.run(store.lookup(near_miss)) is None
    assert asyncio.run(store.lookup(random_string)) is None
    assert fetched == [hash_key(near_miss), hash_key(random_string)]
    assert hash_key(near_miss)[:PREFIX_LENGTH] != hash_key(real)[:PREFIX_LENGTH]
    assert asyncio.run(store.lookup(real)) is not None
    store.close()


# S12 -----------------------------------------------------------------------------------


def _admin(gateway: RunningGateway, token: str = ADMIN_TOKEN) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_admin_manages_keys_and_reads_any_usage(make_gateway: MakeGateway) -> None:
    gateway = make_gateway(ADMIN_CONFIG)
    with _admin(gateway) as admin:
        created = admin.post("/admin/keys", json={"name": "team-a", "rpm": 5, "tpm": 100, "concurrency": 2})
        assert created.status_code == 201, created.text
        new_key, info = created.json()["key"], created.json()["info"]
        assert (info["rpm"], info["tpm"], info["concurrency"]) == (5, 100, 2)
        listing = admin.get("/admin/keys").json()["keys"]
        assert {entry["id"] for entry in listing} >= {info["id"]}
        assert new_key not in str(listing) and "hash" not in str(listing)
        with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
            client.headers["Authorization"] = f"Key {new_key}"
            assert client.post(MODEL, json=SEED).status_code == 200
        usage = _eventually(lambda: admin.get(f"/admin/keys/{info['id']}/usage").json(), "requests")
        assert usage["requests"] == 1 and usage["input_tokens"] == 19 and usage["key_id"] == info["id"]
        assert admin.delete(f"/admin/keys/{info['id']}").json() == {"id": info["id"], "revoked": True}
        assert admin.delete(f"/admin/keys/{info['id']}").status_code == 404
        assert admin.get("/admin/keys/nope/usage").status_code == 404
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Key {new_key}"}) as client:
        assert _eventually(lambda: client.get("/v1/usage").status_code, 401, seconds=12) == 401


def test_admin_sets_a_budget_and_the_key_runs_into_it(make_gateway: MakeGateway) -> None:
    price = '[prices."openai/gpt-4o-mini"]\ninput = 0.15\noutput = 0.60\n'
    gateway = make_gateway(ADMIN_CONFIG + price)
    with _admin(gateway) as admin:
        created = admin.post("/admin/keys", json={"name": "capped", "budget": 0.0001})
        assert created.status_code == 201, created.text
        key, info = created.json()["key"], created.json()["info"]
        assert (info["budget"], info["spent"], info["reserved"]) == (0.0001, 0.0, 0.0)
        with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
            client.headers["Authorization"] = f"Key {key}"
            assert client.post(MODEL, json=SEED).status_code == 200
            spent = _eventually(
                lambda: next(k for k in admin.get("/admin/keys").json()["keys"] if k["id"] == info["id"]),
                "spent",
                value=round((19 * 0.15 + 10 * 0.60) / 1e6, 10),
            )
            assert spent["reserved"] == 0.0
            lowered = admin.put(f"/admin/keys/{info['id']}/budget", json={"budget": 0.00001})
            assert lowered.status_code == 200 and lowered.json()["budget"] == 0.00001
            refused = client.post(MODEL, json=SEED)
            assert refused.status_code == 402, refused.text
            assert refused.json()["code"] == "budget_exceeded"
            assert (
                admin.put(f"/admin/keys/{info['id']}/budget", json={"budget": None}).json()["budget"] is None
            )
            assert client.post(MODEL, json=SEED).status_code == 200
        assert admin.put("/admin/keys/nope/budget", json={"budget": 1}).status_code == 404
        assert admin.put(f"/admin/keys/{info['id']}/budget", json={"budget": -1}).status_code == 400


def test_a_key_reads_only_its_own_usage(make_gateway: MakeGateway) -> None:
    gateway = make_gateway(ADMIN_CONFIG)
    _, other_key = gateway.gateway.keys.create("other")
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        assert client.post(MODEL, json=SEED).status_code == 200
        assert client.post(MODEL, json=SEED).status_code == 200
        own = _eventually(lambda: client.get("/v1/usage").json(), "requests", value=2)
    assert own["requests"] == 2
    own_id = own["key_id"]
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Key {other_key}"}) as other:
        mine = other.get("/v1/usage").json()
        assert mine["requests"] == 0 and mine["key_id"] != own_id
        # no way to name another key: extra parameters are ignored, admin routes refuse
        assert other.get("/v1/usage", params={"key_id": own_id}).json()["key_id"] == mine["key_id"]
        assert other.get(f"/admin/keys/{own_id}/usage").status_code == 401
    with httpx.Client(base_url=gateway.url) as anonymous:
        assert anonymous.get("/v1/usage").status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/keys"),
        ("POST", "/admin/keys"),
        ("DELETE", "/admin/keys/x"),
        ("GET", "/admin/keys/x/usage"),
        ("PUT", "/admin/keys/x/budget"),
    ],
)
def test_admin_routes_refuse_proxy_keys_and_wrong_tokens(
    make_gateway: MakeGateway, method: str, path: str
) -> None:
    gateway = make_gateway(ADMIN_CONFIG)
    for authorization in (f"Key {gateway.key}", f"Bearer {gateway.key}", gateway.key, "Bearer wrong", ""):
        with httpx.Client(base_url=gateway.url) as client:
            response = client.request(
                method, path, json={"name": "x"}, headers={"Authorization": authorization}
            )
        assert response.status_code == 401, (authorization, response.text)
        assert response.json()["code"] == "authentication"


def test_admin_routes_are_absent_without_a_token(make_gateway: MakeGateway) -> None:
    gateway = make_gateway()
    with _admin(gateway) as admin:
        assert admin.get("/admin/keys").status_code == 404


def test_a_short_admin_token_is_refused_at_startup(tmp_path: Path) -> None:
    from proxy.app import create_app

    config = tmp_path / "config.toml"
    config.write_text('[admin]\ntoken = "short"\n')
    settings = load_settings(config, environ={"UNIGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"})
    with pytest.raises(ConfigError):
        create_app(settings)


def test_admin_token_comes_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[admin]\ntoken = "${UNIGATE_ADMIN_TOKEN}"\n')
    settings = load_settings(config, environ={"UNIGATE_ADMIN_TOKEN": ADMIN_TOKEN})
    assert settings.config.admin.token == ADMIN_TOKEN


def test_admin_create_validates_its_body(make_gateway: MakeGateway) -> None:
    gateway = make_gateway(ADMIN_CONFIG)
    with _admin(gateway) as admin:
        for body in ({"name": ""}, {"name": "x", "rpm": -1}, {"rpm": 5}, {"name": "x", "bogus": 1}):
            response = admin.post("/admin/keys", json=body)
            assert response.status_code == 400, body
            assert response.json()["code"] == "invalid_request"


def _eventually(read: object, field: object, *, value: object = None, seconds: float = 3.0) -> object:
    """Poll until the ledger writer has caught up (a dict with `field` set, or `field` itself)."""
    deadline = time.monotonic() + seconds
    while True:
        result = read()  # type: ignore[operator]
        if isinstance(result, dict) and isinstance(field, str):
            if result.get(field) and (value is None or result[field] == value):
                return result
        elif result == field:
            return result
        if time.monotonic() > deadline:
            return result
        time.sleep(0.05)
