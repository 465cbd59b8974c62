"""The dispatcher on its own: each kind of call leaves its one ledger row (a real SQLite
ledger), is billed, and runs through the one attempt loop; scripted adapters stand for the
vendors. End-to-end behaviour over HTTP is in tests/reliability."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from adapters.base import Capabilities, UpstreamCall
from proxy.accounting.ledger import Ledger, UsageRow
from proxy.accounting.metering import Meter
from proxy.dispatch.call import CallContext
from proxy.dispatch.dispatcher import Dispatcher
from proxy.routing.routes import Resolution, Router
from schemas.chat import ChatResponse
from schemas.config import Config
from schemas.embeddings import EmbeddingRequest
from schemas.errors import ClientDisconnected, Code, GatewayError, UpstreamError
from schemas.events import Billing, Done, ErrorEvent, Start, StreamEvent, TextDelta
from tests.dispatch.scripted import ScriptedAdapter, answer, chat, config, failure, streamed

ROUTE = """
[prices."team/chat"]
input = 1.0
output = 2.0

[[routes]]
match = "team/chat"
provider = "openai"
model = "gpt-4o-mini"
fallbacks = [{ provider = "anthropic", model = "claude-3-5-haiku-latest" }]
"""
KEYS = {"": "caller-openai-key", "anthropic": "caller-anthropic-key"}


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[tuple[Ledger, list[UsageRow]]]:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.start()
    rows: list[UsageRow] = []
    ledger.observers.append(rows.append)  # each final row, on the caller's thread, as it is recorded
    yield ledger, rows
    ledger.close()


def dispatcher(cfg: Config, ledger: Ledger, **adapters: ScriptedAdapter) -> Dispatcher:
    built = Dispatcher(cfg, adapters, ledger, Meter(cfg.prices, cfg.meters))  # type: ignore[arg-type]

    async def no_wait(seconds: float) -> None:
        return None

    built.attempts.sleep = no_wait
    return built


def context(request_id: str = "req-1", model_id: str = "team/chat") -> CallContext:
    return CallContext(request_id, "key-1", model_id, KEYS, time.time())


def resolve(cfg: Config, model_id: str = "team/chat") -> Resolution:
    resolution = Router(cfg).resolve(model_id)
    assert resolution is not None
    return resolution


def final(rows: list[UsageRow]) -> UsageRow:
    """The call's one final row (observers hear of final rows; the start row is committed
    before any vendor is called, and this row completes it)."""
    [row] = rows
    assert row.finished_at is not None
    return row


async def test_a_completed_call_is_billed_by_its_tokens_and_leaves_one_final_row(
    ledger: tuple[Ledger, list[UsageRow]],
) -> None:
    cfg = config(ROUTE)
    openai = ScriptedAdapter("openai", failure("openai"), answer("hi", input_tokens=3, output_tokens=2))
    done = await dispatcher(cfg, ledger[0], openai=openai).complete(chat(), resolve(cfg), context())
    assert (done.response.content, done.provider) == ("hi", "openai")
    assert done.billing.cost == pytest.approx((3 * 1.0 + 2 * 2.0) / 1e6)
    row = final(ledger[1])
    assert (row.status, row.provider, row.attempts, row.input_tokens, row.output_tokens) == (
        "completed",
        "openai",
        2,
        3,
        2,
    )
    assert row.cost == done.billing.cost


async def test_a_failed_call_leaves_the_vendors_code_in_its_row(
    ledger: tuple[Ledger, list[UsageRow]],
) -> None:
    cfg = config(ROUTE)
    openai = ScriptedAdapter("openai", failure("openai", Code.AUTHENTICATION))
    with pytest.raises(UpstreamError):
        await dispatcher(cfg, ledger[0], openai=openai).complete(chat(), resolve(cfg), context())
    row = final(ledger[1])
    assert (row.status, row.error_code, row.provider, row.attempts) == (
        "upstream_error",
        "authentication",
        "openai",
        1,
    )


class Broken(ScriptedAdapter):
    """An adapter with a bug: not the vendor's failure, nor the client's."""

    async def complete(self, call: UpstreamCall) -> ChatResponse:
        raise RuntimeError("a bug")


async def test_the_gateways_own_fault_is_recorded_as_internal_not_as_a_client_leaving(
    ledger: tuple[Ledger, list[UsageRow]],
) -> None:
    cfg = config(ROUTE)
    with pytest.raises(RuntimeError):
        await dispatcher(cfg, ledger[0], openai=Broken("openai")).complete(chat(), resolve(cfg), context())
    row = final(ledger[1])
    assert (row.status, row.error_code) == ("upstream_error", "internal_error")


class Hanging(ScriptedAdapter):
    """A vendor that never answers; `called` is set once the call reached it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.called = asyncio.Event()
        self.cancelled = False

    async def complete(self, call: UpstreamCall) -> ChatResponse:
        self.called.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        raise AssertionError("unreachable")


async def test_a_client_that_leaves_cancels_the_vendor_call(ledger: tuple[Ledger, list[UsageRow]]) -> None:
    cfg = config(ROUTE)
    openai = Hanging("openai")
    leaving = context()
    leaving.disconnected = openai.called.wait  # the client goes once the vendor has the call
    with pytest.raises(ClientDisconnected):
        await dispatcher(cfg, ledger[0], openai=openai).complete(chat(), resolve(cfg), leaving)
    assert openai.cancelled
    assert final(ledger[1]).status == "client_disconnected"


async def collect(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in events]


async def test_a_stream_that_fails_before_its_first_event_is_retried_unseen(
    ledger: tuple[Ledger, list[UsageRow]],
) -> None:
    cfg = config(ROUTE)
    opening = Start(id="v", model="m", provider="openai")
    openai = ScriptedAdapter("openai", [opening, failure("openai", Code.OVERLOADED)], streamed("hello"))
    events = await collect(
        await dispatcher(cfg, ledger[0], openai=openai).stream(chat(), resolve(cfg), context())
    )
    starts = [event for event in events if isinstance(event, Start)]
    assert [(start.id, start.model, start.provider) for start in starts] == [("req-1", "team/chat", "openai")]
    assert [event.text for event in events if isinstance(event, TextDelta)] == ["hello"]
    assert isinstance(events[-2], Billing) and isinstance(events[-1], Done)
    row = final(ledger[1])
    assert (row.status, row.attempts, row.input_tokens, row.output_tokens) == ("completed", 2, 3, 2)
    assert row.cost == events[-2].cost


async def test_a_stream_cut_after_its_first_event_ends_with_an_error_and_feeds_the_breaker(
    ledger: tuple[Ledger, list[UsageRow]],
) -> None:
    cfg = config(ROUTE + "[dispatch.breaker]\nconsecutive_failures = 1\n")
    cut = [*streamed("partial")[:2], failure("openai", Code.CONNECTION)]
    anthropic = ScriptedAdapter("anthropic")
    dispatch = dispatcher(cfg, ledger[0], openai=ScriptedAdapter("openai", cut), anthropic=anthropic)
    events = await collect(await dispatch.stream(chat(), resolve(cfg), context()))
    [error] = [event for event in events if isinstance(event, ErrorEvent)]
    assert (error.code, error.provider) == ("connection", "openai")
    assert isinstance(events[-1], Done)
    assert anthropic.calls == []  # output had reached the client: no fallback
    assert dispatch.breakers.is_open(("openai", "gpt-4o-mini"))
    row = final(ledger[1])
    assert (row.status, row.error_code) == ("upstream_error", "connection")
    assert dispatch.relays == set()


EMBED_ROUTE = """
[[routes]]
match = "team/embed"
provider = "openai"
model = "text-embedding-3-small"
fallbacks = [{ provider = "mistral", model = "mistral-embed" }]
"""


def embedding() -> EmbeddingRequest:
    return EmbeddingRequest(model="team/embed", input=["a", "b"])


async def test_embeddings_never_fall_back_and_leave_one_row(ledger: tuple[Ledger, list[UsageRow]]) -> None:
    cfg = config(EMBED_ROUTE)
    openai = ScriptedAdapter("openai", *[failure("openai")] * 3)
    mistral = ScriptedAdapter("mistral")
    dispatch = dispatcher(cfg, ledger[0], openai=openai, mistral=mistral)
    with pytest.raises(UpstreamError):
        await dispatch.embed(embedding(), resolve(cfg, "team/embed"), context(model_id="team/embed"))
    assert (len(openai.calls), mistral.calls) == (3, [])
    row = final(ledger[1])
    assert (row.status, row.attempts, row.provider) == ("upstream_error", 3, "openai")


async def test_embeddings_are_retried_at_their_target(ledger: tuple[Ledger, list[UsageRow]]) -> None:
    cfg = config(EMBED_ROUTE)
    openai = ScriptedAdapter("openai", failure("openai", Code.RATE_LIMITED))
    done = await dispatcher(cfg, ledger[0], openai=openai).embed(
        embedding(), resolve(cfg, "team/embed"), context(model_id="team/embed")
    )
    assert (done.response.vectors, done.provider, done.billing.meter) == ([[1.0], [1.0]], "openai", "tokens")
    assert [(call.api_key, call.model) for call in openai.calls] == [
        ("caller-openai-key", "text-embedding-3-small")
    ] * 2
    row = final(ledger[1])
    assert (row.status, row.attempts, row.input_tokens) == ("completed", 2, 1)


async def test_a_vendor_without_embeddings_is_refused_before_any_row(
    ledger: tuple[Ledger, list[UsageRow]],
) -> None:
    cfg = config(EMBED_ROUTE)
    openai = ScriptedAdapter("openai", capabilities=Capabilities(embeddings=False))
    with pytest.raises(GatewayError) as caught:
        await dispatcher(cfg, ledger[0], openai=openai).embed(
            embedding(), resolve(cfg, "team/embed"), context(model_id="team/embed")
        )
    assert caught.value.code is Code.UNSUPPORTED
    assert (openai.calls, ledger[1]) == ([], [])
