"""What the gateway could not send reaches OpenAI- and Anthropic-SDK callers too: in the
`Unigate-Warnings` header, and on a stream in its first frame, while the SDKs still parse
every answer. The dropped parameter here is a prompt-caching breakpoint sent to a vendor
that has none (the adapter drops it and says so)."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor
from tests.surfaces.conftest import MODELS, anthropic_client, openai_client

EPHEMERAL = {"type": "ephemeral"}
MISTRAL_WARNING = "cache_control is not supported by mistral; it was not sent"
OPENAI_WARNING = "cache_control is not supported by openai; it was not sent"
OPENAI_SDK_MESSAGES: Any = [
    {"role": "system", "content": [{"type": "text", "text": "Be terse.", "cache_control": EPHEMERAL}]},
    {"role": "user", "content": "hi"},
]
ANTHROPIC_SYSTEM: Any = [{"type": "text", "text": "Be terse.", "cache_control": EPHEMERAL}]


def _header(headers: Any) -> list[str]:
    value = headers.get("unigate-warnings")
    assert value is not None, "no Unigate-Warnings header"
    decoded: list[str] = json.loads(value)
    return decoded


def test_openai_sdk_answer_carries_the_warning_in_its_header(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    with openai_client(running) as client:
        raw = client.chat.completions.with_raw_response.create(
            model=MODELS["mistral"], messages=OPENAI_SDK_MESSAGES
        )
        completion = raw.parse()
    assert completion.choices[0].message.content
    assert _header(raw.headers) == [MISTRAL_WARNING]
    assert b"cache_control" not in fakes["mistral"].last.body


def test_openai_sdk_stream_carries_the_warning_in_its_header_and_first_chunk(
    running: RunningGateway,
) -> None:
    with openai_client(running) as client:
        raw = client.chat.completions.with_raw_response.create(
            model=MODELS["mistral"], messages=OPENAI_SDK_MESSAGES, stream=True
        )
        chunks = list(raw.parse())
    assert _header(raw.headers) == [MISTRAL_WARNING]
    first, *rest = chunks
    assert (first.model_extra or {}).get("unigate_warnings") == [MISTRAL_WARNING]
    assert all("unigate_warnings" not in (chunk.model_extra or {}) for chunk in rest)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)


def test_anthropic_sdk_answer_carries_the_warning_in_its_header(running: RunningGateway) -> None:
    with anthropic_client(running) as client:
        raw = client.messages.with_raw_response.create(
            model=MODELS["openai"],
            max_tokens=50,
            system=ANTHROPIC_SYSTEM,
            messages=[{"role": "user", "content": "hi"}],
        )
        message = raw.parse()
    assert message.content and message.content[0].type == "text"
    assert _header(raw.headers) == [OPENAI_WARNING]


def test_anthropic_sdk_stream_carries_the_warning_in_its_header_and_message_start(
    running: RunningGateway,
) -> None:
    with (
        anthropic_client(running) as client,
        client.messages.stream(
            model=MODELS["openai"],
            max_tokens=50,
            system=ANTHROPIC_SYSTEM,
            messages=[{"role": "user", "content": "hi"}],
        ) as stream,
    ):
        events = list(stream)
        text = stream.get_final_text()
        headers = stream.response.headers
    assert _header(headers) == [OPENAI_WARNING]
    assert events[0].type == "message_start"
    assert (events[0].model_extra or {}).get("unigate_warnings") == [OPENAI_WARNING]
    assert text


def test_no_warning_no_header(running: RunningGateway) -> None:
    with openai_client(running) as client:
        raw = client.chat.completions.with_raw_response.create(
            model=MODELS["mistral"], messages=[{"role": "user", "content": "hi"}]
        )
        stream = client.chat.completions.with_raw_response.create(
            model=MODELS["mistral"], messages=[{"role": "user", "content": "hi"}], stream=True
        )
        chunks = list(stream.parse())
    assert "unigate-warnings" not in raw.headers and "unigate-warnings" not in stream.headers
    assert "unigate_warnings" not in (chunks[0].model_extra or {})
