"""The 429 a key gets past what it is allowed (`KeyLimits`, proxy/identity/keys.py): shared
by both limiter backends so a client cannot tell which one answered."""

from __future__ import annotations

import math
from dataclasses import dataclass

from proxy import observability as observe
from proxy.identity.keys import KeyLimits
from schemas.errors import Code, GatewayError

WINDOW = 60.0
"""Seconds of the RPM and TPM sliding windows."""
EXEMPT_OPT = "exempt_from_key_limits"
"""A route handler `opt` flag: the admin routes, which no proxy key may use anyway."""


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
