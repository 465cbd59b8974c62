"""A call's account on its own (proxy/accounting/accounts.py) over a real SQLite ledger and
key store: the start row and what may refuse it, the bill, the final row that settles it."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.accounting.accounts import Accounts
from proxy.accounting.ledger import Ledger
from proxy.accounting.metering import Meter
from proxy.dispatch.call import CallContext, Lease, usage_row
from proxy.identity.keys import KeyStore
from proxy.routing.routes import Resolution, Router
from schemas.chat import Usage
from schemas.embeddings import EmbeddingRequest
from schemas.errors import Code, GatewayError
from tests.dispatch.scripted import ScriptedAdapter, chat, config

CONFIG = """
[meters]
SM = 0.0002

[prices."team/chat"]
input = 1.0
output = 2.0

[[routes]]
match = "team/chat"
provider = "openai"
model = "gpt-4o-mini"

[[pools]]
name = "gpu"
urls = ["http://127.0.0.1:9"]
models = ["meta/*"]
meter = "SM"
"""


class Book:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.config = config(CONFIG)
        self.keys = KeyStore(self.url)
        self.ledger = Ledger(self.url)
        self.ledger.start()
        self.accounts = Accounts(self.config, self.ledger, Meter(self.config.prices, self.config.meters))

    def resolve(self, model_id: str = "team/chat") -> Resolution:
        resolution = Router(self.config).resolve(model_id)
        assert resolution is not None
        return resolution

    def rows(self) -> list[tuple[str, str, float]]:
        with sqlite3.connect(self.path) as connection:
            return list(
                connection.execute("SELECT request_id, status, reserved FROM usage ORDER BY started_at")
            )

    def close(self) -> None:
        self.ledger.close()
        self.keys.close()


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Book]:
    book = Book(tmp_path / "unigate.db")
    yield book
    book.close()


def context(request_id: str, key_id: str | None = None, **flags: bool) -> CallContext:
    return CallContext(request_id, key_id, "team/chat", {}, time.time(), **flags)


async def test_the_start_row_is_committed_before_begin_returns(book: Book) -> None:
    await book.accounts.begin(chat(), context("r1"), book.resolve())
    assert book.rows() == [("r1", "started", 0.0)]


async def test_an_idempotent_retry_while_the_first_run_holds_the_row_is_a_conflict(book: Book) -> None:
    first = context("idem-1", "key-1", idempotent=True)
    await book.accounts.begin(chat(), first, book.resolve())
    with pytest.raises(GatewayError) as caught:
        await book.accounts.begin(chat(), context("idem-1", "key-1", idempotent=True), book.resolve())
    assert caught.value.code is Code.IDEMPOTENCY_CONFLICT
    book.accounts.record(first, usage_row(first, "openai", "completed", 1, Usage(3, 2), 0.1, None))
    await book.accounts.begin(
        chat(), context("idem-1", "key-1", idempotent=True), book.resolve()
    )  # taken back
    book.ledger.close()
    assert book.rows() == [("idem-1", "started", 0.0)]  # still the one row


async def test_a_budgeted_key_holds_the_estimate_and_the_final_row_releases_it(book: Book) -> None:
    record, _ = book.keys.create("budgeted", budget=1.0)
    budgeted = context("r1", record.id, budgeted=True)
    await book.accounts.begin(chat(), budgeted, book.resolve())
    [(_, status, held)] = book.rows()
    assert status == "started" and held > 0
    assert budgeted.reserved
    book.accounts.record(budgeted, usage_row(budgeted, "openai", "completed", 1, Usage(3, 2), 0.1, None))
    book.ledger.close()
    assert book.rows() == [("r1", "completed", 0.0)]


async def test_a_budgeted_key_and_an_unpriced_model_is_refused_before_any_row(book: Book) -> None:
    record, _ = book.keys.create("budgeted", budget=1.0)
    with pytest.raises(GatewayError) as caught:
        await book.accounts.begin(
            chat(), context("r1", record.id, budgeted=True), book.resolve("openai/gpt-4o")
        )
    assert caught.value.code is Code.PERMISSION
    assert book.rows() == []


async def test_an_embedding_holds_nothing_of_a_budget(book: Book) -> None:
    record, _ = book.keys.create("budgeted", budget=1.0)
    budgeted = context("r1", record.id, budgeted=True)
    await book.accounts.begin(EmbeddingRequest(model="m", input="x"), budgeted, book.resolve("openai/gpt-4o"))
    assert book.rows() == [("r1", "started", 0.0)]


def lease(provider: str, meter: str | None) -> Lease:
    return Lease(ScriptedAdapter(provider), provider, "http://a", meter=meter)  # type: ignore[arg-type]


def test_bills_read_the_pools_meter_for_the_task_and_the_vendors_price(book: Book) -> None:
    call = context("r1")
    chat_bill = book.accounts.bill(call, lease("pool:gpu", "LLM-SM"), "meta/llama", Usage(), 2.0)
    embedding_bill = book.accounts.bill_embedding(call, lease("pool:gpu", "LLM-SM"), "meta/bge", Usage(), 2.0)
    vendor_bill = book.accounts.bill(call, lease("openai", None), "gpt-4o-mini", Usage(3, 2), 2.0)
    assert (chat_bill.meter, embedding_bill.meter) == ("LLM-SM", "SM")
    assert embedding_bill.cost == pytest.approx(0.0002 * 2.0)
    assert (vendor_bill.meter, vendor_bill.cost) == ("tokens", pytest.approx(7 / 1e6))
