"""Which vendor key a call uses: the caller's, else the operator's, never a guess.

The bare `Provider-Key` header belongs to the vendor of the route's *first* target, by its
place in the route as configured. Nothing that happens during dispatch moves it: a first
target skipped because its breaker is open, a `context_fallback` that restarts the
attempts, or the request's own `fallbacks` never make another vendor the owner of that key.
Any other vendor gets its own `Provider-Key-<Vendor>` header or the operator's key, else it
is skipped. A caller's OpenAI key must never reach Anthropic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from schemas.config import Config
from schemas.errors import Code, GatewayError


def provider_keys(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """`Provider-Key` under "" and each `Provider-Key-<Vendor>` under the vendor's name."""
    keys: dict[str, str] = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered == "provider-key":
            keys[""] = value
        elif lowered.startswith("provider-key-"):
            keys[lowered.removeprefix("provider-key-")] = value
    return keys


def provider_key(config: Config, provider: str, provider_keys: Mapping[str, str], owner: str | None) -> str:
    """The key for a call to `provider`: its own `Provider-Key-<Vendor>` header, the bare
    `Provider-Key` only when `provider` is `owner`, the vendor of the route's first target as
    configured (None when that is a worker pool), else the operator key."""
    key = provider_keys.get(provider) or (provider_keys.get("") if provider == owner else None)
    if not key:
        operator = config.providers.get(provider)
        key = operator.api_key if operator is not None else None
    if not key:
        header = "Provider-Key" if provider == owner else f"Provider-Key-{provider.capitalize()}"
        raise GatewayError(
            Code.PROVIDER_KEY_REQUIRED,
            f"{provider} needs your vendor key in the {header} header",
            provider=provider,
        )
    return key


def first_target_access(
    config: Config, provider: str, provider_keys: Mapping[str, str], owner: str | None
) -> tuple[str, str | None]:
    """(the key, the base URL) of a single call to a route's first target, outside dispatch's
    attempt loop: embeddings and token counts. `owner` is the resolution's `key_owner`."""
    settings = config.providers.get(provider)
    key = provider_key(config, provider, provider_keys, owner)
    return key, settings.base_url if settings else None
