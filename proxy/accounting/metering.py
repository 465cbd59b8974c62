"""What a call cost: token prices for vendors, meter price × inference time for worker pools.

Token prices come from the catalogue (proxy/routing/catalogue_file.py), under the
operator's `[prices]` overrides. Costs are multiplied out in Decimal from the prices'
own digits and rounded once, to 10 decimal places (1e-10 USD), so a client that multiplies
its tokens by the published prices gets the same figure to the last digit, streamed or not.
"""

from __future__ import annotations

from decimal import Decimal

from msgspec import UNSET

from proxy.routing.catalogue_file import Catalogue
from proxy.routing.routes import PROVIDER_PREFIX
from schemas.chat import Usage
from schemas.config import ModelPrice, Pool
from schemas.events import Billing
from schemas.tasks import MediaUsage

TOKEN_METER = "tokens"  # noqa: S105 - a meter name, not a secret
LLM_PREFIX = "LLM-"
INSTANCE_SIZES = ("Micro", "XS", "SM", "MD", "LG", "XL", "XXL", "Super")
SEED_METERS: dict[str, float] = {
    # language models, USD per second of inference (docs.bytez.com, "Pricing")
    "LLM-Micro": 0.0000872083,
    "LLM-XS": 0.0001475035,
    "LLM-SM": 0.0006478333,
    "LLM-MD": 0.0008433876,
    "LLM-LG": 0.0012956667,
    "LLM-XL": 0.0024468774,
    "LLM-XXL": 0.0047912685,
    "LLM-Super": 0.0059890856,
    # all other models
    "Micro": 0.00053440,
    "XS": 0.00066800,
    "SM": 0.00427520,
    "MD": 0.00480960,
    "LG": 0.00855040,
    "XL": 0.01603200,
    "XXL": 0.02458240,
    "Super": 0.02992640,
}
"""The seed's two Inference Meter Price tables; `[meters]` in config.toml adds or overrides."""
LANGUAGE_TASKS = frozenset(
    {"chat", "text-generation", "image-text-to-text", "audio-text-to-text", "video-text-to-text"}
)
MILLION = Decimal(1_000_000)
COST_QUANTUM = Decimal("1e-10")


def pool_meter(pool: Pool, task: str | None = None) -> str:
    """The meter a pool bills on for `task` (default: the pool's declared task): a bare
    instance size (`SM`) for a language-model task reads the language-model table
    (`LLM-SM`); any other name is taken as written."""
    if pool.meter in INSTANCE_SIZES and (task or pool.task) in LANGUAGE_TASKS:
        return LLM_PREFIX + pool.meter
    return pool.meter


def exact(value: Decimal | float) -> Decimal:
    """A price as the digits it was written with (a float from code is read by its repr)."""
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def token_rates(price: ModelPrice, input_tokens: int) -> tuple[Decimal, Decimal | None, Decimal, Decimal]:
    """(input, output, cached input, cache write) per million tokens for a call with this
    much input: the highest long-context tier it passes, else the base prices. Cached input
    and cache writes without a price of their own are billed as fresh input."""
    assert price.input is not None
    fresh, output = exact(price.input), price.output
    cached, written = price.cached_input, price.cache_write
    for tier in price.tiers:
        if input_tokens > tier.above:
            fresh = exact(tier.input) if tier.input is not None else fresh
            output = tier.output if tier.output is not None else output
            cached = tier.cached_input if tier.cached_input is not None else cached
            written = tier.cache_write if tier.cache_write is not None else written
    return (
        fresh,
        exact(output) if output is not None else None,
        exact(cached) if cached is not None else fresh,
        exact(written) if written is not None else fresh,
    )


def token_cost_exact(usage: Usage, price: ModelPrice) -> Decimal | None:
    """USD for one call, exactly, to 1e-10; None when the price cannot bill it (no input
    price, or output tokens and no output price)."""
    if price.input is None:
        return None
    fresh_price, output_price, cached_price, write_price = token_rates(price, usage.input_tokens)
    if output_price is None:
        if usage.output_tokens:
            return None
        output_price = Decimal(0)
    cached = usage.cached_input_tokens if usage.cached_input_tokens is not UNSET else 0
    written = usage.cache_write_input_tokens if usage.cache_write_input_tokens is not UNSET else 0
    fresh = max(usage.input_tokens - cached - written, 0)
    total = (
        fresh * fresh_price
        + cached * cached_price
        + written * write_price
        + usage.output_tokens * output_price
    )
    return (total / MILLION).quantize(COST_QUANTUM)


def token_cost(usage: Usage, price: ModelPrice) -> float | None:
    cost = token_cost_exact(usage, price)
    return float(cost) if cost is not None else None


def image_rate(price: ModelPrice, size: str | None, quality: str | None) -> Decimal | None:
    """USD for one image of this size and quality: the table's `quality/size` or `size`
    row; without a table, the flat `per_image`."""
    if not price.per_image_by:
        return exact(price.per_image) if price.per_image is not None else None
    for key in (f"{quality}/{size}", f"{size}"):
        rate = price.per_image_by.get(key)
        if rate is not None:
            return exact(rate)
    return None


def media_cost_exact(measured: MediaUsage, usage: Usage, price: ModelPrice) -> Decimal | None:
    """USD for one media call, as the vendor prices it: by tokens where it reports and
    prices them (GPT Image models, gpt-4o-mini-tts, the gpt-4o transcribe models, whose
    audio input tokens have a price of their own), else per image, per second of audio, per million
    characters spoken. None when the price cannot bill what was measured."""
    if (usage.input_tokens or usage.output_tokens) and price.input is not None:
        if price.audio_input is None or not measured.audio_input_tokens:
            return token_cost_exact(usage, price)
        audio = min(measured.audio_input_tokens, usage.input_tokens)
        text = token_cost_exact(Usage(usage.input_tokens - audio, usage.output_tokens), price)
        if text is None:
            return None
        return (text + audio * exact(price.audio_input) / MILLION).quantize(COST_QUANTUM)
    if measured.images:
        rate = image_rate(price, measured.size, measured.quality)
        return (measured.images * rate).quantize(COST_QUANTUM) if rate is not None else None
    if measured.audio_seconds is not None and price.per_audio_second is not None:
        return (measured.audio_seconds * exact(price.per_audio_second)).quantize(COST_QUANTUM)
    if measured.characters and price.per_million_characters is not None:
        total = measured.characters * exact(price.per_million_characters)
        return (total / MILLION).quantize(COST_QUANTUM)
    return None


class Meter:
    def __init__(
        self,
        prices: dict[str, ModelPrice],
        meters: dict[str, float],
        catalogue: Catalogue | None = None,
    ) -> None:
        self._prices = prices
        self._meters = {**SEED_METERS, **meters}
        self.catalogue = catalogue
        self._catalogued: dict[tuple[str, str], ModelPrice | None] = {}
        """The catalogue's price per (provider, upstream model) it knows, looked up once each
        (bounded by the catalogue: a model it does not know is asked again, never kept)."""

    def meter_price(self, meter: str) -> float | None:
        return self._meters.get(meter)

    def price_for(self, model_id: str, provider: str | None, upstream: str) -> ModelPrice | None:
        """The operator's `[prices]` for the id the client sent, else for the model the
        vendor runs; else the catalogue's price of the model the vendor runs."""
        target = f"{PROVIDER_PREFIX.get(provider or '', f'{provider}/')}{upstream}"
        override = self._prices.get(model_id) or self._prices.get(target)
        if override is not None or self.catalogue is None or provider is None:
            return override
        try:
            return self._catalogued[provider, upstream]
        except KeyError:
            model = self.catalogue.for_target(provider, upstream)
            if model is None:
                return None
            self._catalogued[provider, upstream] = model.price
            return model.price

    def vendor_billing(
        self,
        model_id: str,
        provider: str,
        upstream: str,
        usage: Usage,
        inference_time: float,
        measured: MediaUsage | None = None,
    ) -> Billing:
        """Tokens at the model's prices; a media call (`measured`) as its vendor prices it."""
        price = self.price_for(model_id, provider, upstream)
        cost: float | None = None
        if price is not None and measured is not None:
            exact_cost = media_cost_exact(measured, usage, price)
            cost = float(exact_cost) if exact_cost is not None else None
        elif price is not None:
            cost = token_cost(usage, price)
        return Billing(
            meter=TOKEN_METER, meter_price=None, inference_time=round(inference_time, 6), cost=cost
        )

    def pool_billing(self, meter: str, inference_time: float) -> Billing:
        """cost = meter price × the inference time as reported, so the figures a client sees
        multiply out exactly (up to the cost's own rounding)."""
        meter_price = self._meters.get(meter)
        seconds = round(inference_time, 6)
        cost = round(meter_price * seconds, 10) if meter_price is not None else None
        return Billing(meter=meter, meter_price=meter_price, inference_time=seconds, cost=cost)


def billing_headers(billing: Billing) -> dict[str, str]:
    headers = {"Inference-Meter": billing.meter, "Inference-Time": f"{billing.inference_time:.6f}"}
    if billing.meter_price is not None:
        headers["Inference-Meter-Price"] = repr(billing.meter_price)
    if billing.cost is not None:
        headers["Inference-Cost"] = f"{billing.cost:.10f}".rstrip("0").rstrip(".") or "0"
    return headers
