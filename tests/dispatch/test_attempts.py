"""The attempt loop on its own (proxy/dispatch/attempts.py): which target each attempt goes
to, with which key, how often, and when it stops; scripted adapters stand for the vendors."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from adapters.base import Timeouts, UpstreamCall
from proxy.dispatch.attempts import AttemptLoop, breaker_key
from proxy.dispatch.call import Attempts, Lease
from proxy.routing.routes import Resolution, ResolvedTarget, Router
from schemas.chat import ChatResponse
from schemas.config import Config
from schemas.errors import Code, GatewayError, UpstreamError
from tests.dispatch.scripted import ScriptedAdapter, answer, chat, config, failure

ROUTE = """
[[routes]]
match = "team/chat"
provider = "openai"
model = "gpt-4o-mini"
fallbacks = [{ provider = "anthropic", model = "claude-3-5-haiku-latest" }]
"""
CALLER = {"": "caller-openai-key", "anthropic": "caller-anthropic-key"}
"""The bare Provider-Key and a Provider-Key-Anthropic."""


class Loop:
    """An AttemptLoop over scripted vendors, recording the sleeps between attempts."""

    def __init__(self, cfg: Config, adapters: Mapping[str, ScriptedAdapter], pools: object = None) -> None:
        self.config = cfg
        self.loop = AttemptLoop(cfg, adapters, pools)  # type: ignore[arg-type]
        self.slept: list[float] = []

        async def sleep(seconds: float) -> None:
            self.slept.append(seconds)

        self.loop.sleep = sleep
        self.attempts = Attempts()

    async def run(
        self, resolution: Resolution, keys: Mapping[str, str] = CALLER, *, fallback: bool = True
    ) -> ChatResponse:
        async def build(lease: Lease, target: ResolvedTarget, key: str, timeouts: Timeouts) -> UpstreamCall:
            return UpstreamCall(chat(), target.model, key, lease.base_url, timeouts)

        async def run(lease: Lease, call: UpstreamCall, first_byte: float) -> ChatResponse:
            return await lease.adapter.complete(call)

        route = next((r for r in self.config.routes if r.match == resolution.route), None)
        return await self.loop.run(
            resolution,
            route,
            self.config.dispatch.timeouts,
            keys,
            self.attempts,
            build,
            run,
            fallback=fallback,
        )


def resolve(cfg: Config, model_id: str = "team/chat") -> Resolution:
    resolution = Router(cfg).resolve(model_id)
    assert resolution is not None
    return resolution


def keys_and_models(adapter: ScriptedAdapter) -> list[tuple[str, str]]:
    return [(call.api_key, call.model) for call in adapter.calls]


async def test_retries_at_the_first_target_then_the_fallback_answers_with_its_own_key() -> None:
    cfg = config(ROUTE)
    openai = ScriptedAdapter("openai", *[failure("openai")] * 3)
    anthropic = ScriptedAdapter("anthropic", answer("from anthropic"))
    loop = Loop(cfg, {"openai": openai, "anthropic": anthropic})
    response = await loop.run(resolve(cfg))
    assert response.content == "from anthropic"
    assert keys_and_models(openai) == [("caller-openai-key", "gpt-4o-mini")] * 3
    assert keys_and_models(anthropic) == [("caller-anthropic-key", "claude-3-5-haiku-latest")]
    assert loop.attempts.count == 4
    assert loop.attempts.lease is not None and loop.attempts.lease.provider == "anthropic"
    assert loop.attempts.breaker == ("anthropic", "claude-3-5-haiku-latest")
    assert len(loop.slept) == 2  # between tries at a target, none before a fallback


async def test_the_bare_provider_key_never_reaches_a_fallback_vendor() -> None:
    cfg = config(ROUTE)
    openai = ScriptedAdapter("openai", *[failure("openai")] * 3)
    anthropic = ScriptedAdapter("anthropic")
    with pytest.raises(UpstreamError) as caught:
        await Loop(cfg, {"openai": openai, "anthropic": anthropic}).run(
            resolve(cfg), {"": "caller-openai-key"}
        )
    assert caught.value.code is Code.SERVER_ERROR and caught.value.provider == "openai"
    assert anthropic.calls == []  # no key of its own: skipped, not handed the OpenAI key


async def test_a_fallback_vendor_without_the_callers_key_uses_the_operators() -> None:
    cfg = config(ROUTE + '\n[providers.anthropic]\napi_key = "operator-anthropic-key"\n')
    openai = ScriptedAdapter("openai", failure("openai", Code.OVERLOADED), *[failure("openai")] * 2)
    anthropic = ScriptedAdapter("anthropic")
    await Loop(cfg, {"openai": openai, "anthropic": anthropic}).run(resolve(cfg), {"": "caller-openai-key"})
    assert keys_and_models(anthropic) == [("operator-anthropic-key", "claude-3-5-haiku-latest")]


async def test_the_key_owner_without_a_key_is_refused_before_any_call() -> None:
    cfg = config(ROUTE)
    openai, anthropic = ScriptedAdapter("openai"), ScriptedAdapter("anthropic")
    with pytest.raises(GatewayError) as caught:
        await Loop(cfg, {"openai": openai, "anthropic": anthropic}).run(resolve(cfg), {"anthropic": "k"})
    assert (caught.value.code, caught.value.provider) == (Code.PROVIDER_KEY_REQUIRED, "openai")
    assert openai.calls == anthropic.calls == []


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (CALLER, [("caller-anthropic-key", "claude-3-5-haiku-latest")]),
        ({"": "caller-openai-key"}, []),
    ],
)
async def test_an_open_breaker_skips_its_target_and_hands_its_key_to_nobody(
    keys: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    cfg = config(ROUTE + "[dispatch.breaker]\nconsecutive_failures = 1\n")
    openai, anthropic = ScriptedAdapter("openai"), ScriptedAdapter("anthropic")
    loop = Loop(cfg, {"openai": openai, "anthropic": anthropic})
    resolution = resolve(cfg)
    loop.loop.breakers.record(breaker_key(resolution.targets[0]), Code.SERVER_ERROR)
    assert loop.loop.ordered(resolution.targets) == [resolution.targets[1]]
    if expected:
        await loop.run(resolution, keys)
    else:  # Anthropic has no key of its own: the bare Provider-Key stays OpenAI's
        with pytest.raises(GatewayError) as caught:
            await loop.run(resolution, keys)
        assert (caught.value.code, caught.value.provider) == (Code.PROVIDER_KEY_REQUIRED, "anthropic")
    assert openai.calls == []
    assert keys_and_models(anthropic) == expected


async def test_a_client_error_ends_the_call_at_the_first_attempt() -> None:
    cfg = config(ROUTE)
    openai = ScriptedAdapter("openai", failure("openai", Code.INVALID_REQUEST))
    anthropic = ScriptedAdapter("anthropic")
    loop = Loop(cfg, {"openai": openai, "anthropic": anthropic})
    with pytest.raises(UpstreamError) as caught:
        await loop.run(resolve(cfg))
    assert caught.value.code is Code.INVALID_REQUEST
    assert (len(openai.calls), anthropic.calls, loop.slept, loop.attempts.count) == (1, [], [], 1)


async def test_a_context_length_failure_goes_to_the_context_fallback_only() -> None:
    route = ROUTE + 'context_fallback = { provider = "anthropic", model = "claude-big" }\n'
    cfg = config(route)
    openai = ScriptedAdapter("openai", failure("openai", Code.CONTEXT_LENGTH))
    anthropic = ScriptedAdapter("anthropic", failure("anthropic"), answer("long"))
    loop = Loop(cfg, {"openai": openai, "anthropic": anthropic})
    assert (await loop.run(resolve(cfg))).content == "long"
    assert len(openai.calls) == 1
    assert keys_and_models(anthropic) == [("caller-anthropic-key", "claude-big")] * 2


async def test_without_fallback_only_the_first_target_is_tried() -> None:
    cfg = config(ROUTE)
    openai = ScriptedAdapter("openai", *[failure("openai")] * 3)
    anthropic = ScriptedAdapter("anthropic")
    loop = Loop(cfg, {"openai": openai, "anthropic": anthropic})
    with pytest.raises(UpstreamError) as caught:
        await loop.run(resolve(cfg), fallback=False)
    assert caught.value.provider == "openai"
    assert (len(openai.calls), anthropic.calls) == (3, [])


async def test_retry_after_is_waited_as_said_and_one_too_long_moves_on() -> None:
    cfg = config(ROUTE, retry="max_retry_after = 5.0")
    openai = ScriptedAdapter(
        "openai",
        failure("openai", Code.RATE_LIMITED, retry_after=1.5),
        failure("openai", Code.RATE_LIMITED, retry_after=60.0),
    )
    anthropic = ScriptedAdapter("anthropic", answer("anthropic"))
    loop = Loop(cfg, {"openai": openai, "anthropic": anthropic})
    assert (await loop.run(resolve(cfg))).content == "anthropic"
    assert loop.slept == [1.5]
    assert len(openai.calls) == 2


async def test_a_spent_retry_budget_sends_the_call_on_without_retrying() -> None:
    cfg = config(ROUTE, retry="budget_floor = 0\nbudget_ratio = 0.0")
    openai = ScriptedAdapter("openai", failure("openai"))
    anthropic = ScriptedAdapter("anthropic", answer("anthropic"))
    loop = Loop(cfg, {"openai": openai, "anthropic": anthropic})
    assert (await loop.run(resolve(cfg))).content == "anthropic"
    assert (len(openai.calls), loop.slept) == (1, [])


class TwoMembers:
    """A pool of two members at the loop's `PoolProvider` seam; leases are recorded."""

    def __init__(self, adapter: ScriptedAdapter) -> None:
        self.adapter = adapter
        self.excluded: list[frozenset[str]] = []
        self.released: list[tuple[str, bool]] = []

    async def acquire(self, pool: str, exclude: frozenset[str]) -> Lease:
        self.excluded.append(exclude)
        free = [url for url in ("http://a", "http://b") if url not in exclude]
        if not free:
            raise UpstreamError(Code.OVERLOADED, "no member free", provider=f"pool:{pool}")
        url = free[0]
        return Lease(
            adapter=self.adapter,  # type: ignore[arg-type]
            provider=f"pool:{pool}",
            endpoint=url,
            base_url=f"{url}/v1",
            meter="LLM-SM",
            release=lambda ok: self.released.append((url, ok)),
        )

    def served(self, pool: str) -> frozenset[str] | None:
        return None


async def test_at_a_pool_a_retry_goes_to_another_member_at_once() -> None:
    cfg = config()
    worker = ScriptedAdapter("pool:gpu", failure("pool:gpu", Code.CONNECTION), answer("from b"))
    pools = TwoMembers(worker)
    loop = Loop(cfg, {}, pools)
    target = ResolvedTarget(None, "gpu", "meta/llama")
    resolution = Resolution("meta/llama", "chat", (target,), key_owner=None)
    assert (await loop.run(resolution, {})).content == "from b"
    assert pools.excluded == [frozenset(), frozenset({"http://a"})]
    assert [(call.base_url, call.api_key) for call in worker.calls] == [
        ("http://a/v1", ""),
        ("http://b/v1", ""),
    ]
    assert pools.released == [("http://a", False)]  # the answering lease is the caller's to release
    assert loop.slept == [0.0]
    assert loop.attempts.breaker == ("pool:gpu", "meta/llama")


async def test_a_pool_with_no_member_left_reports_the_last_members_failure() -> None:
    cfg = config()
    worker = ScriptedAdapter("pool:gpu", *[failure("pool:gpu", Code.CONNECTION)] * 2)
    loop = Loop(cfg, {}, TwoMembers(worker))
    target = ResolvedTarget(None, "gpu", "meta/llama")
    with pytest.raises(UpstreamError) as caught:
        await loop.run(Resolution("meta/llama", "chat", (target,), key_owner=None), {})
    assert caught.value.code is Code.OVERLOADED  # the third attempt found no member to lease
    assert len(worker.calls) == 2


async def test_a_success_closes_the_breaker_count_and_failures_open_it() -> None:
    cfg = config(ROUTE + "[dispatch.breaker]\nconsecutive_failures = 2\n")
    openai = ScriptedAdapter("openai", failure("openai"), answer(), failure("openai"), failure("openai"))
    anthropic = ScriptedAdapter("anthropic", answer("anthropic"))
    loop = Loop(cfg, {"openai": openai, "anthropic": anthropic})
    resolution = resolve(cfg)
    breaker = breaker_key(resolution.targets[0])
    await loop.run(resolution)  # a failure, then a success: the count starts again
    assert not loop.loop.breakers.is_open(breaker)
    assert (await loop.run(resolution)).content == "anthropic"  # two 5xx in a row open it
    assert loop.loop.breakers.is_open(breaker)
    assert len(openai.calls) == 4  # the open breaker stopped the third try at OpenAI


async def test_a_vendor_this_build_does_not_have_is_a_clear_501() -> None:
    loop = AttemptLoop(config(), {}, None)
    with pytest.raises(GatewayError) as caught:
        await loop.lease(ResolvedTarget("openai", None, "gpt"), frozenset())
    assert (caught.value.code, caught.value.status) == (Code.UNSUPPORTED, 501)
    with pytest.raises(GatewayError) as caught:
        await loop.lease(ResolvedTarget(None, "gpu", "m"), frozenset())
    assert (caught.value.code, caught.value.status) == (Code.UNSUPPORTED, 501)
