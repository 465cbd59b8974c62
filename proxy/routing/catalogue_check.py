"""`unigate catalogue check`: what the gateway can price, what it cannot, what is stale.

A model is priced when the shipped catalogue or a `[prices]` override gives it the prices
its task needs; an unpriced model still routes and answers, with `cost: null`. A figure is
stale when it was read from the vendor's page longer ago than `[catalogue] stale_days`
(or `--stale-days`): vendors change prices without notice, so an old reading deserves a look.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from proxy.routing.catalogue_file import Catalogue
from schemas.config import Config, ModelPrice


def _usd(value: Decimal | float | None) -> str:
    return "-" if value is None else f"{Decimal(str(value)).normalize():f}"


def _price_line(price: ModelPrice) -> str:
    parts = []
    for label, value in (
        ("in", price.input),
        ("cached", price.cached_input),
        ("cache write", price.cache_write),
        ("out", price.output),
    ):
        if value is not None:
            parts.append(f"{label} {_usd(value)}")
    line = " / ".join(parts) + " per 1M tokens" if parts else ""
    if price.per_image is not None:
        line += f"{'; ' if line else ''}{_usd(price.per_image)} per image"
    if price.per_audio_second is not None:
        line += f"{'; ' if line else ''}{_usd(price.per_audio_second)} per audio second"
    for tier in price.tiers:
        line += f"; above {tier.above:,} input tokens: in {_usd(tier.input)} / out {_usd(tier.output)}"
    return line


def report(catalogue: Catalogue, config: Config, today: date, stale_days: int) -> tuple[list[str], bool]:
    """The lines to print, and whether everything is priced and fresh."""
    lines = [f"catalogue: {catalogue.origin} (version {catalogue.version}, {len(catalogue.models)} models)"]
    priced: list[str] = []
    unpriced: list[str] = []
    stale: list[str] = []
    width = max((len(model_id) for model_id in [*catalogue.models, *config.prices]), default=10) + 2
    for model_id, model in sorted(catalogue.models.items()):
        override = config.prices.get(model_id)
        price = override or model.price
        label = f"  {model_id:<{width}}{model.task:<20}"
        if price is None:
            unpriced.append(f"{label}no price confirmed on {model.source}")
        else:
            origin = "[prices] override" if override is not None else f"read {model.read.isoformat()}"
            priced.append(f"{label}{_price_line(price)} ({origin})")
        age = (today - model.read).days
        if age > stale_days and override is None:
            stale.append(
                f"  {model_id:<{width}}read {model.read.isoformat()}, {age} days ago: {model.source}"
            )
    for model_id, price in sorted(config.prices.items()):
        if catalogue.get(model_id) is None:
            priced.append(f"  {model_id:<{width}}{'(not catalogued)':<20}{_price_line(price)} ([prices])")
    lines.append(f"priced ({len(priced)}):")
    lines.extend(priced)
    lines.append(f"unpriced ({len(unpriced)}): these answer cost: null; add them under [prices]")
    lines.extend(unpriced)
    lines.append(f"stale ({len(stale)}): read more than {stale_days} days ago")
    lines.extend(stale)
    retiring = [
        f"  {model_id:<{width}}{'retired' if retired <= today else 'retires'} {retired.isoformat()}"
        for model_id, model in sorted(catalogue.models.items())
        if (retired := model.deprecated) is not None
    ]
    if retiring:
        lines.append(f"deprecated ({len(retiring)}):")
        lines.extend(retiring)
    return lines, not unpriced and not stale
