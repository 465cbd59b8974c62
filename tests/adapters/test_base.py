"""The request half of the adapter contract (adapters/base.py): a call carries a chat turn or
a task, two unrelated Structs, and each adapter narrows it once at its entry point, so a
task sent to a chat-only path (or a chat turn to `run`) is a typed refusal before any I/O."""

from __future__ import annotations

import msgspec
import pytest

from adapters.anthropic import AnthropicAdapter
from adapters.base import Adapter, UpstreamCall, chat_request, task_request
from adapters.bytez_worker import BytezWorkerAdapter
from adapters.cohere import CohereAdapter
from adapters.gemini import GeminiAdapter
from adapters.mistral import MistralAdapter
from adapters.openai import OpenAIAdapter
from adapters.openai_compat import OpenAICompatAdapter
from schemas.chat import ChatRequest, UserMessage
from schemas.errors import Code, GatewayError
from schemas.media import MediaRequest
from schemas.tasks import RunRequest

CHAT = ChatRequest(model="m", messages=[UserMessage(content="hi")])
TASK = RunRequest(model="m", task="summarization", text="a long text")
# an unroutable address: a test that reached the network would fail to connect, not pass
NOWHERE = "http://127.0.0.1:9/v1"


def _call(request: ChatRequest | RunRequest) -> UpstreamCall:
    return UpstreamCall(request=request, model="m", api_key="sk-test", base_url=NOWHERE)


def test_a_task_is_not_a_chat_request() -> None:
    """No code can read a task's messages or sampling by mistake: it has none."""
    assert not isinstance(TASK, ChatRequest)
    assert not hasattr(TASK, "messages") and not hasattr(TASK, "sampling")
    assert issubclass(MediaRequest, RunRequest) and not issubclass(MediaRequest, ChatRequest)
    encoded = msgspec.json.decode(msgspec.json.encode(TASK))
    assert encoded == {"model": "m", "task": "summarization", "text": "a long text"}


def test_a_task_decodes_from_its_own_fields_alone() -> None:
    task = msgspec.convert({"model": "m", "task": "fill-mask", "text": "x [MASK]"}, RunRequest)
    assert (task.task, task.text, task.stream, task.params) == ("fill-mask", "x [MASK]", False, {})


def test_chat_request_narrows_a_chat_turn_and_refuses_a_task() -> None:
    assert chat_request(_call(CHAT), "openai") is CHAT
    with pytest.raises(GatewayError) as refused:
        chat_request(_call(TASK), "openai")
    assert refused.value.code is Code.UNSUPPORTED
    assert "openai" in refused.value.message and "summarization" in refused.value.message


def test_task_request_narrows_a_task_and_refuses_a_chat_turn() -> None:
    assert task_request(_call(TASK), "pool:w") is TASK
    with pytest.raises(GatewayError) as refused:
        task_request(_call(CHAT), "pool:w")
    assert refused.value.code is Code.UNSUPPORTED and "pool:w" in refused.value.message


VENDORS: list[Adapter] = [
    AnthropicAdapter(),
    OpenAIAdapter(),
    GeminiAdapter(),
    MistralAdapter(),
    CohereAdapter(),
]


@pytest.mark.parametrize("adapter", VENDORS, ids=lambda adapter: adapter.name)
async def test_a_vendor_refuses_a_task_on_its_chat_paths_before_calling(adapter: Adapter) -> None:
    with pytest.raises(GatewayError) as unary:
        await adapter.complete(_call(TASK))
    assert unary.value.code is Code.UNSUPPORTED
    with pytest.raises(GatewayError) as streamed:
        await anext(adapter.stream(_call(TASK)))
    assert streamed.value.code is Code.UNSUPPORTED
    await adapter.aclose()


async def test_a_worker_streams_text_generation_only() -> None:
    for worker in (BytezWorkerAdapter("pool:w"), OpenAICompatAdapter("pool:w")):
        with pytest.raises(GatewayError) as refused:
            await anext(worker.stream(_call(TASK)))
        assert refused.value.code is Code.UNSUPPORTED and "summarization" in refused.value.message
        with pytest.raises(GatewayError) as chat_to_run:
            await worker.run(_call(CHAT))
        assert chat_to_run.value.code is Code.UNSUPPORTED
        await worker.aclose()
