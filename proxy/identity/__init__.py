"""Who is calling and with what: proxy keys (hashed, looked up once per request),
authentication and what a key is allowed (`keys.py`); what else a request carries
(`request.py`): its request id, the `Idempotency-Key` that maps a client's retries onto one
request id, and the vendor key a call may use.

May import: schemas, proxy.storage, proxy.server.
"""
