"""A budgeted key's reservation for a media call: the worst case at the model's media price
(proxy/accounting/media_budget.py), read from the catalogue's real figures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from proxy.accounting.budgets import estimate, input_tokens
from proxy.accounting.metering import Meter
from proxy.routing import catalogue_file
from proxy.routing.routes import Resolution, ResolvedTarget
from schemas.config import BudgetConfig
from schemas.errors import GatewayError
from schemas.media import MediaRequest, Operation
from schemas.tasks import RunRequest

METER = Meter({}, {}, catalogue_file.load())
TASKS: dict[Operation, str] = {
    "images": "text-to-image",
    "speech": "text-to-speech",
    "transcriptions": "automatic-speech-recognition",
}


def _media(operation: Operation, text: str | None = None, **fields: Any) -> MediaRequest:
    inputs: dict[str, Any] = {"text": text} if text is not None else {}
    return MediaRequest(model="m", task=TASKS[operation], operation=operation, openai=fields, **inputs)


def _estimate(request: RunRequest, provider: str, model: str, config: BudgetConfig | None = None) -> float:
    resolution = Resolution(f"{provider}/{model}", request.task, (ResolvedTarget(provider, None, model),))
    return estimate(request, resolution, METER, config or BudgetConfig(), {})


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, 0.04),  # standard 1024x1024, OpenAI's defaults
        ({"n": 3}, 0.12),
        ({"quality": "hd", "size": "1024x1792", "n": 2}, 0.24),
        ({"quality": "standard", "size": "1792x1024"}, 0.08),
    ],
)
def test_dall_e_3_reserves_n_images_at_the_price_of_the_size_and_quality_asked(
    fields: dict[str, Any], expected: float
) -> None:
    assert _estimate(_media("images", "a fox", **fields), "openai", "dall-e-3") == pytest.approx(expected)


def test_a_size_the_price_does_not_list_is_refused_as_unpriced() -> None:
    with pytest.raises(GatewayError) as refused:
        _estimate(_media("images", "a fox", size="512x512"), "openai", "dall-e-3")
    assert refused.value.status == 403
    assert "no configured price" in refused.value.message


def test_dall_e_2_by_size_and_the_native_params() -> None:
    native = RunRequest(model="m", task="text-to-image", text="a fox", params={"size": "256x256"})
    assert _estimate(native, "openai", "dall-e-2") == pytest.approx(0.016)
    assert _estimate(_media("images", "a fox", n=2), "openai", "dall-e-2") == pytest.approx(0.04)


def test_gpt_image_1_reserves_the_image_tokens_of_its_quality_and_size() -> None:
    """USD 5 per million input tokens (the prompt, counted by size as chat input is), 40 per
    million image output tokens."""
    low = _media("images", "a fox", quality="low", size="1024x1024")
    assert _estimate(low, "openai", "gpt-image-1") == pytest.approx((input_tokens(low) * 5 + 272 * 40) / 1e6)
    dearest = _media("images", "a fox", n=2)  # auto quality and size: the dearest, 6240 tokens
    assert _estimate(dearest, "openai", "gpt-image-1") == pytest.approx(
        (input_tokens(dearest) * 5 + 2 * 6240 * 40) / 1e6
    )


def test_speech_reserves_its_characters() -> None:
    text = "Twenty-six characters long"
    expected = Decimal(len(text)) * 15 / 1_000_000
    assert _estimate(_media("speech", text, input=text), "openai", "tts-1") == pytest.approx(float(expected))
    assert _estimate(_media("speech", text, input=text), "openai", "tts-1-hd") == pytest.approx(
        float(expected * 2)
    )


def test_a_transcription_reserves_the_configured_seconds() -> None:
    request = _media("transcriptions", base64="data:audio/wav;base64,UklGRg==")
    assert _estimate(request, "openai", "whisper-1") == pytest.approx(600 * 0.0001)
    short = _estimate(request, "openai", "whisper-1", BudgetConfig(audio_seconds=30))
    assert short == pytest.approx(30 * 0.0001)


def test_gemini_image_reserves_output_tokens_per_image() -> None:
    request = _media("images", "a fox", n=2)
    got = _estimate(request, "gemini", "gemini-2.5-flash-image", BudgetConfig(output_tokens=1290))
    assert got == pytest.approx(2 * 1290 * 30 / 1e6, rel=0.01)


def test_gpt_4o_mini_tts_reserves_two_audio_tokens_a_character_more_when_slower() -> None:
    text = "x" * 300
    request = _media("speech", text, input=text)
    normal = _estimate(request, "openai", "gpt-4o-mini-tts")
    assert normal == pytest.approx((input_tokens(request) * 0.60 + 600 * 12) / 1e6)
    slow = _media("speech", text, input=text, speed=0.5)
    assert _estimate(slow, "openai", "gpt-4o-mini-tts") == pytest.approx(
        (input_tokens(slow) * 0.60 + 1200 * 12) / 1e6
    )


def test_gpt_4o_transcribe_reserves_audio_tokens_for_the_configured_seconds() -> None:
    request = _media("transcriptions", base64="data:audio/wav;base64,UklGRg==", prompt="abc")
    config = BudgetConfig(audio_seconds=60, output_tokens=2000)
    # 1,000 audio tokens a minute at 6, the prompt (1 token) at 2.50, 2,000 out at 10
    expected = (1000 * 6 + 1 * 2.5 + 2000 * 10) / 1e6
    assert _estimate(request, "openai", "gpt-4o-transcribe", config) == pytest.approx(expected)
