"""The legacy `POST /v1/completions` driven by the openai SDK's `completions.create`."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor
from tests.surfaces.conftest import KITS, MODELS, ledger_rows, openai_client


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_create(running: RunningGateway, fakes: dict[str, FakeVendor], vendor: str) -> None:
    with openai_client(running) as client:
        raw = client.completions.with_raw_response.create(
            model=MODELS[vendor], prompt="Say hi", max_tokens=20
        )
    completion = raw.parse()
    assert completion.object == "text_completion"
    assert completion.choices[0].text == KITS[vendor].text
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == KITS[vendor].usage
    assert "Say hi" in fakes[vendor].last.body.decode()
    assert [row["status"] for row in ledger_rows(running, raw.headers["x-request-id"])] == ["completed"]


def test_stream_and_echo(running: RunningGateway) -> None:
    with openai_client(running) as client:
        chunks = list(
            client.completions.create(
                model=MODELS["gemini"],
                prompt="Say hi. ",
                echo=True,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    text = "".join(chunk.choices[0].text for chunk in chunks if chunk.choices)
    assert text == "Say hi. " + KITS["gemini"].text
    assert chunks[-1].usage is not None


def test_what_chat_cannot_say_is_refused(running: RunningGateway) -> None:
    with openai_client(running) as client:
        for extra in ({"suffix": "end"}, {"logprobs": 2}, {"n": 2}):
            with pytest.raises(openai.BadRequestError) as caught:
                client.completions.create(model=MODELS["openai"], prompt="x", **extra)  # type: ignore[call-overload]
            assert caught.value.code == "unsupported"
