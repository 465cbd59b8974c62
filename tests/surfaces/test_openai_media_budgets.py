"""A key with a spend budget on the media models: each call holds its worst case at the
model's media price (proxy/accounting/media_budget.py) and settles at what the answer cost;
a budget that cannot hold the worst case answers 402 `budget_exceeded`, as chat does, and
nothing reaches the vendor."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal

import openai
import pytest

from proxy.storage import sqlite_path
from tests.conftest import RunningGateway
from tests.fakes.openai import FAKE_WAV
from tests.fakes.server import FakeVendor
from tests.surfaces.conftest import VENDOR_KEY, ledger_rows
from tests.surfaces.test_openai_media import media_calls


def _budgeted(running: RunningGateway, budget: float) -> tuple[str, str]:
    record, key = running.gateway.keys.create("media-budget", budget=budget)
    return record.id, key


def _figures(running: RunningGateway, key_id: str) -> tuple[float, float]:
    with sqlite3.connect(sqlite_path(running.settings.database_url)) as connection:
        spent, reserved = connection.execute(
            "SELECT spent, reserved FROM keys WHERE id = ?", (key_id,)
        ).fetchone()
    return float(spent), float(reserved)


@pytest.fixture
def client_for(running: RunningGateway) -> Iterator[object]:
    clients: list[openai.OpenAI] = []

    def make(key: str) -> openai.OpenAI:
        client = openai.OpenAI(
            base_url=running.url + "/v1",
            api_key=key,
            default_headers={"Provider-Key": VENDOR_KEY},
            max_retries=0,
            timeout=10,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _settled(running: RunningGateway, key_id: str, request_id: str, cost_header: str) -> None:
    """The ledger row's cost, the answer's Inference-Cost and the key's spent agree; nothing held."""
    [row] = ledger_rows(running, request_id)
    assert row["status"] == "completed"
    cost = Decimal(cost_header)
    assert Decimal(repr(row["cost"])) == cost
    spent, reserved = _figures(running, key_id)
    assert Decimal(repr(spent)) == cost
    assert reserved == pytest.approx(0.0, abs=1e-15)


def test_a_budgeted_key_generates_an_image(running: RunningGateway, client_for: object) -> None:
    key_id, key = _budgeted(running, 0.25)
    client = client_for(key)  # type: ignore[operator]
    raw = client.images.with_raw_response.generate(
        model="openai/dall-e-3", prompt="a fox", quality="hd", size="1024x1792"
    )
    assert raw.headers["inference-cost"] == "0.12"
    _settled(running, key_id, raw.headers["x-request-id"], raw.headers["inference-cost"])


def test_a_budgeted_key_generates_gpt_image_tokens(running: RunningGateway, client_for: object) -> None:
    key_id, key = _budgeted(running, 0.6)  # holds 2 x 6240 image tokens at USD 40 a million
    raw = client_for(key).images.with_raw_response.generate(  # type: ignore[operator]
        model="openai/gpt-image-1", prompt="a fox", n=2
    )
    assert Decimal(raw.headers["inference-cost"]) == Decimal("0.33305")
    _settled(running, key_id, raw.headers["x-request-id"], raw.headers["inference-cost"])


def test_a_budgeted_key_speaks(running: RunningGateway, client_for: object) -> None:
    text = "Spoken on a budget."
    key_id, key = _budgeted(running, 0.001)
    with client_for(key).audio.speech.with_streaming_response.create(  # type: ignore[operator]
        model="openai/tts-1", voice="alloy", input=text
    ) as response:
        response.read()
        headers = response.headers
    assert Decimal(headers["inference-cost"]) == Decimal(len(text)) * 15 / 1_000_000
    _settled(running, key_id, headers["x-request-id"], headers["inference-cost"])


def test_a_budgeted_key_transcribes(running: RunningGateway, client_for: object) -> None:
    key_id, key = _budgeted(running, 0.07)  # holds [budgets] audio_seconds (600) at USD 0.0001
    raw = client_for(key).audio.transcriptions.with_raw_response.create(  # type: ignore[operator]
        model="openai/whisper-1", file=("clip.wav", FAKE_WAV, "audio/wav")
    )
    assert raw.headers["inference-cost"] == "0.0004"  # the 4 seconds the fake reports
    _settled(running, key_id, raw.headers["x-request-id"], raw.headers["inference-cost"])


def test_a_budgeted_native_image_call_settles_too(running: RunningGateway) -> None:
    key_id, key = _budgeted(running, 0.05)
    with running.client(**{"Provider-Key": VENDOR_KEY, "Authorization": f"Key {key}"}) as client:
        response = client.post(
            "/models/v2/openai/dall-e-2", json={"text": "a fox", "params": {"size": "512x512"}}
        )
    assert response.status_code == 200, response.text
    assert response.json()["billing"]["cost"] == 0.018
    _settled(running, key_id, response.headers["x-request-id"], response.headers["inference-cost"])


@pytest.mark.parametrize(
    ("budget", "call"),
    [
        (0.2, "hd_images"),  # 2 x 0.12 > 0.2
        (0.45, "gpt_images"),  # 2 x 6240 image tokens at USD 40 a million > 0.45
        (0.05, "transcription"),  # 600 s at USD 0.0001 > 0.05
        (0.00001, "speech"),  # 19 characters at USD 15 a million > 0.00001
    ],
)
def test_a_budget_too_small_for_the_worst_case_is_402_and_nothing_is_sent(
    running: RunningGateway, fakes: dict[str, FakeVendor], client_for: object, budget: float, call: str
) -> None:
    key_id, key = _budgeted(running, budget)
    client = client_for(key)  # type: ignore[operator]
    with pytest.raises(openai.APIStatusError) as refused:
        if call == "hd_images":
            client.images.generate(
                model="openai/dall-e-3", prompt="a fox", quality="hd", size="1024x1792", n=2
            )
        elif call == "gpt_images":
            client.images.generate(model="openai/gpt-image-1", prompt="a fox", n=2)
        elif call == "transcription":
            client.audio.transcriptions.create(
                model="openai/whisper-1", file=("clip.wav", FAKE_WAV, "audio/wav")
            )
        else:
            client.audio.speech.create(model="openai/tts-1", voice="alloy", input="Spoken on a budget.")
    assert refused.value.status_code == 402
    body = refused.value.body
    assert isinstance(body, dict) and body["code"] == "budget_exceeded"
    assert "this call may cost up to" in body["message"]
    assert media_calls(fakes["openai"]) == []
    assert _figures(running, key_id) == (0.0, 0.0)


def test_an_unpriced_size_on_a_budgeted_key_is_refused_before_the_call(
    running: RunningGateway, fakes: dict[str, FakeVendor], client_for: object
) -> None:
    """DALL·E 3 has no price for 512x512: its cost could not be counted against the budget."""
    _, key = _budgeted(running, 10.0)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client_for(key).images.generate(model="openai/dall-e-3", prompt="a fox", size="512x512")  # type: ignore[operator]
    assert "no configured price" in str(refused.value)
    assert media_calls(fakes["openai"]) == []
