"""The JSON a Bytez model container answers, as msgspec Structs (what response.py reads)."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct


class WireGenerated(Struct):
    generated_text: str | list[dict[str, Any]] = ""


class WireDefaultReply(Struct):
    output: list[WireGenerated] | None = None
    error: str | None = None


decode_default_reply = msgspec.json.Decoder(WireDefaultReply).decode


class WireRunReply(Struct):
    output: msgspec.Raw = msgspec.Raw(b"null")
    error: str | None = None


decode_run_reply = msgspec.json.Decoder(WireRunReply).decode
