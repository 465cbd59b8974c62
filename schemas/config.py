"""config.toml, decoded once into frozen Structs (see proxy/settings.py for loading)."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import Struct

VENDORS = ("openai", "anthropic", "gemini", "cohere", "mistral")


class ServerConfig(Struct, frozen=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    max_body_bytes: int = 10 * 1024 * 1024
    ping_interval: float = 15.0


class DatabaseConfig(Struct, frozen=True, forbid_unknown_fields=True):
    url: str | None = None
    """`sqlite:///<path>`; unset means an SQLite file beside the config."""


class ProviderConfig(Struct, frozen=True, forbid_unknown_fields=True):
    base_url: str | None = None
    api_key: str | None = None
    """An operator key used only when a request brings no Provider-Key of its own."""
    connect_timeout: float = 5.0
    timeout: float = 600.0


class Target(Struct, frozen=True, forbid_unknown_fields=True):
    provider: str | None = None
    pool: str | None = None
    model: str | None = None


class Route(Struct, frozen=True, forbid_unknown_fields=True):
    match: str
    provider: str | None = None
    pool: str | None = None
    model: str | None = None
    task: str = "chat"
    fallbacks: tuple[Target, ...] = ()


class Pool(Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    urls: tuple[str, ...]
    protocol: Literal["openai", "bytez"] = "openai"
    models: tuple[str, ...] = ()
    meter: str = "SM"
    concurrency: int = 8
    model: str | None = None
    task: str = "chat"


class ModelPrice(Struct, frozen=True, forbid_unknown_fields=True):
    """USD per million tokens."""

    input: float
    output: float
    cached_input: float | None = None


class Config(Struct, frozen=True, forbid_unknown_fields=True):
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    database: DatabaseConfig = msgspec.field(default_factory=DatabaseConfig)
    providers: dict[str, ProviderConfig] = msgspec.field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    pools: tuple[Pool, ...] = ()
    default_pool: str | None = None
    prices: dict[str, ModelPrice] = msgspec.field(default_factory=dict)
    meters: dict[str, float] = msgspec.field(default_factory=dict)
    """Meter name → USD per second of inference, for worker pools."""
