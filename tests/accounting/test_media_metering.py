"""Media costs multiplied out exactly (proxy/accounting/metering.py `media_cost_exact`)."""

from __future__ import annotations

from decimal import Decimal

from proxy.accounting.metering import media_cost_exact
from schemas.chat import Usage
from schemas.config import ModelPrice
from schemas.tasks import MediaUsage

TRANSCRIBE = ModelPrice(input=Decimal("2.50"), audio_input=Decimal("6.00"), output=Decimal("10.00"))


def test_audio_input_tokens_are_billed_at_their_own_price() -> None:
    cost = media_cost_exact(MediaUsage(audio_input_tokens=28), Usage(31, 9), TRANSCRIBE)
    assert cost == (3 * Decimal("2.50") + 28 * 6 + 9 * 10) / 1_000_000


def test_without_an_audio_price_every_input_token_is_input() -> None:
    price = ModelPrice(input=Decimal("2.50"), output=Decimal("10.00"))
    assert (
        media_cost_exact(MediaUsage(audio_input_tokens=28), Usage(31, 9), price)
        == (31 * Decimal("2.50") + 9 * 10) / 1_000_000
    )


def test_more_audio_tokens_than_input_tokens_count_only_the_input() -> None:
    assert (
        media_cost_exact(MediaUsage(audio_input_tokens=50), Usage(31, 0), TRANSCRIBE)
        == (31 * Decimal(6)) / 1_000_000
    )
