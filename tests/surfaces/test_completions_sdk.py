"""The legacy `POST /v1/completions` driven by the openai SDK's `completions.create`: OpenAI
serves it from its own `/completions` (every field through), other vendors through chat
(with warnings for what chat drops)."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.conftest import RunningGateway
from tests.fakes.openai import COMPLETION_TEXT
from tests.fakes.server import FakeVendor
from tests.surfaces.conftest import KITS, MODELS, PRICES, VENDOR_KEY, ledger_rows, openai_client


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_create(running: RunningGateway, fakes: dict[str, FakeVendor], vendor: str) -> None:
    with openai_client(running) as client:
        raw = client.completions.with_raw_response.create(
            model=MODELS[vendor], prompt="Say hi", max_tokens=20
        )
    completion = raw.parse()
    native = vendor == "openai"
    assert completion.object == "text_completion"
    assert completion.id == f"cmpl-{raw.headers['x-request-id']}"
    assert completion.model == MODELS[vendor]
    assert completion.choices[0].text == (COMPLETION_TEXT if native else KITS[vendor].text)
    assert completion.choices[0].finish_reason == ("length" if native else "stop")
    assert completion.usage is not None
    usage = (completion.usage.prompt_tokens, completion.usage.completion_tokens)
    assert usage == ((5, 7) if native else KITS[vendor].usage)
    if native:
        assert fakes[vendor].last.path == "/v1/completions"
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


def test_openai_gets_every_field_and_its_answer_comes_back(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    with openai_client(running) as client:
        raw = client.completions.with_raw_response.create(
            model=MODELS["openai"],
            prompt=["One ", "Two "],
            suffix="end",
            logprobs=2,
            echo=True,
            best_of=2,
            n=2,
            max_tokens=7,
        )
    completion = raw.parse()
    sent = fakes["openai"].last.json()
    assert sent["model"] == "gpt-4.1-mini"
    for name, value in {
        "prompt": ["One ", "Two "],
        "suffix": "end",
        "logprobs": 2,
        "echo": True,
        "best_of": 2,
    }.items():
        assert sent[name] == value
    assert "unigate-warnings" not in raw.headers
    assert [choice.index for choice in completion.choices] == [0, 1, 2, 3]
    assert completion.choices[0].text == "One " + COMPLETION_TEXT
    assert completion.choices[3].text == "Two " + COMPLETION_TEXT
    assert completion.choices[0].logprobs is not None and completion.choices[0].logprobs.tokens
    usage = json.loads(raw.content)["usage"]
    price_in, price_out = PRICES[MODELS["openai"]]
    expected = (usage["prompt_tokens"] * price_in + usage["completion_tokens"] * price_out) / 1_000_000
    assert usage["cost"] == pytest.approx(expected, rel=1e-9)
    [row] = ledger_rows(running, raw.headers["x-request-id"])
    assert (row["provider"], row["output_tokens"]) == ("openai", usage["completion_tokens"])


def test_an_openai_stream_passes_through_with_our_usage_last(running: RunningGateway) -> None:
    with openai_client(running) as client:
        chunks = list(
            client.completions.create(
                model=MODELS["openai"],
                prompt="Say hi. ",
                echo=True,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    text = "".join(chunk.choices[0].text for chunk in chunks if chunk.choices)
    assert text == "Say hi. " + COMPLETION_TEXT
    assert {chunk.model for chunk in chunks} == {MODELS["openai"]}
    assert len({chunk.id for chunk in chunks}) == 1 and chunks[0].id.startswith("cmpl-")
    assert chunks[-1].usage is not None and not chunks[-1].choices
    assert [chunk for chunk in chunks if chunk.usage is not None] == chunks[-1:]


def test_what_chat_cannot_say_is_dropped_with_a_warning(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    headers = {"Authorization": f"Bearer {running.key}", "Provider-Key": VENDOR_KEY}
    body = {"model": MODELS["anthropic"], "prompt": "x", "suffix": "end", "logprobs": 2, "best_of": 3}
    answer = httpx.post(f"{running.url}/v1/completions", json=body, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    warnings = json.loads(answer.headers["unigate-warnings"])
    for name in ("suffix", "logprobs", "best_of"):
        assert any(warning.startswith(name) for warning in warnings), warnings
    sent = json.dumps(fakes["anthropic"].last.json())
    assert "suffix" not in sent and "best_of" not in sent


def test_what_chat_cannot_answer_is_refused(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    with openai_client(running) as client:
        for extra in ({"n": 2}, {"prompt": ["a", "b"]}):
            fields = {"prompt": "x", **extra}
            with pytest.raises(openai.BadRequestError) as caught:
                client.completions.create(model=MODELS["anthropic"], **fields)  # type: ignore[call-overload]
            assert caught.value.code == "unsupported"
    assert not fakes["anthropic"].received
