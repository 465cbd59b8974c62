"""What a call cost and where that is written: metering (token prices, meter x time),
the usage ledger (one row per request, across crashes), spend budgets and a call's
account (its start row, reservation and final row).

May import: schemas, proxy.storage, proxy.identity, proxy.routing.
"""
