"""Which vendor key a call uses: the caller's, else the operator's, never a guess."""

from __future__ import annotations

from collections.abc import Mapping

from schemas.config import Config
from schemas.errors import Code, GatewayError


def provider_key(config: Config, provider: str, provider_keys: Mapping[str, str], first: bool) -> str:
    """`Provider-Key` serves the route's first target; a fallback to another vendor uses that
    vendor's `Provider-Key-<Vendor>` header, else the operator key configured for it."""
    key = provider_keys.get(provider) or (provider_keys.get("") if first else None)
    if not key:
        operator = config.providers.get(provider)
        key = operator.api_key if operator is not None else None
    if not key:
        raise GatewayError(
            Code.PROVIDER_KEY_REQUIRED,
            f"{provider} needs your vendor key in the Provider-Key header",
            provider=provider,
        )
    return key


def first_target_access(
    config: Config, provider: str, provider_keys: Mapping[str, str]
) -> tuple[str, str | None]:
    """(the key, the base URL) of a single call to a route's first target, outside dispatch's
    attempt loop: embeddings and token counts."""
    settings = config.providers.get(provider)
    return provider_key(config, provider, provider_keys, first=True), settings.base_url if settings else None
