"""A pool's breaker is one key, `(pool:<name>, model)`, whoever records into it (7): a member's
failure after its stream started counts against the breaker admission checks, so a pool
whose streams keep breaking is skipped for the route's fallback like any other target."""

from __future__ import annotations

import pytest

from tests.fakes.server import Reply
from tests.fakes.vllm import FakeVLLM, chat_stream
from tests.pools.conftest import GatewayFactory, Servers, pool_toml

MODEL = "team/chat"
CHAT = {"messages": [{"role": "user", "content": "hi"}], "stream": True}


def _config(gpu: str, spare: str) -> str:
    return (
        "[dispatch.retry]\nattempts = 1\n"
        "[dispatch.breaker]\nconsecutive_failures = 2\nopen_seconds = 30\nmax_open_seconds = 60\n"
        + pool_toml("gpu", [gpu], models=[], health_interval=60)
        + pool_toml("spare", [spare], models=[], health_interval=60)
        + f'[[routes]]\nmatch = "{MODEL}"\npool = "gpu"\nfallbacks = [{{ pool = "spare" }}]\n'
    )


def _cut_stream() -> Reply:
    reply = chat_stream(MODEL)
    assert reply.events is not None
    reply.cut_after = len(reply.events[0]) + len(reply.events[1]) + 5  # start, one delta, then cut
    return reply


@pytest.mark.timeout(30)
def test_mid_stream_failures_of_a_member_open_the_pools_breaker(
    pool_gateway: GatewayFactory, servers: Servers
) -> None:
    gpu, spare = FakeVLLM(MODEL), FakeVLLM(MODEL)
    running = pool_gateway(_config(servers.serve(gpu), servers.serve(spare)))
    breakers = running.gateway.dispatcher.breakers
    for _ in range(2):
        gpu.enqueue(_cut_stream())
        with running.client() as client, client.stream("POST", f"/models/v2/{MODEL}", json=CHAT) as response:
            assert response.status_code == 200
            body = response.read().decode()
        assert "event: error" in body and "event: done" in body
    assert breakers.is_open(("pool:gpu", MODEL))
    with running.client() as client:
        response = client.post(f"/models/v2/{MODEL}", json={**CHAT, "stream": False})
    assert response.status_code == 200, response.text
    assert len(gpu.inference_calls) == 2  # open: skipped
    assert len(spare.inference_calls) == 1
    assert not any(isinstance(key[0], str) and key[0].startswith("http") for key in breakers._breakers)
