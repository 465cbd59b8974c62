"""A vendor error page that echoes the caller's key never hands any of it back (S1): the
secret is removed before the page is cut for quoting, and a cut start of a known secret
(8 characters or more) is removed too, from answers and from logs."""

from __future__ import annotations

import pytest

from proxy.server.redaction import redact, remember_secrets
from schemas.secrets import without_secret
from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor, Reply
from tests.surfaces.conftest import MODELS

# not key-shaped (no sk-/AIza prefix), as Cohere's keys are: only knowing it finds it
KEY = "Zq8vN3kLmP0aBcDeFgHiJkLmNoPqRsTuVwXyZ012"


def _page(cut: int = 300, kept: int = 12) -> bytes:
    """An HTML error page whose first `cut` characters end `kept` characters into the key."""
    head = b"<html><body><h1>400 Bad Request</h1><p>key "
    filler = b"x" * (cut - len(head) - kept)
    return head + filler + KEY.encode() + b" was refused</p></body></html>"


@pytest.mark.parametrize("vendor", sorted(MODELS))
def test_a_cut_error_page_never_leaves_the_start_of_the_key(
    running: RunningGateway, fakes: dict[str, FakeVendor], vendor: str
) -> None:
    fakes[vendor].enqueue(Reply(status=400, headers={"Content-Type": "text/html"}, body=_page()))
    with running.client(**{"Provider-Key": KEY}) as client:
        response = client.post(
            f"/models/v2/{MODELS[vendor]}", json={"messages": [{"role": "user", "content": "hi"}]}
        )
    assert response.status_code == 400, response.text
    assert fakes[vendor].received, "the vendor was called"
    assert "400 Bad Request" in response.text  # the page is still quoted
    assert KEY[:8] not in response.text, response.text


def test_a_cut_secret_is_removed_from_text_and_from_logs() -> None:
    cut = f"denied for {KEY[:12]}"
    assert without_secret(cut, KEY) == "denied for [redacted]"
    assert without_secret(f"{KEY} and {KEY[:9]}!", KEY) == "[redacted] and [redacted]!"
    assert without_secret(f"{KEY[:7]} stays", KEY) == f"{KEY[:7]} stays"  # too short to tell
    remember_secrets([KEY])
    assert KEY[:8] not in redact(f"upstream said: ...{KEY[:10]}")
