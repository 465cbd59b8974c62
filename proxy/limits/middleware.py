"""The ASGI middleware that applies per-key limits to every model call.

Why an ASGI middleware: it wraps every surface (native, OpenAI, Anthropic) without each
handler remembering to call it, and its `await app(...)` returns only when the response
has been sent to the end — a stream included — or the client has left, which is exactly
when a concurrency slot may be given back.

It identifies the key the way proxy/identity/auth.py does (`presented_key` + `lookup`),
and `lookup` leaves the records in the ASGI scope, so the handler's `authenticate` does not
ask the store again; a request without a valid key passes through untouched and the handler
answers 401. Only model calls count: GET and HEAD (the catalogue, usage) do not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from proxy import observability as observe
from proxy.identity.auth import MAX_KEY_LENGTH, lookup, mark_authenticated, presented_key
from proxy.identity.keys import KeyRecord, KeyStore
from proxy.limits.memory import KeyLimiter
from proxy.limits.rules import SlotLease, effective_limits, is_model_call

if TYPE_CHECKING:
    from proxy.limits.shared import SharedKeyLimiter


class KeyLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: KeyLimiter | SharedKeyLimiter, keys: KeyStore) -> None:
        self.app = app
        self.limiter = limiter
        self.keys = keys

    async def _records(self, scope: Scope) -> list[KeyRecord]:
        """Every valid key the request presents (`Authorization`, `x-api-key`): whichever a
        surface authenticates with, its limits apply, and junk in one header evades nothing."""
        if not is_model_call(scope):
            return []
        presented: set[str] = set()
        for name, value in scope["headers"]:
            if name.lower() in (b"authorization", b"x-api-key"):
                key = presented_key(value.decode("latin-1"))
                if key is not None and len(key) <= MAX_KEY_LENGTH:
                    presented.add(key)
        records = [await lookup(self.keys, key, scope) for key in sorted(presented)]
        found = [record for record in records if record is not None]
        if found:
            observe.identified(found[0].id)
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        records = await self._records(scope)
        if not isinstance(self.limiter, KeyLimiter):
            await self._call_shared(self.limiter, records, scope, receive, send)
            return
        admitted: list[str] = []
        try:
            for record in records:
                mark_authenticated(scope, record)  # the key a refusal's ledger row is for
                self.limiter.admit(record.id, effective_limits(record, self.limiter.defaults))
                admitted.append(record.id)
            await self.app(scope, receive, send)
        finally:
            for key_id in admitted:
                self.limiter.release(key_id)

    async def _call_shared(
        self, limiter: SharedKeyLimiter, records: list[KeyRecord], scope: Scope, receive: Receive, send: Send
    ) -> None:
        """As above, with the leases given back just before the response's last message: a
        client that sends its next call the moment this one ends finds the slot free on any
        replica, as it would with the in-process limiter."""
        leases: list[SlotLease] = []

        async def release() -> None:
            while leases:
                await limiter.release(leases.pop())

        async def send_then_release(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                await release()
            await send(message)

        try:
            for record in records:
                mark_authenticated(scope, record)  # the key a refusal's ledger row is for
                lease = await limiter.admit(record.id, effective_limits(record, limiter.defaults))
                if lease is not None:
                    leases.append(lease)
            await self.app(scope, receive, send_then_release if leases else send)
        finally:
            await release()
