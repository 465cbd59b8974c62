"""A Responses request for OpenAI's own `/responses`, and OpenAI's answer as our client sees it.

A route that may reach OpenAI carries the caller's body beside the chat translation
(`ChatRequest.openai_native`); the OpenAI adapter sends it, other vendors serve the
translation. The gateway keeps the conversation, not OpenAI: `previous_response_id` is
ours, so it is resolved here into the stored items, and OpenAI is asked with
`store: false` and for `reasoning.encrypted_content`, which is how a later turn (to OpenAI
or to another vendor) still has everything. Reasoning another vendor signed cannot go to
OpenAI and is left out with a warning; ids the gateway gave stored items are dropped, as
OpenAI knows only its own.

The answer is OpenAI's object with our `id`, `model` (the id the client routed by),
`previous_response_id`, `store` and `usage.cost`; encrypted content reaches the client only
when it asked for it with `include`.
"""

from __future__ import annotations

from typing import Any

from proxy.surfaces.intake import invalid
from proxy.surfaces.responses.encode import ENCRYPTED_CONTENT
from proxy.surfaces.responses.reasoning import SIGNATURE_PREFIX


def openai_reasoning(item: dict[str, Any]) -> bool:
    """A reasoning item OpenAI can take back: it carries the encrypted content OpenAI issued."""
    content = item.get("encrypted_content")
    return isinstance(content, str) and bool(content) and not content.startswith(SIGNATURE_PREFIX)


def _for_openai(item: dict[str, Any], stored: bool, warnings: list[str]) -> dict[str, Any] | None:
    if item.get("type") == "reasoning" and not openai_reasoning(item):
        note = "reasoning from another vendor cannot be verified by openai; it was left out"
        if note not in warnings:
            warnings.append(note)
        return None
    if stored and item.get("type") != "reasoning":
        return {key: value for key, value in item.items() if key != "id"}
    return item


def new_items(fields: dict[str, Any], earlier: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """This request's input items as sent, `item_reference`s replaced by the stored items they name."""
    raw = fields.get("input")
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    known = {item["id"]: item for item in earlier if isinstance(item.get("id"), str)}
    items: list[dict[str, Any]] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and item.get("type") == "item_reference":
            target = known.get(item.get("id"))
            if target is None:
                raise invalid(f"item_reference {item.get('id')!r} does not name an item of this conversation")
            items.append(target)
        elif isinstance(item, dict):
            items.append(item)
    return items


def openai_request(
    fields: dict[str, Any], earlier: list[dict[str, Any]], current: list[dict[str, Any]], warnings: list[str]
) -> dict[str, Any]:
    """The body OpenAI's `/responses` gets (the adapter sets the upstream model name)."""
    body = {key: value for key, value in fields.items() if key != "previous_response_id"}
    history = [kept for item in earlier if (kept := _for_openai(item, True, warnings)) is not None]
    turn = [kept for item in current if (kept := _for_openai(item, False, warnings)) is not None]
    body["input"] = [*history, *turn]
    body["store"] = False
    include = [name for name in fields.get("include") or [] if isinstance(name, str)]
    body["include"] = include if ENCRYPTED_CONTENT in include else [*include, ENCRYPTED_CONTENT]
    return body


def as_ours(
    response: dict[str, Any], response_id: str, model: str, fields: dict[str, Any], cost: float | None
) -> dict[str, Any]:
    """OpenAI's response object under our id and model, with our state fields and cost."""
    response.update(
        id=response_id,
        model=model,
        previous_response_id=fields.get("previous_response_id"),
        store=fields.get("store") is not False,
    )
    usage = response.get("usage")
    if isinstance(usage, dict):
        usage["cost"] = cost
    return response
