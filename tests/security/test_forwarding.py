"""What a client sends never steers the upstream call (S4), and keys never cross (S5)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from proxy.surfaces.native.decode import NEVER_FORWARDED, split_params
from tests.fakes.server import FakeVendor
from tests.security.conftest import MODEL, SEED, VENDOR_KEY, MakeGateway

STEERING = {
    "api_base": "http://169.254.169.254/",
    "base_url": "http://10.0.0.1/v1",
    "api_key": "sk-attacker-000000000000",
    "user_config": {"model_list": [{"litellm_params": {"api_base": "http://evil"}}]},
    "extra_headers": {"X-Injected": "1"},
    "headers": {"Authorization": "Bearer stolen"},
    "api_version": "2099-01-01",
}
CLIENT_HEADERS = {
    "Host": "internal.example",
    "X-Forwarded-For": "10.0.0.1",
    "X-Forwarded-Host": "metadata.internal",
    "X-Forwarded-Proto": "http",
    "X-Real-IP": "10.0.0.2",
    "Forwarded": "for=10.0.0.3",
    "Cookie": "session=abc",
    "X-Api-Key": "client-junk-key",
}


def test_steering_params_and_client_headers_never_reach_the_vendor(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor
) -> None:
    gateway = make_gateway()
    body = {**SEED, "params": {**SEED["params"], **STEERING, "seed": 7}}  # type: ignore[dict-item]
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        response = client.post(MODEL, json=body, headers=CLIENT_HEADERS)
    assert response.status_code == 200
    received = fake_openai_vendor.last
    sent = received.json()
    for name in STEERING:
        assert name not in sent
    assert sent["seed"] == 7  # ordinary params still travel
    assert received.headers["authorization"] == f"Bearer {VENDOR_KEY}"
    assert received.headers["host"].startswith("127.0.0.1:")
    for name in CLIENT_HEADERS:
        if name != "Host":
            assert name.lower() not in received.headers, name
    assert "x-injected" not in received.headers
    assert gateway.key not in str(received.headers) and gateway.key not in received.body.decode()


def test_split_params_drops_every_steering_name_in_any_case() -> None:
    params = {name.upper() if index % 2 else name: "x" for index, name in enumerate(sorted(NEVER_FORWARDED))}
    _, _, extra = split_params({**params, "logit_bias": {"1": 2}})
    assert extra == {"logit_bias": {"1": 2}}


def test_concurrent_requests_each_carry_their_own_provider_key(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor
) -> None:
    gateway = make_gateway()
    keys = [f"sk-tenant-{n:02d}-{'x' * 20}" for n in range(12)]
    barrier = threading.Barrier(len(keys))

    def call(vendor_key: str) -> tuple[str, str]:
        with httpx.Client(base_url=gateway.url, timeout=10) as client:
            barrier.wait()
            marker = f"marker-{vendor_key}"
            client.post(
                MODEL,
                json={"messages": [{"role": "user", "content": marker}]},
                headers={"Authorization": f"Key {gateway.key}", "Provider-Key": vendor_key},
            )
            return vendor_key, marker

    with ThreadPoolExecutor(len(keys)) as pool:
        pairs = dict(pool.map(call, keys))
    seen = {
        received.json()["messages"][0]["content"]: received.headers["authorization"]
        for received in fake_openai_vendor.received
    }
    assert len(seen) == len(keys)
    for vendor_key, marker in pairs.items():
        assert seen[marker] == f"Bearer {vendor_key}"
