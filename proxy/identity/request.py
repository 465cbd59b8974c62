"""What a request carries besides its proxy key: its request id, and the vendor keys its
calls may use.

Request ids are unique across processes and restarts, and cheap (no syscall per request):
a random 64-bit prefix per process plus a counter; `uuid.uuid4()` costs a `getrandom` call
each time, which showed in profiles of the request path.

`Idempotency-Key`: a client's retry of the same request keeps one ledger row. The request
id of a call that carries the header is derived from the key id and the header's value, so
a retry (after a disconnect, a timeout, a lost answer) lands on the same row, and two proxy
keys that happen to pick the same value never share one. unigate does not store answers,
so a retry runs the model again; the row then holds the sum of every run's attempts,
tokens, time and cost, with the status of the last run (proxy/accounting/ledger.py
`_CLAIM`). A retry that arrives while an earlier run still holds the row is refused with
409 `idempotency_conflict` and `Retry-After: 1`: two runs at once would race for the one
final row.

The vendor key a call uses is the caller's, else the operator's, never a guess.

The bare `Provider-Key` header belongs to the vendor of the route's *first* target, by its
place in the route as configured. Nothing that happens during dispatch moves it: a first
target skipped because its breaker is open, a `context_fallback` that restarts the
attempts, or the request's own `fallbacks` never make another vendor the owner of that key.
Any other vendor gets its own `Provider-Key-<Vendor>` header or the operator's key, else it
is skipped. A caller's OpenAI key must never reach Anthropic.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from collections.abc import Iterable, Mapping

from schemas.config import Config
from schemas.errors import Code, GatewayError

_PREFIX = secrets.token_hex(8)
_COUNTER = itertools.count(1)


def new_request_id() -> str:
    return f"{_PREFIX}{next(_COUNTER):012x}"


IDEMPOTENCY_HEADER = "idempotency-key"
MAX_LENGTH = 255
_IDEMPOTENT = "idem-"


def request_id(key_id: str, headers: Mapping[str, str]) -> tuple[str, bool]:
    """(the request id, whether it came from an Idempotency-Key)."""
    value = headers.get(IDEMPOTENCY_HEADER)
    if value is None:
        return new_request_id(), False
    if not 0 < len(value) <= MAX_LENGTH or not value.isascii() or not value.isprintable():
        raise GatewayError(
            Code.INVALID_REQUEST, f"Idempotency-Key must be 1 to {MAX_LENGTH} printable ASCII characters"
        )
    digest = hashlib.sha256(f"{key_id}\n{value}".encode()).hexdigest()[:32]
    return _IDEMPOTENT + digest, True


def conflict() -> GatewayError:
    return GatewayError(
        Code.IDEMPOTENCY_CONFLICT,
        "a request with this Idempotency-Key is still running; retry once it has ended",
        retry_after=1,
    )


# -- vendor keys ---------------------------------------------------------------------------


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
