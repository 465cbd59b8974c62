"""Request ids: unique across processes and restarts, and cheap (no syscall per request).

A random 64-bit prefix per process plus a counter; `uuid.uuid4()` costs a `getrandom`
call each time, which showed in profiles of the request path.
"""

from __future__ import annotations

import itertools
import secrets

_PREFIX = secrets.token_hex(8)
_COUNTER = itertools.count(1)


def new_request_id() -> str:
    return f"{_PREFIX}{next(_COUNTER):012x}"
