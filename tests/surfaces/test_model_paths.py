"""A model id stays inside the vendor's model path (S5b): a hostile id never becomes another
URL path, query parameter or fragment at the vendor, on any surface.

Gemini puts the model in the URL, so an id outside Gemini's model-name syntax is refused
with a 400 before anything is sent; the other vendors carry the model in the JSON body, so
their fakes must have received their one fixed path, no query, and the id verbatim."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor
from tests.security.conftest import raw_request, status_of
from tests.surfaces.conftest import VENDOR_KEY

HOSTILE_GEMINI = [
    "google/gemini-x/../../cachedContents?a=",
    "google/gemini-x/../../../admin#",
    "google/gemini-x?key=injected&",
    "google/gemini-x:streamGenerateContent?alt=sse&key=injected",
    "google/gemini-x%2F..%2Fadmin",
    "google/gemini-x\\..\\admin",
]
CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def _assert_refused(status: int, body: bytes, gemini: FakeVendor) -> None:
    assert status == 400, body
    assert b"invalid_request" in body and b"not a Gemini model name" in body
    assert gemini.received == []


@pytest.mark.parametrize("model", HOSTILE_GEMINI)
def test_hostile_gemini_ids_on_the_openai_surface_never_reach_gemini(
    running: RunningGateway, fakes: dict[str, FakeVendor], model: str
) -> None:
    with running.client(**{"Provider-Key": VENDOR_KEY}) as client:
        chat = client.post("/v1/chat/completions", json={"model": model, **CHAT})
        _assert_refused(chat.status_code, chat.content, fakes["gemini"])
        streamed = client.post("/v1/chat/completions", json={"model": model, "stream": True, **CHAT})
        _assert_refused(streamed.status_code, streamed.content, fakes["gemini"])
        embedded = client.post("/v1/embeddings", json={"model": model, "input": "hi"})
        _assert_refused(embedded.status_code, embedded.content, fakes["gemini"])


@pytest.mark.parametrize(
    "path",
    [
        "/models/v2/google/gemini-x/../../cachedContents%3Fa%3D",
        "/models/v2/google/gemini-x%2F..%2F..%2F..%2Fadmin%23",
        "/models/v2/google/gemini-x%3Fkey%3Dinjected%26",
    ],
)
def test_hostile_gemini_ids_on_the_native_surface_never_reach_gemini(
    running: RunningGateway, fakes: dict[str, FakeVendor], path: str
) -> None:
    # raw bytes: an HTTP client would remove the dot segments before sending
    body = b'{"messages":[{"role":"user","content":"hi"}]}'
    request = (
        f"POST {path} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Key {running.key}\r\n"
        f"Provider-Key: {VENDOR_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    response = raw_request(running.url, request)
    _assert_refused(status_of(response), response.partition(b"\r\n\r\n")[2], fakes["gemini"])


def test_hostile_gemini_ids_on_the_anthropic_surface_never_reach_gemini(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    with running.client(**{"Provider-Key": VENDOR_KEY}) as client:
        response = client.post("/v1/messages", json={"model": HOSTILE_GEMINI[0], "max_tokens": 5, **CHAT})
    assert response.status_code == 400, response.text
    assert "not a Gemini model name" in response.text
    assert fakes["gemini"].received == []


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("google/gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash:generateContent"),
        ("google/gemini-2.0-flash-001", "/v1beta/models/gemini-2.0-flash-001:generateContent"),
    ],
)
def test_a_gemini_model_name_is_the_one_segment_of_its_path(
    running: RunningGateway, fakes: dict[str, FakeVendor], model: str, path: str
) -> None:
    with running.client(**{"Provider-Key": VENDOR_KEY}) as client:
        client.post(f"/models/v2/{model}", json=CHAT)
    [received] = fakes["gemini"].received
    assert (received.path, received.query) == (path, "")


BODY_VENDORS = {
    "openai": ("openai/gpt-x/../../admin?key=injected#", "/v1/chat/completions"),
    "anthropic": ("anthropic/claude-x/../../admin?key=injected#", "/v1/messages"),
    "cohere": ("cohere/command-x/../../admin?key=injected#", "/v2/chat"),
    "mistral": ("mistral/mistral-x/../../admin?key=injected#", "/v1/chat/completions"),
}


@pytest.mark.parametrize("vendor", sorted(BODY_VENDORS))
def test_vendors_that_take_the_model_in_the_body_get_it_verbatim_on_their_one_path(
    running: RunningGateway, fakes: dict[str, FakeVendor], vendor: str
) -> None:
    model, path = BODY_VENDORS[vendor]
    with running.client(**{"Provider-Key": VENDOR_KEY}) as client:
        client.post(f"/models/v2/{quote(model, safe='')}", json=CHAT)  # %2F: no dot segments to drop
        client.post("/v1/chat/completions", json={"model": model, **CHAT})
    assert [(r.path, r.query) for r in fakes[vendor].received] == [(path, "")] * 2
    upstream = model.split("/", 1)[1]
    assert [r.json()["model"] for r in fakes[vendor].received] == [upstream] * 2
