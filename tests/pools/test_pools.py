"""proxy/pools/members.py on its own: selection, caps, waiting, release, health states, meters."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import msgspec
import pytest

from proxy.accounting.metering import SEED_METERS, Meter, pool_meter
from proxy.pools.members import Pools, member_url
from schemas.config import Config, Pool
from schemas.errors import Code, UpstreamError
from tests.fakes.server import ServerThread
from tests.fakes.vllm import FakeVLLM
from tests.pools.conftest import refusing_url


def pools_for(*pools: Pool) -> Pools:
    return Pools(Config(pools=pools))


def ready(pools: Pools, name: str = "gpu") -> Pools:
    for member in pools.pools[name].members:
        member.state = "healthy"
    return pools


URLS = ("http://a:1", "http://b:1", "http://c:1")


async def test_least_outstanding_with_turns_and_caps() -> None:
    pools = ready(pools_for(Pool(name="gpu", urls=URLS, concurrency=2)))
    leases = [await pools.acquire("gpu", frozenset()) for _ in range(6)]
    chosen = [lease.endpoint for lease in leases]
    assert sorted(chosen[:3]) == sorted(URLS), "each member gets one before any gets two"
    assert sorted(chosen) == sorted(URLS * 2)
    assert [m.outstanding for m in pools.pools["gpu"].members] == [2, 2, 2]
    leases[0].release(True)
    again = await pools.acquire("gpu", frozenset())
    assert again.endpoint == leases[0].endpoint, "the only member with a free slot"
    assert again.base_url == f"{again.endpoint}/v1" and again.provider == "pool:gpu"
    assert again.meter == "LLM-SM"


async def test_exclude_and_states_decide_who_is_usable() -> None:
    pools = ready(pools_for(Pool(name="gpu", urls=URLS)))
    a, b, c = pools.pools["gpu"].members
    b.state, c.state = "warming", "down"
    assert (await pools.acquire("gpu", frozenset())).endpoint == a.url
    with pytest.raises(UpstreamError) as caught:
        await pools.acquire("gpu", frozenset({a.url, "http://b:1"}))
    assert caught.value.code is Code.OVERLOADED and caught.value.provider == "pool:gpu"
    assert "http://" not in caught.value.message
    assert "1 down" in caught.value.message


async def test_a_busy_pool_waits_for_a_slot_then_gives_up() -> None:
    pools = ready(pools_for(Pool(name="gpu", urls=URLS[:1], concurrency=1, acquire_timeout=0.2)))
    held = await pools.acquire("gpu", frozenset())
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(UpstreamError) as caught:
        await pools.acquire("gpu", frozenset())
    assert 0.15 < loop.time() - started < 1.0
    assert caught.value.code is Code.OVERLOADED and caught.value.retry_after == 1.0
    waiting = asyncio.ensure_future(pools.acquire("gpu", frozenset()))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    held.release(True)
    lease = await asyncio.wait_for(waiting, 1)
    assert lease.endpoint == URLS[0]


async def test_release_is_counted_once_and_a_failure_is_probed(monkeypatch: pytest.MonkeyPatch) -> None:
    pools = ready(pools_for(Pool(name="gpu", urls=(refusing_url(),), concurrency=3)))
    lease = await pools.acquire("gpu", frozenset())
    lease.release(False)
    lease.release(False)
    member = pools.pools["gpu"].members[0]
    assert member.outstanding == 0
    for _ in range(100):
        if member.state == "down":
            break
        await asyncio.sleep(0.02)
    assert member.state == "down", "a failed request triggers a health check at once"
    await pools.stop()


async def test_a_bytez_container_takes_one_request_at_a_time() -> None:
    pools = ready(
        pools_for(Pool(name="gpu", urls=URLS[:1], protocol="bytez", concurrency=8, acquire_timeout=0.1))
    )
    await pools.acquire("gpu", frozenset())
    assert pools.pools["gpu"].members[0].concurrency == 1
    with pytest.raises(UpstreamError):
        await pools.acquire("gpu", frozenset())


@pytest.fixture
def live() -> Iterator[tuple[FakeVLLM, str]]:
    fake = FakeVLLM()
    server = ServerThread(fake, lifespan="off").start()
    yield fake, server.url
    server.stop()


async def test_health_states_follow_the_answers(live: tuple[FakeVLLM, str]) -> None:
    fake, url = live
    pools = pools_for(
        Pool(name="gpu", urls=(url, refusing_url())),
        Pool(name="ollama", urls=(url,), health_path="/no-such-path"),
    )
    await pools.check()
    assert [m.state for m in pools.pools["gpu"].members] == ["healthy", "down"]
    assert pools.pools["ollama"].members[0].state == "healthy", "a server without the path still answers"
    fake.loading = True
    await pools.check()
    assert pools.pools["gpu"].members[0].state == "warming", "503 while loading: warming, not dead"
    await pools.stop()


async def test_health_loop_runs_between_start_and_stop(live: tuple[FakeVLLM, str]) -> None:
    fake, url = live
    pools = pools_for(Pool(name="gpu", urls=(url,), health_interval=0.05))
    pools.start()

    def checks_so_far() -> int:
        return sum(1 for request in fake.received if request.path == "/health")

    async with asyncio.timeout(10):  # the loop keeps checking: three checks come, however slow the machine
        while checks_so_far() < 3:
            await asyncio.sleep(0.01)
    await pools.stop()
    checks = checks_so_far()
    await asyncio.sleep(0.15)
    assert sum(1 for request in fake.received if request.path == "/health") <= checks + 1


def test_member_urls_are_bare_addresses() -> None:
    assert member_url(" http://10.0.0.5:8000/v1/ ", "openai") == "http://10.0.0.5:8000"
    assert member_url("http://10.0.0.5:8000/", "bytez") == "http://10.0.0.5:8000"


@pytest.mark.parametrize(
    ("task", "meter", "expected"),
    [
        ("chat", "SM", "LLM-SM"),
        ("text-generation", "Super", "LLM-Super"),
        ("feature-extraction", "SM", "SM"),
        ("chat", "my-gpu", "my-gpu"),
        ("image-classification", "XS", "XS"),
    ],
)
def test_pool_meter_reads_the_right_table(task: str, meter: str, expected: str) -> None:
    assert pool_meter(Pool(name="p", urls=(), task=task, meter=meter)) == expected


def test_seed_tables_are_the_default_price_list() -> None:
    assert len(SEED_METERS) == 16
    assert SEED_METERS["LLM-Micro"] == 0.0000872083 and SEED_METERS["Super"] == 0.02992640
    meter = Meter({}, {"SM": 0.5, "my-gpu": 0.001})
    assert meter.meter_price("SM") == 0.5 and meter.meter_price("LLM-SM") == SEED_METERS["LLM-SM"]
    billing = meter.pool_billing("my-gpu", 1.23456789)
    assert billing.inference_time == 1.234568
    assert billing.cost == pytest.approx(0.001 * 1.234568, abs=1e-12)
    assert meter.pool_billing("unknown", 1.0).cost is None


def test_config_toml_lists_the_seed_tables() -> None:
    import tomllib
    from pathlib import Path

    data = tomllib.loads((Path(__file__).resolve().parents[2] / "config.toml").read_text())
    assert data["meters"] == SEED_METERS
    msgspec.convert(data, Config, strict=False)
