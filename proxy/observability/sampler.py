"""Gauges read from the gateway's state: breakers, pool members, the ledger, live streams,
budgets.

Read, not pushed: the state already lives in the breaker board, the pools and the ledger,
and reading it every `INTERVAL` seconds (and once more just before a scrape this worker
answers) costs nothing per request. In multiprocess mode each worker writes its own values
and the scrape merges them (the gauges' `multiprocess_mode` says how).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import TYPE_CHECKING

from proxy.observability.metrics import Metrics
from proxy.server.redaction import masked_url

if TYPE_CHECKING:
    from proxy.gateway import Gateway

log = logging.getLogger("unigate.observability")
INTERVAL = 2.0
_BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}
_HEALTHY = frozenset({"unknown", "healthy"})


class LedgerLag:
    """The ledger writer thread's progress: when the batch it is writing was first queued."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._writing_since: float | None = None
        self._last = 0.0

    def writing(self, oldest: float | None) -> None:
        """Called by the writer thread: a batch whose oldest row was queued at `oldest`
        (`time.time()`) is being written, or (None) the batch is committed."""
        with self._lock:
            if oldest is not None:
                self._writing_since = oldest
            elif self._writing_since is not None:
                self._last = max(0.0, time.time() - self._writing_since)
                self._writing_since = None

    def seconds(self) -> float:
        with self._lock:
            if self._writing_since is not None:
                return max(0.0, time.time() - self._writing_since)
            return self._last


class Sampler:
    def __init__(self, metrics: Metrics, gateway: Gateway, lag: LedgerLag) -> None:
        self._metrics = metrics
        self._gateway = gateway
        self._lag = lag
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        metrics, gateway = self._metrics, self._gateway
        metrics.streams_in_flight.set(len(gateway.dispatcher.relays))
        metrics.ledger_queue_depth.set(gateway.ledger.backlog())
        metrics.ledger_write_lag.set(self._lag.seconds())
        worst: dict[str, int] = {}
        for target, state in gateway.dispatcher.breakers.states():
            label = masked_url(target)
            worst[label] = max(worst.get(label, 0), _BREAKER_VALUES[state])
        for label, value in worst.items():
            metrics.breaker_state.labels(label).set(value)
        for name, pool in gateway.pools.pools.items():
            for member in pool.members:
                url = masked_url(member.url)
                metrics.member_healthy.labels(name, url).set(1 if member.state in _HEALTHY else 0)
                metrics.member_in_flight.labels(name, url).set(member.outstanding)

    def sample_budgets(self) -> None:
        """How much of each budget is gone (spent plus reserved by calls in flight), read
        from the key store: a database read, so off the event loop and only on the timer."""
        ratios: dict[str, float] = {}
        for record in self._gateway.keys.list():
            if record.revoked_at is not None or record.budget is None:
                continue
            used = record.spent + record.reserved
            ratios[record.id] = used / record.budget if record.budget > 0 else 1.0
        gauge = self._metrics.budget_spent_ratio
        if self._metrics.per_key:
            for key_id, ratio in ratios.items():
                gauge.labels(key_id).set(ratio)
        else:
            gauge.set(max(ratios.values(), default=0.0))

    async def _run(self) -> None:
        while True:
            self.sample()
            try:
                await asyncio.to_thread(self.sample_budgets)
            except Exception:
                log.warning("reading the keys' budgets for the metrics failed", exc_info=True)
            await asyncio.sleep(INTERVAL)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
