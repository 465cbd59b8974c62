"""The keys view: create a key with limits and a budget (shown once), revoke, edit a budget.

Forms post as ordinary HTML forms, so they work without JavaScript; with htmx they swap
only the keys panel. Both answers are the same template, whole page or fragment.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import FromPath

from proxy.gateway import Gateway
from proxy.surfaces.admin.handlers import KeyInfo, key_info
from proxy.surfaces.console.access import checked_form, session_of
from proxy.surfaces.console.rendering import page

_MAX_LIMIT = 1_000_000_000


class FormProblem(ValueError):
    """A field the operator filled in wrongly; the message is shown next to the form."""


def _limit(form: FormMultiDict, field: str) -> int | None:
    text = str(form.get(field) or "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) > _MAX_LIMIT:
        raise FormProblem(f"{field} must be a whole number from 0 to {_MAX_LIMIT:,}")
    return int(text)


def _budget(form: FormMultiDict, field: str = "budget") -> float | None:
    text = str(form.get(field) or "").strip().removeprefix("$")
    if not text:
        return None
    try:
        amount = float(text)
    except ValueError:
        raise FormProblem("a budget is an amount in USD, like 25 or 2.50") from None
    if not 0 <= amount < 1e12:
        raise FormProblem("a budget is 0 or more USD")
    return amount


async def _panel(
    request: Request[Any, Any, Any],
    *,
    status: int = 200,
    created: tuple[str, KeyInfo] | None = None,
    problem: str | None = None,
    notice: str | None = None,
) -> Response[str]:
    gateway: Gateway = request.app.state.gateway
    records = await asyncio.to_thread(gateway.keys.list)
    fragment = request.headers.get("hx-request") == "true"
    return page(
        "keys_panel.html" if fragment else "keys.html",
        status_code=status,
        title="Keys",
        keys=[key_info(record) for record in records],
        created=created,
        problem=problem,
        notice=notice,
        csrf=session_of(request).csrf,
        logged_in=True,
        current="keys",
    )


@get("/keys", name="console_keys", include_in_schema=False)
async def keys_page(request: Request[Any, Any, Any]) -> Response[str]:
    return await _panel(request)


@post("/keys", name="console_create_key", status_code=200, include_in_schema=False)
async def create_key(request: Request[Any, Any, Any]) -> Response[str]:
    form = await checked_form(request)
    name = str(form.get("name") or "").strip()
    try:
        if not 1 <= len(name) <= 100:
            raise FormProblem("a key needs a name of 1 to 100 characters")
        limits = (_limit(form, "rpm"), _limit(form, "tpm"), _limit(form, "concurrency"))
        budget = _budget(form)
    except FormProblem as problem:
        return await _panel(request, status=422, problem=str(problem))
    gateway: Gateway = request.app.state.gateway
    record, key = await asyncio.to_thread(gateway.keys.create, name, *limits, budget)
    return await _panel(request, created=(key, key_info(record)))


@post("/keys/{key_id:str}/revoke", name="console_revoke_key", status_code=200, include_in_schema=False)
async def revoke_key(request: Request[Any, Any, Any], key_id: FromPath[str]) -> Response[str]:
    await checked_form(request)
    gateway: Gateway = request.app.state.gateway
    if not await asyncio.to_thread(gateway.keys.revoke, key_id):
        return await _panel(request, status=404, problem="no active key with that id")
    return await _panel(request, notice=f"Key {key_id} is revoked; its next call is refused.")


@post("/keys/{key_id:str}/budget", name="console_set_budget", status_code=200, include_in_schema=False)
async def set_budget(request: Request[Any, Any, Any], key_id: FromPath[str]) -> Response[str]:
    form = await checked_form(request)
    try:
        budget = _budget(form)
    except FormProblem as problem:
        return await _panel(request, status=422, problem=str(problem))
    gateway: Gateway = request.app.state.gateway
    if not await asyncio.to_thread(gateway.keys.set_budget, key_id, budget):
        return await _panel(request, status=404, problem="no key with that id")
    said = "lifted" if budget is None else f"set to ${budget:,.2f}"
    return await _panel(request, notice=f"Budget of key {key_id} {said}.")
