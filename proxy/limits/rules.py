"""What a key is allowed, and the 429 it gets past that: shared by both limiter backends so a
client cannot tell which one answered."""

from __future__ import annotations

import math
from dataclasses import dataclass

from proxy import observability as observe
from proxy.identity.keys import KeyRecord
from schemas.config import LimitsConfig
from schemas.errors import Code, GatewayError

WINDOW = 60.0
"""Seconds of the RPM and TPM sliding windows."""
EXEMPT_OPT = "exempt_from_key_limits"
"""A route handler `opt` flag: the admin routes, which no proxy key may use anyway."""


@dataclass(frozen=True, slots=True)
class KeyLimits:
    rpm: int | None
    tpm: int | None
    concurrency: int | None


def effective_limits(record: KeyRecord, defaults: LimitsConfig) -> KeyLimits:
    """The key's own value, else the config default; 0 (on a key) means no limit."""

    def pick(own: int | None, default: int | None) -> int | None:
        value = own if own is not None else default
        return value if value else None

    return KeyLimits(
        rpm=pick(record.rpm, defaults.rpm),
        tpm=pick(record.tpm, defaults.tpm),
        concurrency=pick(record.concurrency, defaults.concurrency),
    )


def concurrency_limited(limits: KeyLimits) -> GatewayError:
    observe.refused("concurrency")
    return limited(f"this key already has {limits.concurrency} calls in flight", 1.0)


def rpm_limited(limits: KeyLimits, retry_after: float) -> GatewayError:
    observe.refused("rpm")
    return limited(f"this key may make {limits.rpm} calls per minute", retry_after)


def tpm_limited(limits: KeyLimits, retry_after: float) -> GatewayError:
    observe.refused("tpm")
    return limited(f"this key may use {limits.tpm} tokens per minute", retry_after)


def limited(message: str, retry_after: float) -> GatewayError:
    wait = max(1.0, math.ceil(retry_after))
    return GatewayError(
        Code.RATE_LIMITED, f"rate limited: {message}; retry after {wait:.0f} s", retry_after=wait
    )


@dataclass(frozen=True, slots=True)
class SlotLease:
    """A concurrency slot held in the shared store, by the call's own random token."""

    key_id: str
    token: str
