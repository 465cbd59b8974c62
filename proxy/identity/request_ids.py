"""Request ids: unique across processes and restarts, and cheap (no syscall per request).

A random 64-bit prefix per process plus a counter; `uuid.uuid4()` costs a `getrandom`
call each time, which showed in profiles of the request path.

`Idempotency-Key`: a client's retry of the same request keeps one ledger row. The request
id of a call that carries the header is derived from the key id and the header's value, so
a retry (after a disconnect, a timeout, a lost answer) lands on the same row, and two proxy
keys that happen to pick the same value never share one. unigate does not store answers,
so a retry runs the model again; the row then holds the sum of every run's attempts,
tokens, time and cost, with the status of the last run (proxy/accounting/ledger.py
`_CLAIM`). A retry that arrives while an earlier run still holds the row is refused with
409 `idempotency_conflict` and `Retry-After: 1`: two runs at once would race for the one
final row.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from collections.abc import Mapping

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
