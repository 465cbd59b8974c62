"""The HTTP edge: the uvicorn protocol with its receipt deadline, the guards every request
passes before any handler (headers, body size, JSON depth and duplicate keys), the redaction
of secrets from every log sink, and the OpenAPI descriptions of msgspec-decoded bodies.

May import: schemas, proxy.settings. Nothing here knows a surface, a key or a vendor.
"""
