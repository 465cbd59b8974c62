"""Which of a request's vendor-owned parameters a target may send, decided by the target.

A surface records what the caller wrote for one vendor's wire (`ChatRequest.vendor_extra`,
`Tool.vendor_extra`, `ChatRequest.anthropic_betas`) without guessing who will serve the call;
each adapter's request builder asks here for its own vendor's share, and every other
vendor's is named in the warnings, so a fallback to another vendor never receives the first
vendor's parameters and the caller learns what was left out.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from schemas.chat import ChatRequest, SystemMessage, UserMessage, VendorExtra


def _warn(warnings: list[str], sentence: str) -> None:
    if sentence not in warnings:
        warnings.append(sentence)


def _others(extra: VendorExtra, vendor: str, warnings: list[str], where: str) -> dict[str, Any]:
    for owner, fields in extra.items():
        if owner != vendor and fields:
            names = ", ".join(sorted(fields))
            _warn(warnings, f"{names}{where}: {owner} parameters, not supported by {vendor}; not sent")
    return extra.get(vendor, {})


def own_vendor_extra(request: ChatRequest, vendor: str, warnings: list[str]) -> dict[str, Any]:
    """The request's parameters written for `vendor`. Every other vendor's, on the request,
    its tools and its turns, and Anthropic betas for anyone else, are reported as not sent; a tool's own
    share is the builder's to read (`tool.vendor_extra.get(vendor)`)."""
    own = _others(request.vendor_extra, vendor, warnings, "")
    if vendor != "anthropic" and request.anthropic_betas is not UNSET and request.anthropic_betas:
        _warn(warnings, f"anthropic-beta applies to anthropic only; not sent to {vendor}")
    for tool in request.tools if request.tools is not UNSET else ():
        _others(tool.vendor_extra, vendor, warnings, f" (on tool {tool.function.name!r})")
    for message in request.messages:
        if isinstance(message, SystemMessage | UserMessage) and message.vendor_extra:
            _others(
                message.vendor_extra, vendor, warnings, f" (on a {type(message).__struct_config__.tag} turn)"
            )
    return own
