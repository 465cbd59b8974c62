"""Bytez feature-extraction outputs → embedding vectors. Pure."""

from __future__ import annotations

from typing import Any

from adapters.bytez_worker.errors import broken_reply


def to_vector(output: Any, provider: str) -> list[float]:
    """A feature-extraction output → one vector: `[d]`, `[[d]]`, or token vectors `[[t × d]]`
    / `[t × d]`, which are mean-pooled (what sentence-transformers does)."""
    value = output
    while isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    if isinstance(value, list) and value and all(isinstance(item, list) for item in value):
        rows = [row for row in value if row and all(isinstance(x, int | float) for x in row)]
        width = len(rows[0]) if rows else 0
        if not rows or any(len(row) != width for row in rows) or len(rows) != len(value):
            raise broken_reply(provider, "feature-extraction output that is not a vector")
        return [sum(row[i] for row in rows) / len(rows) for i in range(width)]
    if isinstance(value, list) and value and all(isinstance(x, int | float) for x in value):
        return [float(x) for x in value]
    raise broken_reply(provider, "feature-extraction output that is not a vector")
