"""Per-key limits: requests per minute, tokens per minute, and calls in flight (S11).

Two backends behind one middleware, chosen by `[limits] backend`:

- `memory` (default, proxy/limits/memory.py): state in this process, synchronous and
  exact; with several workers or replicas each enforces the limits on its own.
- `redis` (proxy/limits/shared.py): state in a Redis every replica shares, admitted by one
  Lua script per call (proxy/limits/scripts.py), so the limits hold across replicas.

Both answer the same 429 (proxy/limits/rules.py); the front door (proxy/front_door.py)
applies them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proxy.identity.keys import KeyLimits, effective_limits
from proxy.limits.memory import KeyLimiter
from proxy.limits.rules import EXEMPT_OPT, WINDOW, SlotLease
from schemas.config import LimitsConfig

if TYPE_CHECKING:
    from proxy.limits.shared import SharedKeyLimiter

__all__ = [
    "EXEMPT_OPT",
    "WINDOW",
    "KeyLimiter",
    "KeyLimits",
    "SharedKeyLimiter",
    "SlotLease",
    "build_limiter",
    "effective_limits",
]


def build_limiter(config: LimitsConfig) -> KeyLimiter | SharedKeyLimiter:
    """The limiter `[limits] backend` names (the config check has made sure a URL is set).
    The Redis client (~20 MiB once imported) is loaded only when it is the backend."""
    if config.backend == "redis":
        from proxy.limits.shared import SharedKeyLimiter

        return SharedKeyLimiter(config)
    return KeyLimiter(config)


def __getattr__(name: str) -> Any:
    if name == "SharedKeyLimiter":
        from proxy.limits.shared import SharedKeyLimiter

        return SharedKeyLimiter
    raise AttributeError(name)
