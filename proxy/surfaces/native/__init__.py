"""The native (Bytez-compatible) surface: `POST /models/v2/{model_id}` and its catalogue.
decode.py turns a native body into a ChatRequest, tasks.py into a RunRequest, encode.py
writes the unified SSE (or raw text), errors.py the error envelope; handlers.py wires them.

May import: everything below the surfaces (dispatch, routing, accounting, identity, server).
"""
