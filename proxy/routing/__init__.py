"""Where a model id goes: the explicit route registry (model id -> ordered targets) and
the catalogue built from it (`list/models`, `/v1/models`), and `unigate catalogue check`
(`catalogue_check.py`: what is priced, unpriced, stale).

May import: schemas, proxy.accounting.metering (for catalogue prices).
"""
