"""How a known secret is removed from text: whole, and cut.

Shared by the adapters' error classifiers (a vendor's error page may echo the key it was
sent) and the log redaction (proxy/server/redaction.py). A secret is also found when only
its start is there: a vendor's reply cut at N characters, or a log line cut by its sink,
may end inside the key, and a 12-character prefix of a key is most of what an attacker
needs to guess the rest of a short one and all of what proves it leaked.
"""

from __future__ import annotations

REDACTED = "[redacted]"
MIN_PREFIX = 8
"""The shortest start of a secret that is removed; shorter ones are too common in text
(`sk-proj-` is 8) to remove without eating ordinary words."""


def without_secret(text: str, secret: str) -> str:
    """`text` with every occurrence of `secret`, and every run of at least `MIN_PREFIX`
    characters that `secret` starts with, replaced by `REDACTED`."""
    if not secret:
        return text
    text = text.replace(secret, REDACTED)
    if len(secret) <= MIN_PREFIX:
        return text
    head = secret[:MIN_PREFIX]
    pieces: list[str] = []
    start = 0
    while (found := text.find(head, start)) != -1:
        end = found + MIN_PREFIX
        while end < len(text) and end - found < len(secret) and text[end] == secret[end - found]:
            end += 1
        pieces += [text[start:found], REDACTED]
        start = end
    pieces.append(text[start:])
    return "".join(pieces)
