"""The most a media call may cost, for a budgeted key's reservation (proxy/accounting/budgets.py).

A media model is priced by what it makes, not by tokens of text: per image at a size and
quality, per character of speech input, per second of audio transcribed, or, for the GPT
Image models, by the image tokens a size and quality costs. Each worst case is read from the
request before the call:

- images: `n` × the price of the size and quality asked (OpenAI's defaults, standard
  1024x1024, when it names none); a size or quality the price does not list is refused, as
  an unpriced model is, because its cost could not be counted. GPT Image models: `n` × the
  output tokens of that quality and size (the dearest when it asks `auto` or names none),
  plus the prompt's tokens; another token-priced image model (Gemini): `n` × `max_tokens`
  or `[budgets] output_tokens`;
- speech: the characters of the input × the per-character price; a token-billed model
  (gpt-4o-mini-tts): the input's tokens, and 2 audio tokens a character (divided by a
  `speed` under 1);
- transcription: the audio's length is not known before the vendor has read it, so
  `[budgets] audio_seconds` of it are reserved, as a pool call reserves `pool_seconds`;
  a token-billed model (gpt-4o-transcribe) at 1,000 audio tokens a minute, plus the
  prompt and `max_tokens` or `[budgets] output_tokens` of transcript.

The call then settles at what the vendor reported, like any other (proxy/accounting/metering.py).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from proxy.accounting.metering import COST_QUANTUM, MILLION, exact, image_rate, token_cost_exact
from schemas.chat import Usage
from schemas.config import BudgetConfig, ModelPrice
from schemas.media import TASK_OPERATIONS, MediaRequest
from schemas.tasks import RunRequest

DEFAULT_SIZE = "1024x1024"
DEFAULT_QUALITY = "standard"
GPT_IMAGE_TOKENS: dict[str, dict[str, int]] = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
"""Image output tokens of the GPT Image models by quality and size (OpenAI's image
generation guide, "Cost and latency"); `auto` or an unlisted pair is taken at the dearest."""
GPT_IMAGE_MOST = max(tokens for sizes in GPT_IMAGE_TOKENS.values() for tokens in sizes.values())


AUDIO_TOKENS_PER_CHARACTER = 2
"""Audio output tokens a token-billed speech model (gpt-4o-mini-tts) makes per character at
normal speed, rounded up: one measure of OpenAI's bill gives ~1.3 (4,096 characters, ~5,300
audio tokens); a slower `speed` makes proportionally more."""
AUDIO_TOKENS_PER_MINUTE = 1000
"""Audio input tokens per minute of a transcription billed by tokens: what OpenAI's own
estimates imply (USD 0.006 a minute at 6 per million audio tokens for gpt-4o-transcribe,
0.003 at 3 for the mini model)."""


class Unpriced(Exception):
    """The request asks for something its model's price does not list (a DALL·E size)."""


def asked(request: RunRequest) -> dict[str, Any]:
    """The fields the client set: the OpenAI body of a media endpoint, else the task's params."""
    return request.openai if isinstance(request, MediaRequest) else request.params


def _count(fields: dict[str, Any]) -> int:
    count = fields.get("n")
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _gpt_image_tokens(size: str | None, quality: str | None) -> int:
    return GPT_IMAGE_TOKENS.get(quality or "", {}).get(size or "", GPT_IMAGE_MOST)


def media_worst_case(
    request: RunRequest,
    upstream: str,
    price: ModelPrice,
    input_tokens: int,
    output_tokens: int,
    config: BudgetConfig,
) -> Decimal | None:
    """USD the media call may cost at most on this target; None when the request is no
    media task this price can bill (the caller then prices it by tokens, or refuses).
    Raises `Unpriced` for a size or quality the price has no row for."""
    operation = TASK_OPERATIONS.get(request.task)
    if operation is None:
        return None
    fields = asked(request)
    if operation == "images":
        count = _count(fields)
        size, quality = _text(fields.get("size")), _text(fields.get("quality"))
        if price.per_image_by or price.per_image is not None:
            rate = image_rate(price, size or DEFAULT_SIZE, quality or DEFAULT_QUALITY)
            if rate is None:
                raise Unpriced
            return (count * rate).quantize(COST_QUANTUM)
        per_image = _gpt_image_tokens(size, quality) if upstream.startswith("gpt-image") else output_tokens
        return token_cost_exact(Usage(input_tokens, count * per_image), price)
    if operation == "speech":
        text = request.text if isinstance(request.text, str) else fields.get("input")
        characters = len(text) if isinstance(text, str) else 0
        if price.per_million_characters is not None:
            return (characters * exact(price.per_million_characters) / MILLION).quantize(COST_QUANTUM)
        speed = fields.get("speed")
        slowest = speed if isinstance(speed, int | float) and not isinstance(speed, bool) and speed > 0 else 1
        audio = math.ceil(characters * AUDIO_TOKENS_PER_CHARACTER / min(slowest, 1))
        return token_cost_exact(Usage(input_tokens, audio), price)
    if operation == "transcriptions":
        seconds = exact(config.audio_seconds)
        if price.per_audio_second is not None:
            return (seconds * exact(price.per_audio_second)).quantize(COST_QUANTUM)
        prompt = fields.get("prompt")
        prompt_tokens = math.ceil(len(prompt.encode()) / 3) if isinstance(prompt, str) else 0
        text = token_cost_exact(Usage(prompt_tokens, output_tokens), price)
        audio_rate = price.audio_input if price.audio_input is not None else price.input
        if text is None or audio_rate is None:
            return None
        audio = math.ceil(seconds * AUDIO_TOKENS_PER_MINUTE / 60)
        return (text + audio * exact(audio_rate) / MILLION).quantize(COST_QUANTUM)
    return None
