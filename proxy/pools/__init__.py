"""Worker pools: which member runs the next attempt (least outstanding, under its cap),
its health checks and warming state.

May import: adapters, schemas, proxy.accounting.metering, proxy.routing.
"""
