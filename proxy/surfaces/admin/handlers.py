"""Key management over HTTP, guarded by the admin token; and a key's view of its own usage.

    POST   /admin/keys                {name, rpm?, tpm?, concurrency?, budget?} → the key, shown once
    GET    /admin/keys                every key (never a secret or a hash), with spent and budget
    PUT    /admin/keys/{key_id}/budget {budget} set a spend budget in USD (null lifts it)
    DELETE /admin/keys/{key_id}       revoke
    GET    /admin/keys/{key_id}/usage any key's usage          (admin token)
    GET    /v1/usage                  the calling key's usage   (its proxy key)

The admin token comes from config (`[admin] token = "${UNIGATE_ADMIN_TOKEN}"`) and is a
separate secret: a proxy key is never accepted on /admin, and /v1/usage takes no key id
at all, so one key cannot name another (no BOLA by construction). Tokens are compared as
SHA-256 digests in constant time. With no token configured the admin routes answer 404.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Annotated, Any

import msgspec
from litestar import Router, delete, get, post, put
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody

from proxy.accounting.usage import UsageReport, UsageSummary
from proxy.gateway import Gateway
from proxy.identity.keys import KeyRecord, presented_key
from proxy.limits import EXEMPT_OPT
from proxy.server.openapi import described
from proxy.settings import ConfigError
from schemas.config import Config
from schemas.errors import Code, GatewayError

MIN_TOKEN_LENGTH = 24
Limit = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]
Budget = Annotated[float, msgspec.Meta(ge=0, lt=1e12)]


class CreateKey(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    rpm: Limit | None = None
    tpm: Limit | None = None
    concurrency: Limit | None = None
    budget: Budget | None = None
    """USD the key may spend in all; unset: no budget."""


class SetBudget(msgspec.Struct, forbid_unknown_fields=True):
    budget: Budget | None


class KeyInfo(msgspec.Struct):
    id: str
    name: str
    created_at: float
    revoked_at: float | None
    rpm: int | None
    tpm: int | None
    concurrency: int | None
    budget: float | None
    spent: float
    """USD its finished calls cost (calls with a configured price)."""
    reserved: float
    """USD held by its calls in flight against the budget."""


class CreatedKey(msgspec.Struct):
    key: str
    """The proxy key itself; this is the only time it is shown."""
    info: KeyInfo


class KeyList(msgspec.Struct):
    keys: list[KeyInfo]


class Revoked(msgspec.Struct):
    id: str
    revoked: bool


def key_info(record: KeyRecord) -> KeyInfo:
    return KeyInfo(
        record.id,
        record.name,
        record.created_at,
        record.revoked_at,
        record.rpm,
        record.tpm,
        record.concurrency,
        record.budget,
        round(record.spent, 10),
        round(record.reserved, 10),
    )


def check_admin_config(config: Config) -> None:
    """Refuse to start with an admin token short enough to guess."""
    token = config.admin.token
    if token and len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"[admin] token must be at least {MIN_TOKEN_LENGTH} characters")


def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Runs before the body is read: an unauthenticated caller learns nothing from /admin."""
    gateway: Gateway = connection.app.state.gateway
    token = gateway.settings.config.admin.token
    if not token:
        raise GatewayError(Code.NOT_FOUND, "no such route")
    presented = presented_key(connection.headers.get("authorization")) or ""
    expected = hashlib.sha256(token.encode()).digest()
    given = hashlib.sha256(presented.encode("utf-8", errors="surrogateescape")).digest()
    if not hmac.compare_digest(expected, given):
        raise GatewayError(Code.AUTHENTICATION, "admin routes need the admin token (a proxy key is refused)")


def _window(since: float | None, until: float | None) -> None:
    for value in (since, until):
        if value is not None and not 0 <= value < 1e11:
            raise GatewayError(Code.INVALID_REQUEST, "since and until are Unix times in seconds")


_OPT = {EXEMPT_OPT: True}


@post("/keys", name="admin_create_key", status_code=201, opt=_OPT, operation_class=described())
async def create_key(gateway: NamedDependency[Gateway], data: JSONBody[CreateKey]) -> CreatedKey:
    keys = gateway.keys
    record, key = await asyncio.to_thread(
        keys.create, data.name, data.rpm, data.tpm, data.concurrency, data.budget
    )
    return CreatedKey(key=key, info=key_info(record))


@put("/keys/{key_id:str}/budget", name="admin_set_budget", opt=_OPT, operation_class=described())
async def set_budget(
    gateway: NamedDependency[Gateway], key_id: FromPath[str], data: JSONBody[SetBudget]
) -> KeyInfo:
    keys = gateway.keys
    if not await asyncio.to_thread(keys.set_budget, key_id, data.budget):
        raise GatewayError(Code.NOT_FOUND, "no key with that id")
    record = await asyncio.to_thread(keys.get, key_id)
    assert record is not None
    return key_info(record)


@get("/keys", name="admin_list_keys", opt=_OPT, operation_class=described())
async def list_keys(gateway: NamedDependency[Gateway]) -> KeyList:
    records = await asyncio.to_thread(gateway.keys.list)
    return KeyList([key_info(record) for record in records])


@delete("/keys/{key_id:str}", name="admin_revoke_key", status_code=200, opt=_OPT, operation_class=described())
async def revoke_key(gateway: NamedDependency[Gateway], key_id: FromPath[str]) -> Revoked:
    if not await asyncio.to_thread(gateway.keys.revoke, key_id):
        raise GatewayError(Code.NOT_FOUND, "no active key with that id")
    return Revoked(id=key_id, revoked=True)


@get("/keys/{key_id:str}/usage", name="admin_key_usage", opt=_OPT, operation_class=described())
async def key_usage(
    gateway: NamedDependency[Gateway],
    usage_report: NamedDependency[UsageReport],
    key_id: FromPath[str],
    since: FromQuery[float | None] = None,
    until: FromQuery[float | None] = None,
) -> UsageSummary:
    _window(since, until)
    if await asyncio.to_thread(gateway.keys.get, key_id) is None:
        raise GatewayError(Code.NOT_FOUND, "no key with that id")
    return await usage_report.summary(key_id, since, until)


@get("/v1/usage", name="own_usage", operation_class=described())
async def own_usage(
    key: NamedDependency[KeyRecord],
    usage_report: NamedDependency[UsageReport],
    since: FromQuery[float | None] = None,
    until: FromQuery[float | None] = None,
) -> UsageSummary:
    """The calling key's own usage; there is no parameter naming another key."""
    _window(since, until)
    return await usage_report.summary(key.id, since, until)


admin_router = Router(
    path="/admin",
    route_handlers=[create_key, set_budget, list_keys, revoke_key, key_usage],
    guards=[admin_guard],
)
