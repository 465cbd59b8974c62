"""Reasoning across turns and vendors: a vendor's signature travels to the client as the
opaque `encrypted_content`, marked with the vendor that made it, so a later turn hands it
back only to a vendor that can verify it (another vendor gets the text, and a warning).
`reasoning` becomes the unified `ChatRequest.reasoning`, which every adapter maps.
"""

from __future__ import annotations

import base64
from typing import get_args

import msgspec

from proxy.surfaces.intake import invalid
from schemas.chat import Reasoning, ReasoningEffort, ReasoningPart, ReasoningSummary
from schemas.responses_surface import ReasoningConfig, ReasoningItem

SIGNATURE_PREFIX = "ug1."
_encode = msgspec.json.encode


class _Signature(msgspec.Struct, omit_defaults=True):
    p: str
    s: str | None = None
    r: str | None = None


def encrypted_content(provider: str, part: ReasoningPart) -> str | None:
    """A reasoning part's signature as the opaque `encrypted_content`, marked with the vendor
    that made it, so a later turn gives it back only to a vendor that can verify it."""
    signature = part.signature if isinstance(part.signature, str) else None
    redacted = part.redacted if isinstance(part.redacted, str) else None
    if signature is None and redacted is None:
        return None
    packed = _encode(_Signature(provider, signature, redacted))
    return SIGNATURE_PREFIX + base64.urlsafe_b64encode(packed).decode()


def reasoning_part(item: ReasoningItem, provider: str | None, warnings: list[str]) -> ReasoningPart:
    text = "\n\n".join(part.text for part in item.summary)
    if item.content:
        text = "\n\n".join(part.text for part in item.content)
    part = ReasoningPart(text=text)
    content = item.encrypted_content
    if not isinstance(content, str) or not content.startswith(SIGNATURE_PREFIX):
        return part
    try:
        signature = msgspec.json.decode(
            base64.urlsafe_b64decode(content.removeprefix(SIGNATURE_PREFIX)), type=_Signature
        )
    except (ValueError, msgspec.DecodeError):
        raise invalid("a reasoning item's encrypted_content is not one unigate produced") from None
    if signature.p != provider:
        note = f"reasoning signed by {signature.p} cannot be verified by {provider}; its text was kept"
        if note not in warnings:
            warnings.append(note)
        return part
    if signature.s is not None:
        part.signature = signature.s
    if signature.r is not None:
        part.redacted = signature.r
    return part


def to_reasoning(config: ReasoningConfig) -> Reasoning:
    """`reasoning` as the unified field, which each target's adapter maps to its vendor's
    thinking (and names in its warnings what it cannot), so a fallback gets its own."""
    reasoning = Reasoning()
    if config.effort is not None:
        if config.effort not in get_args(ReasoningEffort):
            raise invalid(f"reasoning.effort must be one of {', '.join(get_args(ReasoningEffort))}")
        reasoning.effort = config.effort  # type: ignore[assignment]
    summary = config.summary or config.generate_summary
    if summary is not None:
        if summary not in get_args(ReasoningSummary):
            raise invalid(f"reasoning.summary must be one of {', '.join(get_args(ReasoningSummary))}")
        reasoning.summary = summary  # type: ignore[assignment]
    return reasoning
