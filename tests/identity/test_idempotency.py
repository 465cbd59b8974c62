"""`Idempotency-Key` → request id on its own (proxy/identity/request.py); what a retry
with the same id does to the ledger is in tests/accounting/test_accounts.py and, over HTTP,
tests/reliability/test_idempotency.py."""

from __future__ import annotations

import pytest

from proxy.identity.request import MAX_LENGTH, conflict, request_id
from schemas.errors import Code, GatewayError


def test_the_same_key_and_value_give_the_same_id_and_another_key_another() -> None:
    first, idempotent = request_id("key-1", {"idempotency-key": "order-42"})
    again, _ = request_id("key-1", {"idempotency-key": "order-42"})
    other, _ = request_id("key-2", {"idempotency-key": "order-42"})
    assert idempotent
    assert first == again != other
    assert "order-42" not in first  # the client's value is not echoed into logs and rows


def test_without_the_header_every_request_gets_a_fresh_id() -> None:
    ids = {request_id("key-1", {}) for _ in range(50)}
    assert len(ids) == 50
    assert all(not idempotent for _, idempotent in ids)


@pytest.mark.parametrize("value", ["", "x" * (MAX_LENGTH + 1), "caf\u00e9", "line\nbreak"])
def test_a_value_that_cannot_be_a_key_is_the_clients_mistake(value: str) -> None:
    with pytest.raises(GatewayError) as caught:
        request_id("key-1", {"idempotency-key": value})
    assert (caught.value.code, caught.value.status) == (Code.INVALID_REQUEST, 400)


def test_the_longest_value_is_taken() -> None:
    _, idempotent = request_id("key-1", {"idempotency-key": "x" * MAX_LENGTH})
    assert idempotent


def test_a_conflict_tells_the_client_when_to_retry() -> None:
    error = conflict()
    assert (error.code, error.status, error.retry_after) == (Code.IDEMPOTENCY_CONFLICT, 409, 1)
