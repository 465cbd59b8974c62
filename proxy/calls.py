"""What one call through dispatch carries and hands back: the context a surface builds, the
lease an attempt runs on, and the completed answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from adapters.base import Adapter
from schemas.chat import ChatResponse
from schemas.events import Billing

Disconnected = Callable[[], Awaitable[object]]
"""Resolves when the client has gone (the surface's ASGI receive, after the body)."""


@dataclass(slots=True)
class CallContext:
    request_id: str
    key_id: str | None
    model_id: str
    provider_keys: Mapping[str, str]
    """`Provider-Key` under "" and each `Provider-Key-<Vendor>` under the vendor's name."""
    started_at: float
    disconnected: Disconnected | None = None


@dataclass(slots=True)
class Completed:
    response: ChatResponse
    billing: Billing
    provider: str


@dataclass(slots=True)
class Lease:
    """What one attempt runs on: a vendor endpoint, or one member of a worker pool."""

    adapter: Adapter
    provider: str
    endpoint: str
    base_url: str | None = None
    meter: str | None = None
    release: Callable[[bool], None] = field(default=lambda ok: None)


class PoolProvider(Protocol):
    async def acquire(self, pool: str, exclude: frozenset[str]) -> Lease:
        """A healthy member with capacity, not in `exclude`; raises GatewayError if none."""
        ...


@dataclass(slots=True)
class Attempts:
    count: int = 0
    lease: Lease | None = None
