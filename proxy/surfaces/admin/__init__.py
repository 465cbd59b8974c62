"""The admin API (keys, budgets, usage) behind the admin token, and a key's own usage.

May import: proxy.identity, proxy.accounting, proxy.storage, proxy.server.
"""
