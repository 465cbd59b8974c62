"""Loading config.toml: `${ENV}` interpolation, then `UNIGATE_*` overrides, then frozen Structs."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from proxy.routing import catalogue_file
from schemas.config import VENDORS, Config, ModelPrice, Pool, ProviderConfig

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """The config cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Settings:
    config: Config
    path: Path | None
    """The config file read, or None for the built-in defaults."""
    database_url: str


def interpolate(value: Any, environ: Mapping[str, str]) -> Any:
    """Replace `${NAME}` and `${NAME:-default}` in every string of a decoded TOML tree."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            raise ConfigError(f"config refers to ${{{name}}}, which is not set in the environment")

        return _REFERENCE.sub(substitute, value)
    if isinstance(value, dict):
        return {key: interpolate(item, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, environ) for item in value]
    return value


def _apply_overrides(config: Config, environ: Mapping[str, str]) -> Config:
    providers = dict(config.providers)
    for vendor in VENDORS:
        base_url = environ.get(f"UNIGATE_{vendor.upper()}_BASE_URL")
        if base_url:
            current = providers.get(vendor, ProviderConfig())
            providers[vendor] = msgspec.structs.replace(current, base_url=base_url)
    pools: list[Pool] = []
    for pool in config.pools:
        variable = "UNIGATE_POOL_" + re.sub(r"[^A-Za-z0-9]", "_", pool.name).upper() + "_URLS"
        urls = environ.get(variable)
        if urls:
            pool = msgspec.structs.replace(
                pool, urls=tuple(url.strip() for url in urls.split(",") if url.strip())
            )
        pools.append(pool)
    limits = config.limits
    redis_url = environ.get("UNIGATE_REDIS_URL")
    if redis_url:
        limits = msgspec.structs.replace(limits, redis_url=redis_url)
    tracing = config.tracing
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if endpoint and not tracing.otlp_endpoint:
        tracing = msgspec.structs.replace(tracing, otlp_endpoint=endpoint)
    log_format = environ.get("UNIGATE_LOG_FORMAT")
    logging_config = config.logging
    if log_format in ("json", "text") and logging_config.format == "auto":
        logging_config = msgspec.structs.replace(logging_config, format=log_format)
    return msgspec.structs.replace(
        config,
        providers=providers,
        pools=tuple(pools),
        limits=limits,
        tracing=tracing,
        logging=logging_config,
    )


def _check_prices(config: Config, origin: str) -> None:
    """Each `[prices]` override must bill its model: checked by the catalogue's own rules,
    for the task the catalogue gives the model (chat when it does not know it)."""
    catalogue = catalogue_file.load(config.catalogue.file)
    for model_id, price in config.prices.items():
        known = catalogue.get(model_id)
        problem = catalogue_file.price_problem(price, known.task if known is not None else "chat")
        if problem is not None:
            raise ConfigError(f"{origin}: [prices.{model_id!r}] {problem}")


def _check(config: Config) -> None:
    pool_names = {pool.name for pool in config.pools}
    for route in config.routes:
        targets = [(route.provider, route.pool), *((t.provider, t.pool) for t in route.fallbacks)]
        for provider, pool in targets:
            if (provider is None) == (pool is None):
                raise ConfigError(f"route {route.match!r}: name exactly one of provider or pool per target")
            if provider is not None and provider not in VENDORS:
                raise ConfigError(f"route {route.match!r}: unknown provider {provider!r}")
            if pool is not None and pool not in pool_names:
                raise ConfigError(f"route {route.match!r}: unknown pool {pool!r}")
    if config.default_pool is not None and config.default_pool not in pool_names:
        raise ConfigError(f"default_pool {config.default_pool!r} is not a declared pool")
    limits_problem = config.limits.problem()
    if limits_problem is not None:
        raise ConfigError(limits_problem)
    _check_observability(config)
    for name in config.providers:
        if name not in VENDORS:
            raise ConfigError(f"[providers.{name}]: unknown provider; known: {', '.join(VENDORS)}")


_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})


def _check_observability(config: Config) -> None:
    port = config.metrics.port
    if port is not None and not 0 < port < 65536:
        raise ConfigError("[metrics] port must be between 1 and 65535")
    if port is not None and port == config.server.port:
        raise ConfigError("[metrics] port must differ from [server] port (leave it unset to share it)")
    if not 0.0 <= config.tracing.sample_ratio <= 1.0:
        raise ConfigError("[tracing] sample_ratio must be between 0 and 1")
    for name, level in {"level": config.logging.level, **config.logging.levels}.items():
        if level.upper() not in _LEVELS:
            raise ConfigError(
                f"[logging] {name}: unknown level {level!r}; known: {', '.join(sorted(_LEVELS))}"
            )


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the config named by `path`, else `UNIGATE_CONFIG`, else `./config.toml`, else defaults."""
    environ = os.environ if environ is None else environ
    chosen = path or environ.get("UNIGATE_CONFIG")
    config_path: Path | None
    if chosen:
        config_path = Path(chosen)
        if not config_path.is_file():
            raise ConfigError(f"config file {config_path} does not exist")
    else:
        config_path = Path("config.toml") if Path("config.toml").is_file() else None
    data: dict[str, Any] = {}
    if config_path is not None:
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{config_path}: {error}") from None
    prices = data.get("prices")
    if isinstance(prices, dict):
        for model_id, price in prices.items():
            # one price at a time, so that the message names the model (msgspec elides dict keys)
            try:
                msgspec.convert(price, ModelPrice, strict=False)
            except msgspec.ValidationError as error:
                raise ConfigError(f"{config_path}: [prices.{model_id!r}] {error}") from None
    try:
        config = msgspec.convert(interpolate(data, environ), Config, strict=False)
    except msgspec.ValidationError as error:
        raise ConfigError(f"{config_path or 'config'}: {error}") from None
    config = _apply_overrides(config, environ)
    _check(config)
    try:
        _check_prices(config, str(config_path or "config"))
    except (catalogue_file.CatalogueError, OSError) as error:
        raise ConfigError(str(error)) from None
    database_url = environ.get("UNIGATE_DATABASE_URL") or config.database.url
    if not database_url:
        directory = config_path.resolve().parent if config_path is not None else Path.cwd()
        database_url = f"sqlite:///{directory / 'unigate.db'}"
    if not database_url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        scheme = database_url.partition(":")[0]
        raise ConfigError(
            f"database scheme {scheme!r} is not supported; use sqlite:///<path> or postgresql://…"
        )
    return Settings(config=config, path=config_path, database_url=database_url)
