"""When to try again: full-jitter backoff, Retry-After within bounds, and a retry budget.

Retries happen only before the first byte reaches the client (dispatch guarantees that),
so a retry can never duplicate output the client already saw.
"""

from __future__ import annotations

import random

from schemas.config import RetryConfig
from schemas.errors import Code, UpstreamError

RETRYABLE = frozenset({Code.CONNECTION, Code.TIMEOUT, Code.RATE_LIMITED, Code.SERVER_ERROR, Code.OVERLOADED})


class RetryPolicy:
    def __init__(self, config: RetryConfig) -> None:
        self.config = config
        self.in_flight = 0
        self.retries_in_flight = 0
        self._random = random.Random()  # noqa: S311 - jitter, not security

    def delay(self, error: UpstreamError, attempt: int) -> float | None:
        """Seconds to wait before attempt `attempt + 1` at the same target, or None: don't."""
        if error.code not in RETRYABLE or attempt + 1 >= self.config.attempts:
            return None
        if error.retry_after is not None:
            if error.retry_after > self.config.max_retry_after:
                return None
            return error.retry_after
        ceiling = min(self.config.max_delay, self.config.base_delay * 2**attempt)
        return self._random.uniform(0, ceiling)

    def budget_allows(self) -> bool:
        limit = max(self.config.budget_floor, self.config.budget_ratio * self.in_flight)
        return self.retries_in_flight < limit
