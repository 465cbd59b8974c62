"""Gemini image output (`responseModalities: ["IMAGE"]`, an `inlineData` part) with the
caller's Provider-Key: on the native surface by id and through the openai SDK's
`images.generate`, priced by the tokens Gemini reports."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import openai
import pytest

from tests.conftest import RunningGateway
from tests.fakes.gemini import IMAGE_TOKENS
from tests.fakes.server import FakeVendor, fixture_bytes
from tests.surfaces.conftest import VENDOR_KEY, ledger_rows, openai_client

MODEL = "google/gemini-2.5-flash-image"
PNG = fixture_bytes("bytez/image.png")


def _price(input_tokens: int, output_tokens: int) -> Decimal:
    # USD 0.30 per million input tokens, 30 per million output (image) tokens
    return (Decimal(input_tokens) * Decimal("0.30") + Decimal(output_tokens) * 30) / 1_000_000


def run(running: RunningGateway, body: dict[str, Any]) -> Any:
    with running.client(**{"Provider-Key": VENDOR_KEY}) as client:
        return client.post(f"/models/v2/{MODEL}", json=body)


def test_native_text_to_image_answers_output_png(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    response = run(running, {"text": "a red fox in snow", "params": {"imageConfig": {"aspectRatio": "16:9"}}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"error", "code", "output", "usage", "billing", "provider", "warnings", "id", "model"}
    assert base64.b64decode(body["output"]["output_png"]) == PNG
    assert body["usage"] == {"input_tokens": 5, "output_tokens": IMAGE_TOKENS}
    assert Decimal(repr(body["billing"]["cost"])) == _price(5, IMAGE_TOKENS)
    sent = fakes["gemini"].last
    assert sent.path == "/v1beta/models/gemini-2.5-flash-image:generateContent"
    assert sent.headers["x-goog-api-key"] == VENDOR_KEY
    assert sent.json() == {
        "contents": [{"role": "user", "parts": [{"text": "a red fox in snow"}]}],
        "generationConfig": {"imageConfig": {"aspectRatio": "16:9"}, "responseModalities": ["IMAGE"]},
    }
    assert ledger_rows(running, body["id"])[0]["provider"] == "gemini"


def test_native_json_false_answers_the_png(running: RunningGateway) -> None:
    response = run(running, {"text": "a red fox", "json": False})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png" and response.content == PNG


def test_a_blocked_prompt_is_a_content_filter_error(running: RunningGateway) -> None:
    response = run(running, {"text": "something forbidden"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "content_filter"
    assert "PROHIBITED_CONTENT" in response.json()["error"]


def test_images_generate_through_the_openai_surface(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    with openai_client(running) as client:
        raw = client.images.with_raw_response.generate(model=MODEL, prompt="two foxes", n=2, size="1536x1024")
    images = raw.parse()
    assert images.data is not None and [base64.b64decode(i.b64_json or "") for i in images.data] == [PNG, PNG]
    calls = [request for request in fakes["gemini"].received if request.path.endswith(":generateContent")]
    assert len(calls) == 2
    assert calls[0].json()["generationConfig"] == {
        "imageConfig": {"aspectRatio": "3:2"},
        "responseModalities": ["IMAGE"],
    }
    assert Decimal(raw.headers["inference-cost"]) == _price(2 * 2, 2 * IMAGE_TOKENS)


def test_a_size_gemini_cannot_draw_is_refused(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    with openai_client(running) as client, pytest.raises(openai.BadRequestError) as raised:
        client.images.generate(model=MODEL, prompt="a fox", size="1000x333")
    assert "aspect ratio" in str(raised.value)
    assert fakes["gemini"].received == []


def test_a_gemini_chat_model_is_not_an_image_model(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    with openai_client(running) as client, pytest.raises(openai.BadRequestError) as raised:
        client.images.generate(model="google/gemini-2.5-flash", prompt="a fox")
    assert "chat model" in str(raised.value)
    assert fakes["gemini"].received == []
