"""The catalogue as clients read it: `list/models`, `list/tasks`, `/v1/models`.

Every id that routes answers: a vendor model with the shipped catalogue's figures (prices
under the operator's `[prices]`), an id that routes to a vendor the catalogue does not
know with `task: chat` and `known: false` (nothing claimed that is not known), a pool
model with its pool's meter and meter price. The Bytez SDKs ask `list/models?modelId=`
before a model's first run and read `output[0].task`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from msgspec import UNSET, UnsetType

from proxy.accounting.metering import pool_meter
from schemas.catalogue import CatalogueModel
from schemas.config import ModelPrice
from schemas.media import VENDOR_MEDIA_TASKS
from schemas.native import CatalogueEntry
from schemas.tasks import can_serve

if TYPE_CHECKING:
    from proxy.gateway import Gateway

_GLOB = frozenset("*?[")


def _usd(value: Decimal | None) -> float | UnsetType:
    return float(value) if value is not None else UNSET


def _price_fields(entry: CatalogueEntry, price: ModelPrice) -> None:
    entry.inputPrice = _usd(price.input)
    entry.outputPrice = _usd(price.output)
    entry.cachedInputPrice = _usd(price.cached_input)
    entry.cacheWritePrice = _usd(price.cache_write)
    entry.imagePrice = _usd(price.per_image)
    if price.per_image_by:
        entry.imagePrices = {key: float(value) for key, value in price.per_image_by.items()}
    entry.audioSecondPrice = _usd(price.per_audio_second)
    entry.characterPrice = _usd(price.per_million_characters)
    entry.audioInputPrice = _usd(price.audio_input)
    if price.tiers:
        entry.longContext = [
            {
                "above": float(tier.above),
                **{
                    name: float(value)
                    for name in ("input", "output", "cached_input", "cache_write")
                    if (value := getattr(tier, name)) is not None
                },
            }
            for tier in price.tiers
        ]


def _vendor_entry(gateway: Gateway, model_id: str, provider: str, upstream: str) -> CatalogueEntry:
    model: CatalogueModel | None = gateway.catalogue.for_target(provider, upstream)
    price = gateway.meter.price_for(model_id, provider, upstream)
    entry = CatalogueEntry(modelId=model_id, task="chat", provider=provider, meter="tokens")
    entry.known = model is not None
    if model is not None:
        entry.task = model.task
        entry.contextSize = model.context_window if model.context_window is not None else UNSET
        entry.maxOutput = model.max_output if model.max_output is not None else UNSET
        if model.capabilities is not None:
            entry.capabilities = sorted(model.capabilities)
        if model.deprecated is not None:
            entry.deprecated = model.deprecated.isoformat()
    if price is not None:
        _price_fields(entry, price)
    return entry


def _entry(gateway: Gateway, model_id: str) -> CatalogueEntry | None:
    resolution = gateway.router.resolve(model_id)
    if resolution is None:
        return None
    target = resolution.targets[0]
    if target.provider is not None:
        entry = _vendor_entry(gateway, model_id, target.provider, target.model)
        if resolution.route is not None and resolution.task != "chat":
            entry.task = resolution.task  # the operator's route says what it is
        return entry
    pool = next(p for p in gateway.settings.config.pools if p.name == target.pool)
    served = gateway.pools.served(pool.name)
    if served is not None and target.model not in served:
        return None  # the glob takes it, but no member serves it
    entry = CatalogueEntry(modelId=model_id, task=gateway.pools.task_of(pool.name, target.model))
    entry.pool = pool.name
    entry.meter = pool_meter(pool)
    price = gateway.meter.meter_price(entry.meter)
    entry.meterPrice = price if price is not None else UNSET
    return entry


def _known_ids(gateway: Gateway) -> list[str]:
    """Every id worth listing: the catalogue's own (where they still route to their vendor),
    the operator's prices and literal routes, pool literals and what pool members serve."""
    config = gateway.settings.config
    ids = dict.fromkeys(gateway.catalogue.models)
    ids.update(dict.fromkeys(config.prices))
    for route in config.routes:
        if not _GLOB & set(route.match):
            ids[route.match] = None
    for pool in config.pools:
        for pattern in pool.models:
            if not _GLOB & set(pattern):
                ids[pattern] = None
        ids.update(dict.fromkeys(sorted(gateway.pools.served(pool.name) or ())))
    return list(ids)


def catalogue_models(gateway: Gateway, task: str | None, model_id: str | None) -> list[CatalogueEntry]:
    if model_id:
        entry = _entry(gateway, model_id)
        entries = [entry] if entry is not None else []
    else:
        entries = []
        for known in _known_ids(gateway):
            entry = _entry(gateway, known)
            if entry is not None:
                entries.append(entry)
    if task:
        entries = [entry for entry in entries if entry.task == task]
    return entries


def catalogue_tasks(gateway: Gateway) -> list[str]:
    """The tasks the native surface can serve here, exactly: chat (the built-in vendor
    routes), each pool's task where its protocol runs it, each route's task where its
    first target runs it, and the media tasks of the catalogue's vendor models where they
    still route to a vendor that runs them (OpenAI's image, speech and transcription,
    Gemini's image output)."""
    config = gateway.settings.config
    protocols = {pool.name: pool.protocol for pool in config.pools}
    tasks = {"chat"}
    tasks.update(pool.task for pool in config.pools if can_serve(pool.task, pool.protocol))
    for route in config.routes:
        protocol = protocols.get(route.pool) if route.pool is not None else None
        vendor_tasks = VENDOR_MEDIA_TASKS.get(route.provider or "", frozenset())
        if can_serve(route.task, protocol) or route.task in vendor_tasks:
            tasks.add(route.task)
    for model_id, model in gateway.catalogue.models.items():
        if model.task not in tasks:
            resolution = gateway.router.resolve(model_id)
            provider = resolution.targets[0].provider if resolution is not None else None
            if model.task in VENDOR_MEDIA_TASKS.get(provider or "", frozenset()):
                tasks.add(model.task)
    return sorted(tasks)
