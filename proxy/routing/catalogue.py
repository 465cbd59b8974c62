"""The catalogue: which model ids route where, for the Bytez SDKs' look-up before a first run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from msgspec import UNSET

from proxy.accounting.metering import pool_meter
from schemas.native import CatalogueEntry

if TYPE_CHECKING:
    from proxy.gateway import Gateway

_GLOB = frozenset("*?[")


def _entry(gateway: Gateway, model_id: str) -> CatalogueEntry | None:
    resolution = gateway.router.resolve(model_id)
    if resolution is None:
        return None
    target = resolution.targets[0]
    entry = CatalogueEntry(modelId=model_id, task=resolution.task)
    if target.provider is not None:
        entry.provider = target.provider
        entry.meter = "tokens"
    else:
        pool = next(p for p in gateway.settings.config.pools if p.name == target.pool)
        entry.pool = pool.name
        entry.meter = pool_meter(pool)
        price = gateway.meter.meter_price(entry.meter)
        entry.meterPrice = price if price is not None else UNSET
    return entry


def _known_ids(gateway: Gateway) -> list[str]:
    config = gateway.settings.config
    ids = dict.fromkeys(config.prices)
    for route in config.routes:
        if not _GLOB & set(route.match):
            ids[route.match] = None
    for pool in config.pools:
        for pattern in pool.models:
            if not _GLOB & set(pattern):
                ids[pattern] = None
    return list(ids)


def catalogue_models(gateway: Gateway, task: str | None, model_id: str | None) -> list[CatalogueEntry]:
    ids = [model_id] if model_id else _known_ids(gateway)
    entries = [entry for entry in (_entry(gateway, i) for i in ids) if entry is not None]
    if task:
        entries = [entry for entry in entries if entry.task == task]
    return entries


def catalogue_tasks(gateway: Gateway) -> list[str]:
    config = gateway.settings.config
    tasks = {"chat", *(route.task for route in config.routes), *(pool.task for pool in config.pools)}
    return sorted(tasks)
