"""A call's account: its start row (with the idempotency claim and the budget reservation
that may refuse it), what it cost, and its final row. Dispatch calls these at the start and
at the end of every call; the rules themselves live in proxy/accounting/ledger.py and
proxy/accounting/budgets.py."""

from __future__ import annotations

from proxy.accounting import budgets
from proxy.accounting.ledger import Ledger, UsageRow
from proxy.accounting.metering import Meter, pool_meter
from proxy.dispatch.call import CallContext, Lease, started_row
from proxy.routing.routes import Resolution
from schemas.chat import ChatRequest, Usage
from schemas.config import Config
from schemas.embeddings import EmbeddingRequest
from schemas.events import Billing
from schemas.tasks import MediaUsage, RunRequest

EMBEDDING_TASK = "feature-extraction"


class Accounts:
    def __init__(self, config: Config, ledger: Ledger, meter: Meter) -> None:
        self._config = config
        self._ledger = ledger
        self._meter = meter
        self._pool_meters = {pool.name: pool_meter(pool) for pool in config.pools}
        self._embedding_meters = {
            f"pool:{pool.name}": pool_meter(pool, EMBEDDING_TASK) for pool in config.pools
        }

    async def begin(
        self,
        request: ChatRequest | RunRequest | EmbeddingRequest,
        context: CallContext,
        resolution: Resolution,
    ) -> None:
        """Commit the start row; an idempotent retry takes its earlier row back, a budgeted
        key's call holds its estimated cost. Either may refuse the call before any vendor is.
        An embedding's cost is too small and too well known to need an estimate held for it:
        a budgeted key holds nothing, and is refused only once its budget is spent."""
        reserve = None
        if isinstance(request, EmbeddingRequest):
            reserve = 0.0 if context.budgeted else None
        elif context.budgeted:
            reserve = budgets.estimate(
                request, resolution, self._meter, self._config.budgets, self._pool_meters
            )
        row = started_row(context, resolution.targets[0].name)
        admission = await self._ledger.begin(row, claim=context.idempotent, reserve=reserve)
        admission.check()
        context.reserved = reserve is not None

    def record(self, context: CallContext, row: UsageRow) -> None:
        self._ledger.record(row, settle=context.reserved)

    def bill(
        self,
        context: CallContext,
        lease: Lease,
        model: str,
        usage: Usage,
        elapsed: float,
        measured: MediaUsage | None = None,
    ) -> Billing:
        """A pool: meter price x time. A vendor: its tokens, or what its media call measured
        (images, audio seconds, characters) where the vendor prices media so."""
        if lease.meter is not None:
            return self._meter.pool_billing(lease.meter, elapsed)
        return self._meter.vendor_billing(context.model_id, lease.provider, model, usage, elapsed, measured)

    def bill_embedding(
        self, context: CallContext, lease: Lease, model: str, usage: Usage, elapsed: float
    ) -> Billing:
        """As `bill`, but a pool bills on its meter for the embedding task: a bare instance
        size on a chat pool is the instance's own price, not the language-model table's."""
        if lease.meter is not None:
            return self._meter.pool_billing(self._embedding_meters.get(lease.provider, lease.meter), elapsed)
        return self._meter.vendor_billing(context.model_id, lease.provider, model, usage, elapsed)
