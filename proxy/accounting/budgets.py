"""Spend budgets per key: a reservation before the vendor is called, settled at the end.

A key with a budget (USD, `unigate keys create --budget 5`) holds two running sums in its
row: `spent`, the cost of its finished calls, and `reserved`, what its calls in flight may
still cost. A call starts only if `spent + reserved + its estimate <= budget`; the check
and the reservation are one `BEGIN IMMEDIATE` transaction in the ledger's writer, the same
one that commits the call's `started` row, so concurrent calls — in any worker sharing the
database — are serialised and cannot both take the last of a budget. At the end the final
row's cost moves into `spent` and the reservation is released, again in one transaction.
A call may still cost more than its estimate (a vendor that ignores `max_tokens`, a pool
call that runs longer than the reserved seconds): the overspend is bounded by what that one
call exceeds its estimate by. A crashed instance's reservations are released by the sweep
that marks its rows `interrupted`.

The estimate is an upper bound where one exists: input at 1 token per 3 bytes of text
(tokenizers average ~4 characters a token on English; fewer on code and other scripts) and
2,000 a media part, plus `max_tokens` (or `[budgets] output_tokens`) at the target's price; a worker pool's
meter price × `[budgets] pool_seconds`; a media model's worst case at its media price
(proxy/accounting/media_budget.py: per image, per character, `[budgets] audio_seconds` of
transcription). Across a route's targets and fallbacks, the
largest. Token prices are the catalogue's (proxy/routing/catalogue_file.py) under the
operator's `[prices]`, long-context tiers included. A budgeted key calling a model with no
price is refused: its cost could not be counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import msgspec
from msgspec import UNSET

from proxy.accounting.media_budget import Unpriced, media_worst_case
from proxy.accounting.metering import Meter, token_cost
from proxy.routing.routes import Resolution
from proxy.storage import Database
from schemas.chat import AssistantMessage, ChatRequest, TextPart, Usage
from schemas.config import BudgetConfig, ModelPrice
from schemas.errors import Code, GatewayError
from schemas.tasks import RunRequest

BYTES_PER_TOKEN = 3
MAX_OUTPUT_TOKENS = 2**31 - 1
"""The most `max_tokens` a vendor API takes (they declare it an int32); no model produces more."""
MEDIA_TOKENS = 2000
"""An image, audio or video part: about what the largest image costs at OpenAI (high detail)
and Anthropic (~1,600 tokens at 1.15 megapixels); long audio or video costs more."""


@dataclass(frozen=True, slots=True)
class BudgetRefusal:
    """Why a budget check said no, with the key's figures at that instant."""

    budget: float
    spent: float
    reserved: float
    estimate: float

    def error(self) -> GatewayError:
        left = max(self.budget - self.spent - self.reserved, 0.0)
        return GatewayError(
            Code.BUDGET_EXCEEDED,
            f"this key's budget is spent: ${self.budget:.6g} budget, ${self.spent:.6g} spent, "
            f"${self.reserved:.6g} held by calls in flight, ${left:.6g} left; "
            f"this call may cost up to ${self.estimate:.6g}",
        )


def input_tokens(request: ChatRequest | RunRequest) -> int:
    """An upper estimate of the request's input tokens, from its size: a task's, from the
    whole of it as encoded (its inputs and params are what the worker reads)."""
    if isinstance(request, RunRequest):
        return math.ceil((len(msgspec.json.encode(request)) - 2) / BYTES_PER_TOKEN)
    size = 0
    media = 0
    for message in request.messages:
        content = message.content
        if isinstance(content, str):
            size += len(content.encode())
        elif isinstance(content, list):
            size += sum(len(part.text.encode()) for part in content if isinstance(part, TextPart))
            media += sum(1 for part in content if not isinstance(part, TextPart))
        if isinstance(message, AssistantMessage) and message.tool_calls is not UNSET:
            size += sum(
                len(call.function.arguments.encode()) + len(call.function.name) for call in message.tool_calls
            )
    if request.tools is not UNSET:
        size += len(msgspec.json.encode(request.tools))
    return math.ceil(size / BYTES_PER_TOKEN) + 8 * len(request.messages) + MEDIA_TOKENS * media


def estimate(
    request: ChatRequest | RunRequest,
    resolution: Resolution,
    meter: Meter,
    config: BudgetConfig,
    pool_meters: dict[str, str],
) -> float:
    """USD a call may cost at most, the largest over the targets it may run on; raises if a
    target has no price."""
    sampled = request.sampling.max_tokens if isinstance(request, ChatRequest) else UNSET
    max_tokens = sampled if sampled is not UNSET else None
    if max_tokens is not None and not 0 <= max_tokens <= MAX_OUTPUT_TOKENS:
        # a client's mistake, and one the estimate cannot take: 10**400 overflows a float, a
        # negative count would reserve a negative amount and free budget for other calls
        raise GatewayError(
            Code.INVALID_REQUEST,
            f"max_tokens must be between 1 and {MAX_OUTPUT_TOKENS}, "
            f"got {str(max_tokens)[:24]}{'...' if len(str(max_tokens)) > 24 else ''}",
        )
    output = max_tokens or config.output_tokens
    worst = 0.0
    for target in resolution.targets:
        if target.pool is not None:
            meter_price = meter.meter_price(pool_meters.get(target.pool, ""))
            if meter_price is None:
                raise _unpriced(resolution.model_id)
            worst = max(worst, meter_price * config.pool_seconds)
            continue
        price = meter.price_for(resolution.model_id, target.provider, target.model)
        cost = _priced(request, target.model, price, output, config) if price is not None else None
        if cost is None:
            raise _unpriced(resolution.model_id)
        worst = max(worst, cost)
    return round(worst, 10)


def _priced(
    request: ChatRequest | RunRequest, upstream: str, price: ModelPrice, output: int, config: BudgetConfig
) -> float | None:
    """A media task at its media price (proxy/accounting/media_budget.py), else by tokens."""
    tokens = input_tokens(request)
    if isinstance(request, RunRequest):
        try:
            media = media_worst_case(request, upstream, price, tokens, output, config)
        except Unpriced:
            return None
        if media is not None:
            return float(media)
    return token_cost(Usage(tokens, output), price)


def _unpriced(model_id: str) -> GatewayError:
    return GatewayError(
        Code.PERMISSION,
        f"this key has a spend budget and {model_id!r} has no configured price "
        "(in the catalogue or [prices]), so its cost could not be counted;"
        " ask the operator to add it under [prices]",
    )


# -- run by the ledger's writer thread, inside its transaction ------------------------------


def reserve(connection: Database, key_id: str | None, amount: float) -> BudgetRefusal | None:
    """Hold `amount` against the key's budget, or say why not. A key without a budget (or
    gone) passes: the caller only asks for keys that had one when the request came in."""
    row = connection.execute(
        "SELECT budget, spent, reserved FROM keys WHERE id = ?" + connection.for_update,  # noqa: S608
        (key_id,),
    ).fetchone()
    if row is None or row[0] is None:
        return None
    budget, spent, reserved = row
    if spent + reserved + amount > budget + 1e-12:
        return BudgetRefusal(budget, spent, reserved, amount)
    connection.execute("UPDATE keys SET reserved = reserved + ? WHERE id = ?", (amount, key_id))
    return None


def held(connection: Database, request_id: str) -> float:
    """The reservation a request's row still holds (0 once a sweep released it)."""
    row = connection.execute("SELECT reserved FROM usage WHERE request_id = ?", (request_id,)).fetchone()
    return float(row[0]) if row and row[0] else 0.0


def settle(connection: Database, key_id: str | None, cost: float | None, released: float) -> None:
    """A final row landed: its cost is spent, its reservation free. Every key's `spent` is
    kept, so a budget set later counts what the key already spent."""
    if key_id is None or (not cost and not released):
        return
    connection.execute(
        "UPDATE keys SET spent = spent + ?,"
        " reserved = CASE WHEN reserved > ? THEN reserved - ? ELSE 0 END WHERE id = ?",
        (cost or 0.0, released, released, key_id),
    )
