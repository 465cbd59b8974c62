"""PDFs and file ids on the Responses API (`input_file`, `input_image` by `file_id`): each
vendor gets a PDF its own way, a file id reaches OpenAI alone, anything else is a clear 400."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor
from tests.surfaces.conftest import MODELS, VENDOR_KEY

PDF = base64.b64encode(
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
).decode()
PDF_URL = f"data:application/pdf;base64,{PDF}"
FILE = {"type": "input_file", "filename": "report.pdf", "file_data": PDF_URL}
BY_ID = {"type": "input_file", "file_id": "file-6F2ksmvXxt4VdoqmHRw6kL"}


def _ask(running: RunningGateway, vendor: str, part: dict[str, Any]) -> httpx.Response:
    content = [{"type": "input_text", "text": "What is in this file?"}, part]
    body = {"model": MODELS[vendor], "input": [{"role": "user", "content": content}]}
    headers = {"Authorization": f"Bearer {running.key}", "Provider-Key": VENDOR_KEY}
    return httpx.post(f"{running.url}/v1/responses", json=body, headers=headers, timeout=10)


def test_openai_gets_the_file_as_sent(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    for part in (FILE, BY_ID, {"type": "input_image", "file_id": "file-img-1"}):
        answer = _ask(running, "openai", part)
        assert answer.status_code == 200, answer.text
        sent = fakes["openai"].last.json()
        assert sent["input"][0]["content"][1] == part


def test_anthropic_gets_a_document_block(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    answer = _ask(running, "anthropic", FILE)
    assert answer.status_code == 200, answer.text
    [block] = [b for b in fakes["anthropic"].last.json()["messages"][0]["content"] if b["type"] == "document"]
    assert block["source"] == {"type": "base64", "media_type": "application/pdf", "data": PDF}
    assert block["title"] == "report"


def test_gemini_gets_inline_data(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    answer = _ask(running, "gemini", FILE)
    assert answer.status_code == 200, answer.text
    parts = fakes["gemini"].last.json()["contents"][0]["parts"]
    inline = [part for part in parts if "inlineData" in part or "inline_data" in part]
    assert inline, parts
    data = inline[0].get("inlineData") or inline[0]["inline_data"]
    assert (data.get("mimeType") or data.get("mime_type"), data["data"]) == ("application/pdf", PDF)


def test_a_vendor_without_pdfs_refuses_it_by_name(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    answer = _ask(running, "cohere", FILE)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "unsupported"
    assert "PDF" in error["message"] or "document" in error["message"]
    assert not fakes["cohere"].received


@pytest.mark.parametrize("part", [BY_ID, {"type": "input_image", "file_id": "file-img-1"}])
def test_a_file_id_anywhere_but_openai_is_a_clear_400(
    running: RunningGateway, fakes: dict[str, FakeVendor], part: dict[str, Any]
) -> None:
    answer = _ask(running, "anthropic", part)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "unsupported"
    assert "file_id" in error["message"] and "OpenAI" in error["message"]
    assert not fakes["anthropic"].received


def test_a_file_of_another_type_is_refused(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    zipped = {"type": "input_file", "file_data": "data:application/zip;base64,UEsDBA=="}
    answer = _ask(running, "mistral", zipped)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "unsupported"
    assert "application/zip" in json.dumps(answer.json())
    assert not fakes["mistral"].received
