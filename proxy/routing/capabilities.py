"""What a call asks of a model, checked against the catalogue before any vendor is called.

An image part to a model without vision, a tool to a model without tools, audio or video
to a model that takes neither: that target cannot answer, and calling it would only buy a
vendor's 400 (or, worse, a silently ignored part). Such targets are dropped from the plan;
when none is left the call is refused with 400 `unsupported`, naming what the model lacks.
A pool target whose members said what they serve, and do not serve this model, is dropped
the same way (404 `not_found` when it was the only one). `max_tokens` above the first
target's max output is clamped to it, with a warning in the answer. Models the catalogue
does not know are never refused: nothing is claimed that is not known. A non-chat task
(`RunRequest`) asks for nothing and has no `max_tokens`: only its pool targets are checked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import msgspec
from msgspec import UNSET

from proxy.routing.catalogue_file import Catalogue
from proxy.routing.routes import Resolution, ResolvedTarget
from schemas.chat import AudioPart, ChatRequest, ImagePart, VideoPart
from schemas.errors import Code, GatewayError
from schemas.tasks import RunRequest

Served = Callable[[str], "frozenset[str] | None"]
_PART_NEEDS: tuple[tuple[type, str, str], ...] = (
    (ImagePart, "vision", "an image part"),
    (AudioPart, "audio", "an audio part"),
    (VideoPart, "video", "a video part"),
)


Request = TypeVar("Request", bound=ChatRequest | RunRequest)
"""A chat turn or a task: `plan` gives back what it was given."""


@dataclass(slots=True)
class Plan(Generic[Request]):
    request: Request
    resolution: Resolution
    warnings: list[str] = field(default_factory=list)


def _asks(request: ChatRequest) -> list[tuple[str, str]]:
    """(capability, what asked for it) for everything in the request a model must support."""
    asked: list[tuple[str, str]] = []
    if request.tools is not UNSET and request.tools:
        asked.append(("tools", "tools"))
    seen: set[str] = set()
    for message in request.messages:
        content = message.content
        if not isinstance(content, list):
            continue
        for part in content:
            for kind, capability, description in _PART_NEEDS:
                if isinstance(part, kind) and capability not in seen:
                    seen.add(capability)
                    asked.append((capability, description))
    return asked


def _refusal(
    target: ResolvedTarget, catalogue: Catalogue, served: Served, asked: list[tuple[str, str]]
) -> GatewayError | None:
    if target.pool is not None:
        known = served(target.pool)
        if known is not None and target.model not in known:
            return GatewayError(
                Code.NOT_FOUND,
                f"no member of worker pool {target.pool!r} serves {target.model!r}"
                f" (they serve: {', '.join(sorted(known)) or 'nothing'})",
            )
        return None
    assert target.provider is not None
    model = target.known if target.looked_up else catalogue.for_target(target.provider, target.model)
    if model is None or model.capabilities is None:
        return None
    for capability, description in asked:
        if capability not in model.capabilities:
            return GatewayError(
                Code.UNSUPPORTED,
                f"{target.provider} model {target.model!r} cannot take {description}"
                f" (the catalogue lists no {capability} capability for it)",
                provider=target.provider,
            )
    return None


def plan(request: Request, resolution: Resolution, catalogue: Catalogue, served: Served) -> Plan[Request]:
    """The targets that can take this request, and the request as they will get it."""
    asked = _asks(request) if isinstance(request, ChatRequest) else []
    usable: list[ResolvedTarget] = []
    first_refusal: GatewayError | None = None
    for target in resolution.targets:
        refusal = _refusal(target, catalogue, served, asked)
        if refusal is None:
            usable.append(target)
        elif first_refusal is None:
            first_refusal = refusal
    if not usable:
        assert first_refusal is not None
        raise first_refusal
    if len(usable) != len(resolution.targets):
        resolution = dataclasses.replace(resolution, targets=tuple(usable))
    result = Plan(request, resolution)
    if not isinstance(request, ChatRequest):
        return result  # a task has no max_tokens to clamp
    first = usable[0]
    model = (
        first.known
        if first.looked_up
        else catalogue.for_target(first.provider, first.model)
        if first.provider is not None
        else None
    )
    max_tokens = request.sampling.max_tokens
    if (
        model is not None
        and model.max_output is not None
        and max_tokens is not UNSET
        and max_tokens > model.max_output
    ):
        sampling = msgspec.structs.replace(request.sampling, max_tokens=model.max_output)
        result.request = msgspec.structs.replace(request, sampling=sampling)
        result.warnings.append(
            f"max_tokens {max_tokens} is above {first.model}'s max output of"
            f" {model.max_output} tokens; it was sent as {model.max_output}"
        )
    return result
