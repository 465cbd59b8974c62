"""Loading the shipped model catalogue, once, and refusing bad figures at start.

The file is package data (`catalogue_data/models.toml`), read with every float parsed as a
Decimal so that a price is exactly the digits the file holds. A negative or missing price,
a tier out of order, a model without a source: the gateway does not start, and the
message names the file, the model and the field. `[prices]` overrides in config.toml are
checked by the same rules (proxy/settings.py calls `price_problem`).
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path

import msgspec

from proxy.routing.routes import PROVIDER_PREFIX
from schemas.catalogue import CatalogueFile, CatalogueModel
from schemas.config import ModelPrice

SHIPPED = "catalogue_data/models.toml"
_PRICE_FIELDS = (
    "input",
    "output",
    "cached_input",
    "cache_write",
    "per_image",
    "per_audio_second",
    "per_million_characters",
    "audio_input",
)
_NEEDED: dict[str, tuple[tuple[str, ...], ...]] = {
    # each inner tuple: at least one of these fields must be priced
    "chat": (("input",), ("output",)),
    "feature-extraction": (("input",),),
    "text-to-image": (("per_image", "per_image_by", "output"),),
    "text-to-speech": (("per_audio_second", "per_million_characters", "output", "input"),),
    "automatic-speech-recognition": (("per_audio_second", "input"),),
}


class CatalogueError(Exception):
    """The catalogue (or a price override) cannot be used; the message says where and why."""


def price_problem(price: ModelPrice, task: str) -> str | None:
    """Why this price cannot bill a `task` model, naming the field; None if it can."""
    for name in _PRICE_FIELDS:
        value = getattr(price, name)
        if value is not None and (not Decimal(value).is_finite() or value < 0):
            return f"field {name}: {value} is not a price (a price is 0 or more)"
    for key, value in price.per_image_by.items():
        if not Decimal(value).is_finite() or value < 0:
            return f"field per_image_by.{key}: {value} is not a price (a price is 0 or more)"
    for fields in _NEEDED.get(task, ()):
        if all(getattr(price, name) in (None, {}) for name in fields):
            return f"field {' or '.join(fields)}: missing (a {task} model needs it)"
    floor = 0
    for position, tier in enumerate(price.tiers):
        where = f"field tiers[{position}]"
        if tier.above <= floor:
            return f"{where}.above: {tier.above} must be above {floor} (tiers ascend)"
        floor = tier.above
        for name in ("input", "output", "cached_input", "cache_write"):
            value = getattr(tier, name)
            if value is not None and (not Decimal(value).is_finite() or value < 0):
                return f"{where}.{name}: {value} is not a price (a price is 0 or more)"
    return None


def _model_problem(model: CatalogueModel) -> str | None:
    if not model.source.startswith("https://"):
        return f"field source: {model.source!r} is not an https:// address"
    for name in ("context_window", "max_output"):
        value = getattr(model, name)
        if value is not None and value <= 0:
            return f"field {name}: {value} must be positive"
    if model.price is not None:
        return price_problem(model.price, model.task)
    return None


class Catalogue:
    """The models the gateway knows: by id, by alias, and by (vendor, upstream name)."""

    def __init__(self, data: CatalogueFile, origin: str) -> None:
        self.version = data.version
        self.origin = origin
        self.models = data.models
        self._ids = dict(data.models)
        for model in data.models.values():
            for alias in model.aliases:
                self._ids.setdefault(alias, model)
        self._canonical = {
            alias: model_id for model_id, model in data.models.items() for alias in model.aliases
        }

    def get(self, model_id: str) -> CatalogueModel | None:
        return self._ids.get(model_id)

    def canonical(self, model_id: str) -> str:
        """The entry's own id for an alias (a dated snapshot); the id itself otherwise."""
        return self._canonical.get(model_id, model_id)

    def for_target(self, provider: str, upstream: str) -> CatalogueModel | None:
        """The model a vendor call actually runs, whatever id the client sent."""
        prefix = PROVIDER_PREFIX.get(provider)
        return self.get(prefix + upstream) if prefix is not None else None


def parse(text: str, origin: str) -> Catalogue:
    try:
        raw = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as error:
        raise CatalogueError(f"{origin}: {error}") from None
    models = raw.pop("models", None)
    if not isinstance(models, dict):
        raise CatalogueError(f"{origin}: no [models] table")
    try:
        header = msgspec.convert({**raw, "models": {}}, CatalogueFile)
    except msgspec.ValidationError as error:
        raise CatalogueError(f"{origin}: {error}") from None
    entries: dict[str, CatalogueModel] = {}
    for model_id, body in models.items():
        # one model at a time, so that the message names it (msgspec elides dict keys)
        try:
            model = msgspec.convert(body, CatalogueModel)
        except msgspec.ValidationError as error:
            raise CatalogueError(f"{origin}: model {model_id!r}: {error}") from None
        problem = _model_problem(model)
        if problem is not None:
            raise CatalogueError(f"{origin}: model {model_id!r}: {problem}")
        entries[model_id] = model
    return Catalogue(CatalogueFile(version=header.version, models=entries), origin)


def load(path: str | Path | None = None) -> Catalogue:
    """The catalogue at `path`, or the one shipped in the package (read once per process)."""
    if path is None:
        return _shipped()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogueError(f"catalogue file {file}: {error.strerror or error}") from None
    return parse(text, str(file))


@cache
def _shipped() -> Catalogue:
    resource = resources.files("proxy.routing").joinpath(SHIPPED)
    return parse(resource.read_text(encoding="utf-8"), str(resource))
