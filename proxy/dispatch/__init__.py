"""Calling upstream: the one attempt loop (retries, fallback, breakers, timeouts,
cancellation), the relay of a started stream, media inlining through the SSRF-safe
fetcher, the adapters' registry, and what one call carries in and hands back.

May import: adapters, schemas, proxy.identity, proxy.routing, proxy.accounting, proxy.pools.
Surfaces call in; nothing here imports a surface.
"""
