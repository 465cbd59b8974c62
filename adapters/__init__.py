"""Vendor adapters: one per vendor, plus the OpenAI-compatible one for worker pools."""
