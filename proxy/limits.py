"""Per-key limits: requests per minute, tokens per minute, and calls in flight.

Why an ASGI middleware: it wraps every surface (native, OpenAI, Anthropic) without each
handler remembering to call it, and its `await app(...)` returns only when the response
has been sent to the end — a stream included — or the client has left, which is exactly
when a concurrency slot may be given back.

It identifies the key the way proxy/auth.py does (`presented_key` + the cached
`KeyStore.lookup`); a request without a valid key passes through untouched and the
handler answers 401. Only model calls count: GET and HEAD (the catalogue, usage) do not.

- RPM: a sliding log of admission times over the last 60 s; exact at any instant.
- TPM: a sliding log of (time, tokens) fed after each call from what it actually used
  (the ledger's final row), so a call is admitted while the last minute's tokens are
  under the limit; the call that crosses it completes, the next ones wait.
- Concurrency: a counter per key, released in a `finally`.

Check and admit happen without an `await` between them, so concurrent requests on the
event loop cannot both take the last slot. State lives in this process: with several
workers or replicas each enforces the limits on its own (see docs/security.md).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from proxy.auth import MAX_KEY_LENGTH, presented_key
from proxy.keys import KeyRecord, KeyStore
from proxy.ledger import Ledger
from schemas.config import LimitsConfig
from schemas.errors import Code, GatewayError

WINDOW = 60.0
EXEMPT_OPT = "exempt_from_key_limits"
"""A route handler `opt` flag: the admin routes, which no proxy key may use anyway."""
_UNCOUNTED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


@dataclass(slots=True)
class _KeyState:
    requests: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int]] = field(default_factory=deque)
    token_sum: int = 0
    in_flight: int = 0

    def expire(self, now: float) -> None:
        horizon = now - WINDOW
        while self.requests and self.requests[0] <= horizon:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= horizon:
            self.token_sum -= self.tokens.popleft()[1]


class KeyLimiter:
    def __init__(self, defaults: LimitsConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.defaults = defaults
        self._clock = clock
        self._states: dict[str, _KeyState] = {}

    def _state(self, key_id: str) -> _KeyState:
        state = self._states.get(key_id)
        if state is None:
            state = self._states[key_id] = _KeyState()
        return state

    def admit(self, key_id: str, limits: KeyLimits) -> None:
        """Take a slot for one call, or raise 429 with how long until one frees up."""
        now = self._clock()
        state = self._state(key_id)
        state.expire(now)
        if limits.concurrency is not None and state.in_flight >= limits.concurrency:
            raise _limited(f"this key already has {limits.concurrency} calls in flight", 1.0)
        if limits.rpm is not None and len(state.requests) >= limits.rpm:
            wait = state.requests[len(state.requests) - limits.rpm] + WINDOW - now
            raise _limited(f"this key may make {limits.rpm} calls per minute", wait)
        if limits.tpm is not None and state.token_sum >= limits.tpm:
            raise _limited(
                f"this key may use {limits.tpm} tokens per minute", self._token_wait(state, limits)
            )
        state.requests.append(now)
        state.in_flight += 1

    def _token_wait(self, state: _KeyState, limits: KeyLimits) -> float:
        """Seconds until enough of the window's tokens expire to go under the limit."""
        assert limits.tpm is not None
        remaining = state.token_sum
        for when, tokens in state.tokens:
            remaining -= tokens
            if remaining < limits.tpm:
                return when + WINDOW - self._clock()
        return WINDOW

    def release(self, key_id: str) -> None:
        state = self._states.get(key_id)
        if state is not None and state.in_flight > 0:
            state.in_flight -= 1

    def charge(self, key_id: str | None, tokens: int) -> None:
        """Count tokens a finished call used against its key's TPM window."""
        if key_id is None or tokens <= 0:
            return
        state = self._state(key_id)
        state.tokens.append((self._clock(), tokens))
        state.token_sum += tokens

    def in_flight(self, key_id: str) -> int:
        state = self._states.get(key_id)
        return state.in_flight if state is not None else 0

    def watch(self, ledger: Ledger) -> None:
        """Feed TPM from every final ledger row (the one place each call's usage lands);
        observers run on the event loop, where the limiter lives."""
        ledger.observers.append(lambda row: self.charge(row.key_id, row.input_tokens + row.output_tokens))


def _limited(message: str, retry_after: float) -> GatewayError:
    wait = max(1.0, math.ceil(retry_after))
    return GatewayError(
        Code.RATE_LIMITED, f"rate limited: {message}; retry after {wait:.0f} s", retry_after=wait
    )


class KeyLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: KeyLimiter, keys: KeyStore) -> None:
        self.app = app
        self.limiter = limiter
        self.keys = keys

    async def _records(self, scope: Scope) -> list[KeyRecord]:
        """Every valid key the request presents (`Authorization`, `x-api-key`): whichever a
        surface authenticates with, its limits apply, and junk in one header evades nothing."""
        if scope["type"] != ScopeType.HTTP or scope.get("method") in _UNCOUNTED_METHODS:
            return []
        handler = scope.get("route_handler")
        if handler is not None and handler.opt.get(EXEMPT_OPT):
            return []
        presented: set[str] = set()
        for name, value in scope["headers"]:
            if name.lower() in (b"authorization", b"x-api-key"):
                key = presented_key(value.decode("latin-1"))
                if key is not None and len(key) <= MAX_KEY_LENGTH:
                    presented.add(key)
        records = [await self.keys.lookup(key) for key in sorted(presented)]
        return [record for record in records if record is not None]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        records = await self._records(scope)
        admitted: list[str] = []
        try:
            for record in records:
                self.limiter.admit(record.id, effective_limits(record, self.limiter.defaults))
                admitted.append(record.id)
            await self.app(scope, receive, send)
        finally:
            for key_id in admitted:
                self.limiter.release(key_id)
