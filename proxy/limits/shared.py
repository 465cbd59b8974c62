"""The Redis limiter (`[limits] backend = "redis"`): one set of limits across every replica.

Admission is one Lua script per call (proxy/limits/scripts.py), so N+k calls spread over
any number of replicas admit exactly N. A call under a concurrency limit holds a lease
(a token in the key's lease ZSET, scored by its expiry); this process refreshes its live
leases every `lease_seconds / 3`, so a stream of any length keeps its slot, while the
leases of a replica that died expire after `lease_seconds` instead of blocking forever.

When Redis cannot be reached, `redis_failure` decides: "open" admits (the limits lapse,
logged at most once per `WARN_EVERY`), "closed" answers 503 `overloaded` with Retry-After.
After a failure Redis is not asked again for `RECHECK_SECONDS`, so a dead server costs
each request nothing rather than a connect timeout. Never a 500, and nothing but the key
id reaches Redis or a log.
"""

from __future__ import annotations

import asyncio
import logging
import time

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from proxy.accounting.ledger import Ledger, UsageRow
from proxy.identity.keys import KeyLimits
from proxy.identity.request import new_request_id
from proxy.limits.rules import WINDOW, SlotLease, concurrency_limited, rpm_limited, tpm_limited
from proxy.limits.scripts import ADMIT, CHARGE, REFRESH, Script
from schemas.config import LimitsConfig
from schemas.errors import Code, GatewayError

log = logging.getLogger("unigate.limits")

FAILURES = (RedisError, OSError, asyncio.TimeoutError)
WARN_EVERY = 30.0
RECHECK_SECONDS = 1.0


def redis_key(key_id: str, part: str) -> str:
    return f"unigate:limits:{{{key_id}}}:{part}"


class SharedKeyLimiter:
    def __init__(self, defaults: LimitsConfig) -> None:
        assert defaults.redis_url is not None
        self.defaults = defaults
        self.client = Redis.from_url(
            defaults.redis_url,
            socket_timeout=defaults.redis_timeout,
            socket_connect_timeout=defaults.redis_timeout,
            retry=Retry(NoBackoff(), 1),  # one retry for a dropped pooled connection, no backoff
        )
        self._admit = Script(ADMIT)
        self._charge = Script(CHARGE)
        self._refresh = Script(REFRESH)
        self._leases: dict[str, set[str]] = {}
        self._refresher: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._metered: set[str] = set()
        """Key ids last admitted here under a TPM limit: only their usage is written to Redis.
        The replica that admitted a call is the one that records its usage, so this is enough."""
        self._down_until = 0.0
        self._warned_at = -WARN_EVERY

    async def admit(self, key_id: str, limits: KeyLimits) -> SlotLease | None:
        """Take a slot for one call (a lease when concurrency is limited), or raise 429."""
        if limits.tpm is None:
            self._metered.discard(key_id)
        else:
            self._metered.add(key_id)
        if limits.rpm is None and limits.tpm is None and limits.concurrency is None:
            return None
        if time.monotonic() < self._down_until:
            self._unreachable(None)
            return None
        token = new_request_id()  # unique across processes (a random prefix), without a syscall
        try:
            reply = await self._admit(
                self.client,
                [redis_key(key_id, "leases"), redis_key(key_id, "requests"), redis_key(key_id, "tokens")],
                [
                    limits.concurrency or 0,
                    limits.rpm or 0,
                    limits.tpm or 0,
                    token,
                    self.defaults.lease_seconds,
                    WINDOW,
                ],
            )
            verdict, wait_ms = _pair(reply)
        except FAILURES as error:
            self._unreachable(error)
            return None
        if verdict == 1:
            raise concurrency_limited(limits)
        if verdict == 2:
            raise rpm_limited(limits, wait_ms / 1000)
        if verdict == 3:
            raise tpm_limited(limits, wait_ms / 1000)
        if limits.concurrency is None:
            return None
        self._track(SlotLease(key_id, token))
        return SlotLease(key_id, token)

    async def release(self, lease: SlotLease) -> None:
        """Give the slot back; if Redis does not hear it, the lease expires on its own."""
        tokens = self._leases.get(lease.key_id)
        if tokens is not None:
            tokens.discard(lease.token)
            if not tokens:
                del self._leases[lease.key_id]
        try:
            await self.client.zrem(redis_key(lease.key_id, "leases"), lease.token)
        except FAILURES as error:
            self._note_failure(error)

    def charge(self, key_id: str | None, tokens: int) -> None:
        """Count a finished call's tokens. Ledger observers are synchronous and run on the
        event loop, so the write is a task, kept referenced until it is done."""
        if key_id not in self._metered or tokens <= 0 or time.monotonic() < self._down_until:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.warning("token usage not counted toward the rate limit: no event loop")
            return
        task = loop.create_task(self._write_charge(key_id, tokens))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _write_charge(self, key_id: str, tokens: int) -> None:
        try:
            await self._charge(self.client, [redis_key(key_id, "tokens")], [tokens, WINDOW])
        except FAILURES as error:
            self._note_failure(error)

    def watch(self, ledger: Ledger) -> None:
        """Feed TPM from every final ledger row (the one place each call's usage lands)."""

        def observe(row: UsageRow) -> None:
            self.charge(row.key_id, row.input_tokens + row.output_tokens)

        ledger.observers.append(observe)

    def _track(self, lease: SlotLease) -> None:
        self._leases.setdefault(lease.key_id, set()).add(lease.token)
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.get_running_loop().create_task(self._keep_leases())

    async def _keep_leases(self) -> None:
        """Push this process's live leases' expiry forward while it has any."""
        interval = self.defaults.lease_seconds / 3
        while self._leases:
            await asyncio.sleep(interval)
            for key_id, tokens in list(self._leases.items()):
                try:
                    await self._refresh(
                        self.client, [redis_key(key_id, "leases")], [self.defaults.lease_seconds, *tokens]
                    )
                except FAILURES as error:
                    self._note_failure(error)

    def _unreachable(self, error: BaseException | None) -> None:
        """Redis did not answer: admit (fail open) or refuse with 503 (fail closed)."""
        if error is not None:
            self._note_failure(error)
        if self.defaults.redis_failure == "closed":
            raise GatewayError(
                Code.OVERLOADED,
                "rate limits cannot be checked right now; retry shortly",
                retry_after=max(1.0, RECHECK_SECONDS),
            )

    def _note_failure(self, error: BaseException) -> None:
        now = time.monotonic()
        self._down_until = now + RECHECK_SECONDS
        if now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            mode = "admitting calls unlimited" if self.defaults.redis_failure == "open" else "refusing calls"
            log.warning("rate-limit store unreachable (%s); %s", type(error).__name__, mode)

    async def aclose(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
        if self._pending:
            await asyncio.wait(self._pending, timeout=2.0)
        await self.client.aclose()


def _pair(result: object) -> tuple[int, int]:
    if isinstance(result, list | tuple) and len(result) == 2:
        return int(result[0]), int(result[1])
    raise RedisError("unexpected reply from the admit script")
