"""One scenario matrix for every adapter, against its fake vendor over real sockets.

Each vendor contributes a `KIT` in tests/fakes/<vendor>.py; a registered vendor without one
fails. An adapter opts out of a scenario only through its declared `Capabilities`.
"""

from __future__ import annotations

import dataclasses
import importlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec
import pytest

from adapters.base import Adapter, UpstreamCall
from proxy.dispatch.adapter_registry import FACTORIES
from schemas.chat import (
    ChatRequest,
    FunctionDefinition,
    ImagePart,
    JsonSchema,
    JsonSchemaFormat,
    Sampling,
    TextPart,
    Tool,
    UserMessage,
)
from schemas.errors import Code, UpstreamError
from schemas.events import Finish, Start, StreamEvent, TextDelta, ToolCallDelta, ToolCallStart, UsageEvent
from tests.fakes.kit import VendorKit
from tests.fakes.server import FakeVendor, ServerThread

VENDORS = sorted(FACTORIES)
"""Every vendor the gateway can dispatch to (proxy/dispatch/adapter_registry.py)."""
KEY = "sk-conformance-0123456789abcdef"
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def _kit(name: str) -> VendorKit:
    """A registered vendor without a kit fails the matrix: an adapter nobody ran through
    these scenarios is not done, so there is no skipping it."""
    try:
        module = importlib.import_module(f"tests.fakes.{name}")
    except ModuleNotFoundError:
        pytest.fail(f"{name} is registered but has no fake: add tests/fakes/{name}.py with a KIT")
    kit = getattr(module, "KIT", None)
    if not isinstance(kit, VendorKit):
        pytest.fail(f"tests/fakes/{name}.py defines no KIT (a VendorKit) for the conformance matrix")
    return kit


@pytest.fixture(scope="module", params=VENDORS)
def served(request: pytest.FixtureRequest) -> Iterator[tuple[VendorKit, FakeVendor, str]]:
    kit = _kit(request.param)
    fake = kit.make_fake()
    server = ServerThread(fake, lifespan="off").start()
    yield kit, fake, kit.base_url(server.url)
    server.stop()


@pytest.fixture
async def vendor(
    served: tuple[VendorKit, FakeVendor, str],
) -> AsyncIterator[tuple[VendorKit, FakeVendor, str, Adapter]]:
    kit, fake, base_url = served
    fake.clear()
    adapter = kit.make_adapter()
    yield kit, fake, base_url, adapter
    await adapter.aclose()


WEATHER = Tool(
    function=FunctionDefinition(
        name="get_weather",
        description="Weather for a city",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    )
)
TIME = Tool(
    function=FunctionDefinition(
        name="get_time",
        description="Time in a timezone",
        parameters={
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    )
)


def _call(kit: VendorKit, base_url: str, *, stream: bool = False, **fields: Any) -> UpstreamCall:
    request = ChatRequest(
        model=f"{kit.name}/{kit.model}",
        messages=fields.pop("messages", [UserMessage(content="Hello")]),
        stream=stream,
        sampling=Sampling(max_tokens=100),
        **fields,
    )
    return UpstreamCall(request=request, model=kit.model, api_key=KEY, base_url=base_url)


async def _collect(adapter: Adapter, call: UpstreamCall) -> list[StreamEvent]:
    return [event async for event in adapter.stream(call)]


def _tool_arguments(events: list[StreamEvent]) -> dict[int, tuple[str, str]]:
    calls: dict[int, tuple[str, str]] = {}
    for event in events:
        if isinstance(event, ToolCallStart):
            calls[event.index] = (event.name, "")
        elif isinstance(event, ToolCallDelta):
            name, arguments = calls[event.index]
            calls[event.index] = (name, arguments + event.arguments)
    return calls


async def test_text(vendor: tuple[VendorKit, FakeVendor, str, Adapter]) -> None:
    kit, fake, base_url, adapter = vendor
    response = await adapter.complete(_call(kit, base_url))
    assert response.content == kit.text
    assert response.finish_reason == "stop"
    assert (response.usage.input_tokens, response.usage.output_tokens) == kit.usage
    assert msgspec.json.decode(response.raw) is not None
    if kit.key_check is not None:
        kit.key_check(fake.last.headers, KEY)


async def test_each_call_carries_its_own_key_over_one_client(
    vendor: tuple[VendorKit, FakeVendor, str, Adapter],
) -> None:
    """The SDK client is built once per base URL; only the key changes per call, and the
    next caller never gets the previous one's."""
    kit, fake, base_url, adapter = vendor
    if kit.key_check is None:
        pytest.skip("the vendor takes no key")
    other = KEY.replace("0123", "9876")
    for key in (KEY, other, KEY):
        call = dataclasses.replace(_call(kit, base_url), api_key=key)
        await adapter.complete(call)
        kit.key_check(fake.last.headers, key)
    clients = getattr(adapter, "_clients", None)
    if clients is not None:
        assert len(clients) == 1


async def test_stream_joins_to_the_same_text(vendor: tuple[VendorKit, FakeVendor, str, Adapter]) -> None:
    kit, _, base_url, adapter = vendor
    events = await _collect(adapter, _call(kit, base_url, stream=True))
    assert isinstance(events[0], Start)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == kit.text
    finishes = [e for e in events if isinstance(e, Finish)]
    assert len(finishes) == 1 and events[-1] is finishes[0] and finishes[0].reason == "stop"
    usages = [e for e in events if isinstance(e, UsageEvent)]
    assert len(usages) == 1
    assert (usages[0].input_tokens, usages[0].output_tokens) == kit.usage


async def test_tools(vendor: tuple[VendorKit, FakeVendor, str, Adapter]) -> None:
    kit, _, base_url, adapter = vendor
    if not adapter.capabilities.tools:
        pytest.skip("no tools")
    response = await adapter.complete(_call(kit, base_url, tools=[WEATHER], tool_choice="auto"))
    assert response.finish_reason == "tool_calls"
    assert response.tool_calls
    call = response.tool_calls[0]
    assert call.id and call.function.name == kit.tool_name
    assert msgspec.json.decode(call.function.arguments) == kit.tool_arguments


async def test_streamed_tool_arguments(vendor: tuple[VendorKit, FakeVendor, str, Adapter]) -> None:
    kit, _, base_url, adapter = vendor
    if not adapter.capabilities.tools:
        pytest.skip("no tools")
    events = await _collect(adapter, _call(kit, base_url, stream=True, tools=[WEATHER]))
    calls = _tool_arguments(events)
    assert len(calls) == 1
    name, arguments = next(iter(calls.values()))
    assert name == kit.tool_name
    assert msgspec.json.decode(arguments) == kit.tool_arguments
    assert isinstance(events[-1], Finish) and events[-1].reason == "tool_calls"


async def test_multiple_tool_calls(vendor: tuple[VendorKit, FakeVendor, str, Adapter]) -> None:
    kit, fake, base_url, adapter = vendor
    if not adapter.capabilities.tools or kit.multi_tool_replies is None:
        pytest.skip("no tools")
    single, streamed = kit.multi_tool_replies
    fake.enqueue(single)
    response = await adapter.complete(_call(kit, base_url, tools=[WEATHER, TIME]))
    assert response.tool_calls is not msgspec.UNSET
    names = [call.function.name for call in response.tool_calls]
    assert names == list(kit.multi_tool_names)
    fake.enqueue(streamed)
    events = await _collect(adapter, _call(kit, base_url, stream=True, tools=[WEATHER, TIME]))
    calls = _tool_arguments(events)
    assert [calls[index][0] for index in sorted(calls)] == names
    joined = [msgspec.json.decode(calls[index][1]) for index in sorted(calls)]
    assert joined == [msgspec.json.decode(call.function.arguments) for call in response.tool_calls]


async def test_image_parts_reach_the_vendor_in_its_format(
    vendor: tuple[VendorKit, FakeVendor, str, Adapter],
) -> None:
    kit, fake, base_url, adapter = vendor
    caps = adapter.capabilities
    if not (caps.images_by_url and caps.images_base64) or kit.image_check is None:
        pytest.skip("no images")
    message = UserMessage(
        content=[
            TextPart(text="What is in these?"),
            ImagePart(url="https://example.com/cat.png"),
            ImagePart(base64=PNG),
        ]
    )
    await adapter.complete(_call(kit, base_url, messages=[message]))
    kit.image_check(fake.last.json())


async def test_json_output(vendor: tuple[VendorKit, FakeVendor, str, Adapter]) -> None:
    kit, fake, base_url, adapter = vendor
    if not adapter.capabilities.json_schema or kit.json_check is None:
        pytest.skip("no JSON schema output")
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    fmt = JsonSchemaFormat(json_schema=JsonSchema(name="place", schema=schema))
    await adapter.complete(_call(kit, base_url, response_format=fmt))
    kit.json_check(fake.last.json())


UPSTREAM_KINDS = [
    Code.INVALID_REQUEST,
    Code.CONTEXT_LENGTH,
    Code.CONTENT_FILTER,
    Code.AUTHENTICATION,
    Code.PERMISSION,
    Code.NOT_FOUND,
    Code.RATE_LIMITED,
    Code.QUOTA_EXCEEDED,
    Code.OVERLOADED,
    Code.SERVER_ERROR,
    Code.TIMEOUT,
]


@pytest.mark.parametrize("code", UPSTREAM_KINDS)
async def test_error_kinds(vendor: tuple[VendorKit, FakeVendor, str, Adapter], code: Code) -> None:
    kit, fake, base_url, adapter = vendor
    reply = kit.errors.get(code)
    if reply is None:
        pytest.skip(f"{kit.name} has no {code} reply")
    fake.enqueue(reply)
    with pytest.raises(UpstreamError) as raised:
        await adapter.complete(_call(kit, base_url))
    assert raised.value.code == code
    assert raised.value.provider == kit.name
    assert KEY not in raised.value.message
    fake.enqueue(reply)
    with pytest.raises(UpstreamError) as raised_in_stream:
        await _collect(adapter, _call(kit, base_url, stream=True))
    assert raised_in_stream.value.code == code


async def test_error_inside_a_200_stream(vendor: tuple[VendorKit, FakeVendor, str, Adapter]) -> None:
    kit, fake, base_url, adapter = vendor
    if kit.mid_stream_error is None:
        pytest.skip("no mid-stream error fixture")
    fake.enqueue(kit.mid_stream_error)
    seen: list[StreamEvent] = []
    with pytest.raises(UpstreamError):
        async for event in adapter.stream(_call(kit, base_url, stream=True)):
            seen.append(event)
    assert any(isinstance(event, TextDelta) for event in seen)


async def test_connection_refused(vendor: tuple[VendorKit, FakeVendor, str, Adapter]) -> None:
    kit, _, _, adapter = vendor
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UpstreamError) as raised:
        await adapter.complete(_call(kit, kit.base_url(f"http://127.0.0.1:{port}")))
    assert raised.value.code == Code.CONNECTION


def test_a_registered_vendor_without_a_kit_fails_the_matrix() -> None:
    with pytest.raises(pytest.fail.Exception, match="has no fake"):
        _kit("no_such_vendor")
    with pytest.raises(pytest.fail.Exception, match="defines no KIT"):
        _kit("server")  # tests/fakes/server.py exists but is no vendor's kit
