"""A model id stays out of a worker's URL (S5b): pools carry it in the JSON body, so a hostile
id reaches an openai-protocol worker at `/v1/chat/completions` and a Bytez container at
`/run`, no other path and no query, verbatim in the body."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.fakes.bytez import FakeBytez
from tests.fakes.server import FakeVendor
from tests.fakes.vllm import FakeVLLM
from tests.pools.conftest import GatewayFactory, Servers, pool_toml

HOSTILE = "team/x/../../admin?key=injected#frag"
CHAT = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("protocol", "fake", "path"),
    [("openai", FakeVLLM(HOSTILE), "/v1/chat/completions"), ("bytez", FakeBytez("chat", HOSTILE), "/run")],
    ids=["openai", "bytez"],
)
def test_a_hostile_model_id_reaches_the_worker_on_its_one_path(
    pool_gateway: GatewayFactory, servers: Servers, protocol: str, fake: FakeVendor, path: str
) -> None:
    url = servers.serve(fake)
    running = pool_gateway(pool_toml("gpu", [url], protocol=protocol, models=["team/*"], health_interval=60))
    with running.client() as client:
        client.post(f"/models/v2/{quote(HOSTILE, safe='')}", json=CHAT)
        client.post("/v1/chat/completions", json={"model": HOSTILE, **CHAT})
    calls = [r for r in fake.received if r.method == "POST"]
    assert [(r.path, r.query) for r in calls] == [(path, "")] * 2
    if protocol == "openai":
        assert [r.json()["model"] for r in calls] == [HOSTILE] * 2
