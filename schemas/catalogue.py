"""The shipped model catalogue's file format (proxy/routing/catalogue_data/models.toml).

One entry per model id as clients send it (`anthropic/claude-sonnet-4-5`). Every entry
names the vendor page its facts were read from and the day they were read, so a stale
figure can be found (`unigate catalogue check`). A figure that could not be confirmed on
the vendor's own page is left out, never guessed: a model without `price` is listed and
routed, and answers `cost: null`.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from msgspec import Struct

from schemas.config import ModelPrice

Capability = Literal["tools", "vision", "audio", "video", "reasoning", "json_schema", "prompt_caching", "pdf"]
CatalogueTask = Literal[
    "chat", "feature-extraction", "text-to-image", "text-to-speech", "automatic-speech-recognition"
]
"""The Bytez (Hugging Face) task names, as `list/models` answers them."""


class CatalogueModel(Struct, frozen=True, forbid_unknown_fields=True):
    task: CatalogueTask
    source: str
    """The vendor page the figures below were read from."""
    read: date
    """The day they were read."""
    aliases: tuple[str, ...] = ()
    """Other ids of the same model at the same price: dated snapshots, `-latest` names."""
    context_window: int | None = None
    max_output: int | None = None
    capabilities: frozenset[Capability] | None = None
    """What the model takes beyond text, where the vendor's page lists it all; None: not
    confirmed, and then nothing is refused on its account (proxy/routing/capabilities.py)."""
    deprecated: date | None = None
    """The day the vendor retires (or retired) the model, where it announced one."""
    price: ModelPrice | None = None
    note: str | None = None
    """How a figure was read or cross-checked, where the source alone does not say."""


class CatalogueFile(Struct, frozen=True, forbid_unknown_fields=True):
    version: int
    """Bumped on every change to the figures; shown by `unigate catalogue check`."""
    models: dict[str, CatalogueModel]
