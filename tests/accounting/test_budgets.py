"""proxy/accounting/budgets.py's input estimate for both kinds of call: a chat turn from its
messages and tools, a task (its own Struct, with no messages or sampling) from the whole of
what the worker reads."""

from __future__ import annotations

import math

import msgspec

from proxy.accounting.budgets import BYTES_PER_TOKEN, MEDIA_TOKENS, input_tokens
from schemas.chat import ChatRequest, ImagePart, TextPart, UserMessage
from schemas.tasks import RunRequest


def test_a_task_is_estimated_from_everything_the_worker_reads() -> None:
    task = RunRequest(model="m", task="summarization", text="x" * 300, params={"max_new_tokens": 5})
    encoded = len(msgspec.json.encode(task)) - 2
    assert input_tokens(task) == math.ceil(encoded / BYTES_PER_TOKEN)
    longer = RunRequest(model="m", task="summarization", text="x" * 600, params={"max_new_tokens": 5})
    assert input_tokens(longer) - input_tokens(task) == 100


def test_a_chat_turn_is_estimated_from_its_text_and_media_parts() -> None:
    content = [TextPart(text="y" * 300), ImagePart(url="https://example.com/a.png")]
    chat = ChatRequest(model="m", messages=[UserMessage(content=content)])
    assert input_tokens(chat) == 100 + 8 + MEDIA_TOKENS
