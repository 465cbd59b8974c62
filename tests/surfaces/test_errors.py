"""Each failure reaches the official SDKs as the exception class their users catch."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from schemas.errors import Code
from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor, Reply
from tests.surfaces.conftest import KITS, MODELS, anthropic_client, openai_client

VENDORS = list(MODELS)
HELLO: list[Any] = [{"role": "user", "content": "Hello"}]


def vendor_reply(vendor: str, code: Code) -> Reply:
    return KITS[vendor].errors[code]


# -- openai SDK ---------------------------------------------------------------------------


def test_bad_unigate_key_is_authentication_error(running: RunningGateway) -> None:
    with openai_client(running) as client:
        client.api_key = "ug-not-a-key"
        with pytest.raises(openai.AuthenticationError) as caught:
            client.chat.completions.create(model=MODELS["openai"], messages=HELLO)
    assert caught.value.status_code == 401
    assert caught.value.type == "authentication_error"
    assert caught.value.code == "authentication"
    assert "ug-not-a-key" not in caught.value.message


def test_missing_provider_key_is_authentication_error(running: RunningGateway) -> None:
    client = openai.OpenAI(base_url=running.url + "/v1", api_key=running.key, max_retries=0)
    with client, pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model=MODELS["mistral"], messages=HELLO)
    assert caught.value.code == "provider_key_required"
    assert "Provider-Key" in caught.value.message


def test_unroutable_model_is_not_found(running: RunningGateway) -> None:
    with openai_client(running) as client, pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="nobody/nothing", messages=HELLO)
    assert caught.value.type == "not_found_error"
    assert "nobody/nothing" in caught.value.message


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize(
    ("code", "error_class", "status"),
    [
        (Code.AUTHENTICATION, openai.AuthenticationError, 401),
        (Code.NOT_FOUND, openai.NotFoundError, 404),
        (Code.RATE_LIMITED, openai.RateLimitError, 429),
    ],
)
def test_vendor_failures_are_the_sdk_classes(
    running: RunningGateway,
    fakes: dict[str, FakeVendor],
    vendor: str,
    code: Code,
    error_class: type[openai.APIStatusError],
    status: int,
) -> None:
    fakes[vendor].enqueue(vendor_reply(vendor, code), vendor_reply(vendor, code))
    with openai_client(running) as client:
        with pytest.raises(error_class) as caught:
            client.chat.completions.create(model=MODELS[vendor], messages=HELLO)
        with pytest.raises(error_class):
            client.chat.completions.create(model=MODELS[vendor], messages=HELLO, stream=True)
    assert caught.value.status_code == status
    assert caught.value.code == code.value
    body: Any = caught.value.body
    assert body["message"].startswith(f"{vendor}: ")


def test_rate_limit_keeps_the_vendor_retry_after(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    fakes["openai"].enqueue(vendor_reply("openai", Code.RATE_LIMITED))
    with openai_client(running) as client, pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=MODELS["openai"], messages=HELLO)
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.type == "rate_limit_error"


def test_context_overflow_says_context_length_exceeded(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    fakes["anthropic"].enqueue(vendor_reply("anthropic", Code.CONTEXT_LENGTH))
    with openai_client(running) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODELS["anthropic"], messages=HELLO)
    assert caught.value.code == "context_length_exceeded"
    assert caught.value.type == "invalid_request_error"


def test_overloaded_vendor_is_a_server_error(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    fakes["gemini"].enqueue(vendor_reply("gemini", Code.OVERLOADED))
    with openai_client(running) as client, pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model=MODELS["gemini"], messages=HELLO)
    assert caught.value.status_code == 503
    assert caught.value.type == "api_error"


@pytest.mark.parametrize("vendor", VENDORS)
def test_mid_stream_failure_raises_after_the_text(
    running: RunningGateway, fakes: dict[str, FakeVendor], vendor: str
) -> None:
    mid_stream = KITS[vendor].mid_stream_error
    assert mid_stream is not None
    fakes[vendor].enqueue(mid_stream)
    received: list[str] = []
    with openai_client(running) as client:
        stream = client.chat.completions.create(model=MODELS[vendor], messages=HELLO, stream=True)
        with pytest.raises(openai.APIError) as caught:
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received.append(chunk.choices[0].delta.content)
    assert received and KITS[vendor].text.startswith("".join(received))
    body: Any = caught.value.body
    assert body["type"] == "api_error"
    assert body["code"] in ("server_error", "overloaded")


def test_bad_bodies_are_bad_requests(running: RunningGateway) -> None:
    with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model=MODELS["openai"], messages=[])
        assert caught.value.code == "invalid_request"
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model=MODELS["openai"], messages=HELLO, n=2)
        assert caught.value.code == "unsupported"
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(
                model=MODELS["openai"], messages=[{"role": "robot", "content": "x"}]
            )  # type: ignore[misc, list-item]
        assert caught.value.type == "invalid_request_error"


def test_unknown_model_retrieve_is_not_found(running: RunningGateway) -> None:
    with openai_client(running) as client, pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("nobody/nothing")
    assert missing.value.type == "not_found_error"


# -- anthropic SDK ------------------------------------------------------------------------


def test_anthropic_bad_key_is_authentication_error(running: RunningGateway) -> None:
    with (
        anthropic_client(running, api_key="ug-not-a-key") as client,
        pytest.raises(anthropic.AuthenticationError) as caught,
    ):
        client.messages.create(model=MODELS["anthropic"], max_tokens=64, messages=HELLO)
    assert caught.value.status_code == 401
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid API key"},
    }


def test_anthropic_unroutable_model_is_not_found(running: RunningGateway) -> None:
    with anthropic_client(running) as client, pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(model="nobody/nothing", max_tokens=64, messages=HELLO)
    body: Any = caught.value.body
    assert body["error"]["type"] == "not_found_error"


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize(
    ("code", "error_class"),
    [
        (Code.AUTHENTICATION, anthropic.AuthenticationError),
        (Code.NOT_FOUND, anthropic.NotFoundError),
        (Code.RATE_LIMITED, anthropic.RateLimitError),
    ],
)
def test_anthropic_vendor_failures_are_the_sdk_classes(
    running: RunningGateway,
    fakes: dict[str, FakeVendor],
    vendor: str,
    code: Code,
    error_class: type[anthropic.APIStatusError],
) -> None:
    fakes[vendor].enqueue(vendor_reply(vendor, code), vendor_reply(vendor, code))
    with anthropic_client(running) as client:
        with pytest.raises(error_class) as caught:
            client.messages.create(model=MODELS[vendor], max_tokens=64, messages=HELLO)
        with (
            pytest.raises(error_class),
            client.messages.stream(model=MODELS[vendor], max_tokens=64, messages=HELLO),
        ):
            pass
    body: Any = caught.value.body
    assert body["type"] == "error"
    assert body["error"]["message"].startswith(vendor)


def test_anthropic_overloaded_is_529(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    fakes["gemini"].enqueue(vendor_reply("gemini", Code.OVERLOADED))
    with anthropic_client(running) as client, pytest.raises(anthropic.OverloadedError) as caught:
        client.messages.create(model=MODELS["gemini"], max_tokens=64, messages=HELLO)
    assert caught.value.status_code == 529
    body: Any = caught.value.body
    assert body["error"]["type"] == "overloaded_error"


@pytest.mark.parametrize("vendor", VENDORS)
def test_anthropic_mid_stream_failure_is_an_error_event(
    running: RunningGateway, fakes: dict[str, FakeVendor], vendor: str
) -> None:
    mid_stream = KITS[vendor].mid_stream_error
    assert mid_stream is not None
    fakes[vendor].enqueue(mid_stream)
    received: list[str] = []
    with (
        anthropic_client(running) as client,
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model=MODELS[vendor], max_tokens=64, messages=HELLO) as stream,
    ):
        received.extend(stream.text_stream)
    assert received and KITS[vendor].text.startswith("".join(received))
    body: Any = caught.value.body
    assert body["type"] == "error"
    assert body["error"]["type"] in ("api_error", "overloaded_error")


def test_anthropic_missing_max_tokens_is_invalid_request(running: RunningGateway) -> None:
    with anthropic_client(running) as client, pytest.raises(anthropic.BadRequestError) as caught:
        client.post("/v1/messages", cast_to=object, body={"model": MODELS["openai"], "messages": HELLO})
    body: Any = caught.value.body
    assert body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]
