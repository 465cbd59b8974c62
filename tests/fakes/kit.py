"""What the conformance suite needs to know about one vendor: its fake, its adapter, and
what its fixtures say, so the same scenarios run against every vendor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from adapters.base import Adapter
from schemas.errors import Code
from tests.fakes.server import FakeVendor, Reply


@dataclass
class VendorKit:
    name: str
    """The provider name the adapter reports (`adapter.name`)."""
    make_fake: Callable[[], FakeVendor]
    make_adapter: Callable[[], Adapter]
    base_url: Callable[[str], str]
    """From the fake's `http://127.0.0.1:<port>` to the base URL the adapter is given."""
    model: str
    text: str
    """The assistant text of the default non-streamed and streamed chat fixtures."""
    tool_name: str
    tool_arguments: dict[str, Any]
    usage: tuple[int, int]
    """(input_tokens, output_tokens) of the default chat fixture."""
    errors: dict[Code, Reply]
    """A vendor reply for each error kind it can produce."""
    multi_tool_replies: tuple[Reply, Reply] | None = None
    """(non-stream, stream) replies carrying two tool calls in one turn."""
    multi_tool_names: tuple[str, str] = ("get_weather", "get_time")
    image_check: Callable[[Any], None] | None = None
    """Asserts the recorded upstream body carries the request's image URL and base64 image."""
    json_check: Callable[[Any], None] | None = None
    """Asserts the recorded upstream body asks for JSON matching the request's schema."""
    key_check: Callable[[dict[str, str], str], None] | None = None
    """Asserts the recorded upstream headers carry the given key the vendor's way."""
    mid_stream_error: Reply | None = None
    """A 200 stream that reports an error after some text."""
    extra: dict[str, Any] = field(default_factory=dict)
