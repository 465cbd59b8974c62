"""The in-process limiter (`[limits] backend = "memory"`, the default).

- RPM: a sliding log of admission times over the last 60 s; exact at any instant.
- TPM: a sliding log of (time, tokens) fed after each call from what it actually used
  (the ledger's final row), so a call is admitted while the last minute's tokens are
  under the limit; the call that crosses it completes, the next ones wait.
- Concurrency: a counter per key, released in a `finally`.

`admit` is synchronous: check and take happen without an `await` between them, so
concurrent requests on the event loop cannot both take the last slot, and the hot path
costs no extra await. State lives in this process: with several workers or replicas each
enforces the limits on its own; `proxy/limits/shared.py` is the backend that shares them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from proxy.accounting.ledger import Ledger
from proxy.identity.keys import KeyLimits
from proxy.limits.rules import WINDOW, concurrency_limited, rpm_limited, tpm_limited
from schemas.config import LimitsConfig


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
        self._next_sweep = clock() + WINDOW

    def _sweep(self, now: float) -> None:
        """Forget keys with nothing in flight and nothing left in their windows, once a
        window: a long-running process serving many keys keeps only the active ones."""
        self._next_sweep = now + WINDOW
        for key_id, state in list(self._states.items()):
            state.expire(now)
            if not state.in_flight and not state.requests and not state.tokens:
                del self._states[key_id]

    def _state(self, key_id: str) -> _KeyState:
        state = self._states.get(key_id)
        if state is None:
            state = self._states[key_id] = _KeyState()
        return state

    def admit(self, key_id: str, limits: KeyLimits) -> None:
        """Take a slot for one call, or raise 429 with how long until one frees up."""
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        state = self._state(key_id)
        state.expire(now)
        if limits.concurrency is not None and state.in_flight >= limits.concurrency:
            raise concurrency_limited(limits)
        if limits.rpm is not None and len(state.requests) >= limits.rpm:
            wait = state.requests[len(state.requests) - limits.rpm] + WINDOW - now
            raise rpm_limited(limits, wait)
        if limits.tpm is not None and state.token_sum >= limits.tpm:
            raise tpm_limited(limits, self._token_wait(state, limits))
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
