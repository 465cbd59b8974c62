"""The Bytez SDKs' raw-text stream (`Accept: text/plain`, `lang`), on a real socket: a clean
stream ends cleanly, one the vendor cut ends without its terminating chunk, so the client's
HTTP library raises instead of taking the half answer for the whole one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import requests
from bytez import Bytez

from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor
from tests.reliability.harness import ledger, openai_frames, openai_stream, words_text

MODEL = "openai/gpt-4o-mini"
VENDOR_KEY = "sk-test-provider-key-0001"
WORDS = 30
CUT_AFTER_WORDS = 12
BODY: dict[str, Any] = {"messages": [{"role": "user", "content": "Hello"}], "stream": True}


def _cut_stream() -> Any:
    """The vendor's stream, cut mid-frame right after the chunk of word CUT_AFTER_WORDS - 1."""
    frames = openai_frames(WORDS)
    return openai_stream(WORDS, cut_after=sum(map(len, frames[: CUT_AFTER_WORDS + 1])) + 5)


def _read(gateway: RunningGateway, **headers: str) -> tuple[list[bytes], BaseException | None]:
    chunks: list[bytes] = []
    with (
        gateway.client(**{"Provider-Key": VENDOR_KEY, **headers}) as client,
        client.stream("POST", f"/models/v2/{MODEL}", json=BODY) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        try:
            chunks.extend(response.iter_bytes())
        except httpx.HTTPError as error:
            return chunks, error
    return chunks, None


@pytest.mark.timeout(20)
@pytest.mark.parametrize("headers", [{"Accept": "text/plain"}, {"lang": "python"}])
def test_a_clean_raw_stream_ends_cleanly(
    gateway: RunningGateway, fake_openai_vendor: FakeVendor, headers: dict[str, str]
) -> None:
    fake_openai_vendor.enqueue(openai_stream(WORDS))
    chunks, error = _read(gateway, **headers)
    assert error is None
    assert b"".join(chunks).decode() == words_text(WORDS)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("headers", [{"Accept": "text/plain"}, {"lang": "javascript"}])
def test_a_cut_raw_stream_ends_without_its_terminating_chunk(
    gateway: RunningGateway, fake_openai_vendor: FakeVendor, headers: dict[str, str]
) -> None:
    fake_openai_vendor.enqueue(_cut_stream())
    chunks, error = _read(gateway, **headers)
    assert isinstance(error, httpx.RemoteProtocolError)
    assert b"".join(chunks).decode() == words_text(CUT_AFTER_WORDS)
    (row,) = ledger(gateway)
    assert (row["status"], row["error_code"]) == ("upstream_error", "connection")


def _bytez_model(gateway: RunningGateway) -> Any:
    sdk = Bytez(gateway.key)
    sdk._client.host = f"{gateway.url}/models/v2/"  # the SDK's one host setting (client.py)
    return sdk.model(MODEL, provider_key=VENDOR_KEY)


@pytest.mark.timeout(20)
def test_the_bytez_sdk_reads_a_clean_stream_whole(
    gateway: RunningGateway, fake_openai_vendor: FakeVendor
) -> None:
    fake_openai_vendor.enqueue(openai_stream(WORDS))
    lines = list(_bytez_model(gateway).run([{"role": "user", "content": "Hello"}], stream=True))
    assert "".join(lines) == words_text(WORDS)
    assert fake_openai_vendor.last.headers["authorization"] == f"Bearer {VENDOR_KEY}"


@pytest.mark.timeout(20)
def test_the_bytez_sdk_raises_on_a_cut_stream(
    gateway: RunningGateway, fake_openai_vendor: FakeVendor
) -> None:
    fake_openai_vendor.enqueue(_cut_stream())
    # the SDK reads lines (requests' iter_lines), so the text before the cut, which holds no
    # newline, is never handed out: the error is all the caller gets, never a short answer
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        list(_bytez_model(gateway).run([{"role": "user", "content": "Hello"}], stream=True))
