"""Pools discovered from their workers: OpenAI-protocol members are asked `GET /v1/models`
at start and on every health round; the catalogue lists what they serve at the pool's meter
price, and an id the pool's globs take but no member serves is a 404 at once."""

from __future__ import annotations

from proxy.accounting.metering import SEED_METERS
from proxy.pools.members import Pools
from schemas.config import Config, Pool
from tests.fakes.vllm import FakeVLLM
from tests.pools.conftest import CHAT_MODEL, GatewayFactory, Servers, pool_toml, wait_for

OTHER = "NousResearch/Hermes-3-Llama-3.2-3B"


async def test_each_health_round_asks_what_the_member_serves(servers: Servers) -> None:
    fake = FakeVLLM(served=[CHAT_MODEL])
    pools = Pools(Config(pools=(Pool(name="gpu", urls=(servers.serve(fake),)),)))
    await pools.check()
    assert pools.served("gpu") == {CHAT_MODEL}
    fake.served = [CHAT_MODEL, OTHER]
    await pools.check()
    assert pools.served("gpu") == {CHAT_MODEL, OTHER}
    fake.served = None
    await pools.check()
    assert pools.served("gpu") is None, "a server that does not say leaves the pool unfiltered"
    await pools.stop()


async def test_a_down_member_no_longer_counts(servers: Servers) -> None:
    first, second = FakeVLLM(served=[CHAT_MODEL]), FakeVLLM(served=[OTHER])
    pools = Pools(Config(pools=(Pool(name="gpu", urls=(servers.serve(first), servers.serve(second))),)))
    await pools.check()
    assert pools.served("gpu") == {CHAT_MODEL, OTHER}
    pools.pools["gpu"].members[1].state = "down"
    assert pools.served("gpu") == {CHAT_MODEL}
    await pools.stop()


def test_the_catalogue_follows_what_members_serve_between_health_rounds(
    pool_gateway: GatewayFactory, servers: Servers
) -> None:
    fake = FakeVLLM(served=[CHAT_MODEL])
    url = servers.serve(fake)
    running = pool_gateway(
        pool_toml("gpu", [url], models=["NousResearch/*"], meter="SM", health_interval=0.05)
    )

    def listed() -> set[str]:
        with running.client() as client:
            entries = client.get("/models/v2/list/models").json()["output"]
        return {entry["modelId"] for entry in entries if entry.get("pool") == "gpu"}

    assert wait_for(lambda: listed() == {CHAT_MODEL})
    with running.client() as client:
        entry = client.get("/models/v2/list/models", params={"modelId": CHAT_MODEL}).json()["output"][0]
        assert (entry["meter"], entry["meterPrice"]) == ("LLM-SM", SEED_METERS["LLM-SM"])
        unserved = client.get("/models/v2/list/models", params={"modelId": OTHER})
        assert unserved.status_code == 404
        call = client.post(f"/models/v2/{OTHER}", json={"messages": [{"role": "user", "content": "hi"}]})
    assert call.status_code == 404
    assert call.json()["code"] == "not_found"
    assert OTHER in call.json()["error"]
    assert fake.inference_calls == [], "refused before any member was called"

    fake.served = [CHAT_MODEL, OTHER]
    assert wait_for(lambda: listed() == {CHAT_MODEL, OTHER})
    with running.client() as client:
        call = client.post(f"/models/v2/{OTHER}", json={"messages": [{"role": "user", "content": "hi"}]})
    assert call.status_code == 200, call.text
    assert len(fake.inference_calls) == 1

    fake.served = [OTHER]
    assert wait_for(lambda: listed() == {OTHER})
    with running.client() as client:
        gone = client.post(f"/models/v2/{CHAT_MODEL}", json={"messages": [{"role": "user", "content": "hi"}]})
    assert gone.status_code == 404


def test_a_member_that_does_not_say_takes_every_glob_match(
    pool_gateway: GatewayFactory, servers: Servers
) -> None:
    fake = FakeVLLM(served=None)
    running = pool_gateway(
        pool_toml("gpu", [servers.serve(fake)], models=["NousResearch/*"], health_interval=0.05)
    )
    assert wait_for(lambda: running.gateway.pools.pools["gpu"].members[0].state == "healthy")
    with running.client() as client:
        call = client.post(f"/models/v2/{OTHER}", json={"messages": [{"role": "user", "content": "hi"}]})
    assert call.status_code == 200, call.text
