"""Who is calling and with what: proxy keys (hashed, looked up once per request),
authentication, the vendor key a call may use (credentials), request ids and the
`Idempotency-Key` that maps a client's retries onto one request id.

May import: schemas, proxy.storage, proxy.server.
"""
