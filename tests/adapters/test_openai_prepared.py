"""The prepared POST (adapters/openai `PreparedPosts`) against the SDK's own `post()`, side by
side on a real socket: the same wire request, header for header, and the same errors."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai
import pytest

from adapters.openai import OpenAIAdapter, PreparedPosts
from schemas.errors import Code
from tests.fakes.server import FakeVendor, Received, Reply

BODY = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
BODIES = {"/chat/completions": BODY, "/embeddings": b'{"model":"text-embedding-3-small","input":"hi"}'}
ERROR = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}


@pytest.fixture
async def posts(openai_vendor: tuple[FakeVendor, str]) -> AsyncIterator[PreparedPosts]:
    vendor, url = openai_vendor
    vendor.clear()
    client = openai.AsyncOpenAI(
        api_key="per-request", base_url=f"{url}/v1", max_retries=0, http_client=openai.DefaultAioHttpClient()
    )
    yield PreparedPosts(client)
    await client.close()


async def _sdk_post(
    client: openai.AsyncOpenAI, path: str, key: str, total: float, connect: float, **extra: str
) -> httpx2.Response:
    """What the adapter called before: the SDK's raw `post()` with per-call options."""
    options: Any = {
        "headers": {**extra, "Authorization": f"Bearer {key}"},
        "timeout": httpx2.Timeout(total, connect=connect),
    }
    return await client.post(path, cast_to=httpx2.Response, content=BODIES[path], options=options)


def _wire(received: Received) -> tuple[str, str, dict[str, str], bytes]:
    return received.method, received.path, received.headers, received.body


@pytest.mark.parametrize(
    ("path", "total", "connect", "extra"),
    [
        ("/chat/completions", 600.0, 5.0, {}),
        ("/embeddings", 30.0, 2.5, {}),
        (
            "/chat/completions",
            12.5,
            1.0,
            {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        ),
    ],
)
async def test_the_wire_request_is_the_one_post_sends(
    posts: PreparedPosts,
    openai_vendor: tuple[FakeVendor, str],
    path: str,
    total: float,
    connect: float,
    extra: dict[str, str],
) -> None:
    vendor, _ = openai_vendor
    await _sdk_post(posts.client, path, "sk-first", total, connect, **extra)
    by_sdk = _wire(vendor.last)
    for _ in range(2):  # built, then from the template
        response = await posts.post(
            path, BODIES[path], "sk-first", total=total, connect=connect, headers=extra, stream=False
        )
        assert response.status_code == 200 and response.content
        assert _wire(vendor.last) == by_sdk
    assert by_sdk[2]["authorization"] == "Bearer sk-first"
    assert by_sdk[2]["x-stainless-read-timeout"] == str(total)


async def test_each_call_carries_its_own_key(
    posts: PreparedPosts, openai_vendor: tuple[FakeVendor, str]
) -> None:
    vendor, _ = openai_vendor
    for key in ("sk-alice", "sk-bob", "sk-alice"):
        await posts.post("/chat/completions", BODY, key, total=60.0, connect=5.0, headers={}, stream=False)
    assert [r.headers["authorization"] for r in vendor.received] == [
        "Bearer sk-alice",
        "Bearer sk-bob",
        "Bearer sk-alice",
    ]
    assert all(list(r.headers).count("authorization") == 1 for r in vendor.received)


async def test_a_header_given_per_call_replaces_the_built_one(
    posts: PreparedPosts, openai_vendor: tuple[FakeVendor, str]
) -> None:
    vendor, _ = openai_vendor
    await posts.post(
        "/chat/completions",
        BODY,
        "sk-1",
        total=60.0,
        connect=5.0,
        headers={"Accept": "text/event-stream"},
        stream=False,
    )
    await _sdk_post(posts.client, "/chat/completions", "sk-1", 60.0, 5.0, Accept="text/event-stream")
    first, second = vendor.received
    assert first.headers == second.headers and first.headers["accept"] == "text/event-stream"


async def test_a_failed_status_is_the_sdks_own_error(
    posts: PreparedPosts, openai_vendor: tuple[FakeVendor, str]
) -> None:
    vendor, _ = openai_vendor
    errors: list[openai.APIStatusError] = []
    for stream in (False, True):
        vendor.enqueue(Reply.json(ERROR, status=429, headers={"retry-after": "7"}))
        with pytest.raises(openai.APIStatusError) as by_sdk:
            await _sdk_post(posts.client, "/chat/completions", "sk-1", 60.0, 5.0)
        vendor.enqueue(Reply.json(ERROR, status=429, headers={"retry-after": "7"}))
        with pytest.raises(openai.APIStatusError) as ours:
            await posts.post(
                "/chat/completions", BODY, "sk-1", total=60.0, connect=5.0, headers={}, stream=stream
            )
        errors += [by_sdk.value, ours.value]
        assert type(ours.value) is type(by_sdk.value) is openai.RateLimitError
        assert str(ours.value) == str(by_sdk.value) == "Error code: 429 - Rate limit reached"
        assert ours.value.body == by_sdk.value.body == ERROR["error"]
        assert ours.value.response.headers["retry-after"] == "7"
        assert ours.value.response.content == by_sdk.value.response.content
        assert ours.value.__cause__ is None
    assert len(errors) == 4


async def test_a_slow_answer_is_the_sdks_timeout(
    posts: PreparedPosts, openai_vendor: tuple[FakeVendor, str]
) -> None:
    vendor, _ = openai_vendor
    vendor.enqueue(Reply.json({}, delay=1.0), Reply.json({}, delay=1.0))
    with pytest.raises(openai.APITimeoutError) as by_sdk:
        await _sdk_post(posts.client, "/chat/completions", "sk-1", 0.2, 0.2)
    with pytest.raises(openai.APITimeoutError) as ours:
        await posts.post("/chat/completions", BODY, "sk-1", total=0.2, connect=0.2, headers={}, stream=False)
    assert type(ours.value.__cause__) is type(by_sdk.value.__cause__)
    assert isinstance(ours.value.__cause__, httpx2.TimeoutException)


async def test_a_refused_connection_is_classified_as_before() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = openai.AsyncOpenAI(
        api_key="per-request",
        base_url=f"http://127.0.0.1:{port}/v1",
        max_retries=0,
        http_client=openai.DefaultAioHttpClient(),
    )
    posts = PreparedPosts(client)
    adapter = OpenAIAdapter()
    try:
        with pytest.raises(openai.APIError) as by_sdk:
            await _sdk_post(client, "/chat/completions", "sk-1", 5.0, 2.0)
        with pytest.raises(openai.APIError) as ours:
            await posts.post(
                "/chat/completions", BODY, "sk-1", total=5.0, connect=2.0, headers={}, stream=False
            )
    finally:
        await client.close()
    assert type(ours.value) is type(by_sdk.value)
    assert type(ours.value.__cause__) is type(by_sdk.value.__cause__)
    call: Any = type("Call", (), {"api_key": "sk-1"})()
    classified = [adapter._classify(error, call) for error in (ours.value, by_sdk.value)]
    assert [(error.code, str(error)) for error in classified] == [
        (Code.CONNECTION, "could not connect to openai")
    ] * 2
