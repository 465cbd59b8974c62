"""Circuit breakers per target, fed only by failures that are the vendor's own.

One key scheme for every caller: `(provider, upstream model)` for a vendor,
`(pool:<name>, upstream model)` for a worker pool (never a member's URL: members have
their own health checks and failover in proxy/pools/), the key dispatch's admission
checks. Chat and embeddings feed it per attempt; a stream feeds it once, when it ends, so
a stream that breaks after it started counts as the failure it is.

A caller's 401/403/429 says nothing about the endpoint's health (in BYOK one tenant's bad
key must not eject a provider for everyone), so only server errors, overload, timeouts and
connection failures count; another failure (or a caller's fault) neither counts nor resets
the run. A breaker opens after `consecutive_failures` in a row, or when more than
`failure_ratio` of the calls in the last `window` seconds failed, once there are at least
`min_calls` of them. It stays open for `open_seconds`, doubling on each re-open up to
`max_open_seconds`; then one probe goes through (half-open) and its outcome closes or
re-opens it.

Each change of state (to open, to half-open when the probe is let through, to closed) is
told to the hook `watch` installs (the observatory counts them), so a flapping breaker shows
in a counter that the gauge's periodic sample would miss between two scrapes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from schemas.config import BreakerConfig
from schemas.errors import Code

VENDOR_FAULTS = frozenset({Code.SERVER_ERROR, Code.OVERLOADED, Code.TIMEOUT, Code.CONNECTION})
Transition = Callable[[str, str], None]
"""`(target, to)`: to is open, half_open or closed; target the key's provider or pool:<name>."""


@dataclass(slots=True)
class Breaker:
    consecutive: int = 0
    calls: deque[tuple[float, bool]] = field(default_factory=deque)
    open_until: float = 0.0
    open_seconds: float = 0.0
    probing: bool = False
    state: str = "closed"
    """The last state told to the hook: a call that lands in the state it found is no change."""


class BreakerBoard:
    def __init__(self, config: BreakerConfig) -> None:
        self._config = config
        self._breakers: dict[tuple[str, str], Breaker] = {}
        self._now = time.monotonic
        self._moved: Transition | None = None

    def watch(self, moved: Transition) -> None:
        """Tell `moved` every change of state from now on."""
        self._moved = moved

    def _move(self, key: tuple[str, str], breaker: Breaker, to: str) -> None:
        if breaker.state == to:
            return
        breaker.state = to
        if self._moved is not None:
            self._moved(key[0], to)

    def _get(self, key: tuple[str, str]) -> Breaker:
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = Breaker()
        return breaker

    def allows(self, key: tuple[str, str]) -> bool:
        """Whether a call may go; in half-open state only one probe at a time."""
        breaker = self._breakers.get(key)
        if breaker is None or breaker.open_until == 0.0:
            return True
        if self._now() < breaker.open_until or breaker.probing:
            return False
        breaker.probing = True
        self._move(key, breaker, "half_open")
        return True

    def is_open(self, key: tuple[str, str]) -> bool:
        breaker = self._breakers.get(key)
        return (
            breaker is not None
            and breaker.open_until != 0.0
            and (self._now() < breaker.open_until or breaker.probing)
        )

    def states(self) -> Iterator[tuple[str, str]]:
        """(target, closed | half_open | open) for every breaker, for the metrics."""
        now = self._now()
        for (target, _), breaker in list(self._breakers.items()):
            if breaker.open_until == 0.0:
                yield target, "closed"
            else:
                yield target, "open" if now < breaker.open_until and not breaker.probing else "half_open"

    def record(self, key: tuple[str, str], code: Code | None) -> None:
        """Record a call's outcome: None for success, else the error's code."""
        if code is not None and code not in VENDOR_FAULTS:
            breaker = self._breakers.get(key)
            if breaker is not None:
                breaker.probing = False
            return
        now = self._now()
        breaker = self._get(key)
        failed = code is not None
        breaker.calls.append((now, failed))
        while breaker.calls and breaker.calls[0][0] < now - self._config.window:
            breaker.calls.popleft()
        if not failed:
            breaker.consecutive = 0
            breaker.open_until = 0.0
            breaker.open_seconds = 0.0
            breaker.probing = False
            self._move(key, breaker, "closed")
            return
        breaker.consecutive += 1
        if now < breaker.open_until and not breaker.probing:
            return  # a call that was in flight when it opened: it is open already, for as long
        failures = sum(1 for _, bad in breaker.calls if bad)
        tripped = breaker.consecutive >= self._config.consecutive_failures or (
            len(breaker.calls) >= self._config.min_calls
            and failures / len(breaker.calls) > self._config.failure_ratio
        )
        if tripped or breaker.probing:
            previous = breaker.open_seconds
            breaker.open_seconds = (
                min(previous * 2, self._config.max_open_seconds) if previous else self._config.open_seconds
            )
            breaker.open_until = now + breaker.open_seconds
            breaker.probing = False
            self._move(key, breaker, "open")
