"""A fake vLLM (OpenAI-compatible server): chat and text completions, streamed the way vLLM
streams them (a role chunk, content chunks, a finish chunk, then a usage chunk when asked),
embeddings, `/v1/models` and `/health`. The Ollama and vLLM fixtures in
tests/fixtures/openai-compat/ are served for tools and for an unknown model.

`FakeWorker` is what every fake worker adds to `FakeVendor`: it counts the inference calls
in flight (`busy`, `peak`) and can pretend to be loading its model (503s).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec

from tests.fakes.openai import openai_embeddings
from tests.fakes.server import FakeVendor, Received, Reply

CHAT_PIECES = ("Hello", " from", " vLLM", ".")
CHAT_TEXT = "".join(CHAT_PIECES)
COMPLETION_PIECES = (" a", " window", " into", " the", " mind.")
COMPLETION_TEXT = "".join(COMPLETION_PIECES)
USAGE = {"prompt_tokens": 24, "completion_tokens": 4, "total_tokens": 28}
SSE = {"Content-Type": "text/event-stream; charset=utf-8"}


class FakeWorker(FakeVendor):
    """Scripted replies (`enqueue`) answer inference calls only: health checks, which the
    gateway sends on its own schedule, never take one."""

    def __init__(self) -> None:
        super().__init__(self._route)
        self.inference_script: deque[Reply] = deque()
        self.loading = False
        self.busy = 0
        self.peak = 0

    def respond(self, request: Received) -> Reply:
        raise NotImplementedError

    def _route(self, request: Received) -> Reply:
        if request.method == "POST" and self.inference_script:
            return self.inference_script.popleft()
        return self.respond(request)

    def enqueue(self, *replies: Reply) -> None:
        self.inference_script.extend(replies)

    def clear(self) -> None:
        super().clear()
        self.inference_script.clear()
        self.loading = False
        self.busy = self.peak = 0

    @property
    def inference_calls(self) -> list[Received]:
        return [request for request in self.received if request.method == "POST"]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        inference = scope["type"] == "http" and scope["method"] == "POST"
        if inference:
            self.busy += 1
            self.peak = max(self.peak, self.busy)
        try:
            await super().__call__(scope, receive, send)
        finally:
            if inference:
                self.busy -= 1


def _frame(payload: dict[str, Any]) -> bytes:
    return b"data: " + msgspec.json.encode(payload) + b"\n\n"


def chat_stream(
    model: str, pieces: tuple[str, ...] = CHAT_PIECES, *, usage: bool = True, **overrides: Any
) -> Reply:
    base = {"id": "chatcmpl-vllm-1", "object": "chat.completion.chunk", "created": 1795651200, "model": model}
    frames = [_frame({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})]
    frames += [
        _frame({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        for piece in pieces
    ]
    frames.append(
        _frame({**base, "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}]})
    )
    if usage:
        frames.append(_frame({**base, "choices": [], "usage": USAGE}))
    frames.append(b"data: [DONE]\n\n")
    reply = Reply(headers=SSE, events=frames)
    for key, value in overrides.items():
        setattr(reply, key, value)
    return reply


def completion_stream(
    model: str, pieces: tuple[str, ...] = COMPLETION_PIECES, *, usage: bool = True, **overrides: Any
) -> Reply:
    base = {"id": "cmpl-vllm-1", "object": "text_completion", "created": 1795651200, "model": model}
    frames = [
        _frame({**base, "choices": [{"index": 0, "text": piece, "finish_reason": None}], "usage": None})
        for piece in pieces
    ]
    frames.append(_frame({**base, "choices": [{"index": 0, "text": "", "finish_reason": "length"}]}))
    if usage:
        frames.append(_frame({**base, "choices": [], "usage": USAGE}))
    frames.append(b"data: [DONE]\n\n")
    reply = Reply(headers=SSE, events=frames)
    for key, value in overrides.items():
        setattr(reply, key, value)
    return reply


class FakeVLLM(FakeWorker):
    def __init__(
        self, model: str = "NousResearch/Hermes-3-Llama-3.1-8B", served: list[str] | None = None
    ) -> None:
        super().__init__()
        self.model = model
        self.served = served
        """What `GET /v1/models` lists (change it between health rounds to load or unload a
        model); None answers 404, as a server without that route does: the gateway then
        knows nothing of what it serves and sends it any model its pool's globs take."""

    def respond(self, request: Received) -> Reply:
        if request.method == "GET" and request.path == "/health":
            return Reply(status=503 if self.loading else 200)
        if request.method == "GET" and request.path == "/v1/models":
            if self.served is None:
                return Reply.json({"detail": "Not Found"}, status=404)
            listed = [{"id": model, "object": "model", "owned_by": "vllm"} for model in self.served]
            return Reply.json({"object": "list", "data": listed})
        if self.loading:
            return Reply.json(
                {"object": "error", "message": "loading", "type": "ServiceUnavailable"}, status=503
            )
        body = request.json() or {}
        if body.get("model") == "does-not-exist":
            return Reply.fixture("openai-compat/vllm-error-404.json")
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        if request.path == "/v1/chat/completions":
            if body.get("tools"):
                return Reply.fixture("openai-compat/ollama-tool-stream.sse")
            if body.get("stream"):
                return chat_stream(body["model"], usage=usage)
            return Reply.json(
                {
                    "id": "chatcmpl-vllm-1",
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": CHAT_TEXT},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": USAGE,
                }
            )
        if request.path == "/v1/completions":
            if body.get("stream"):
                return completion_stream(body["model"], usage=usage)
            return Reply.json(
                {
                    "id": "cmpl-vllm-1",
                    "object": "text_completion",
                    "model": body["model"],
                    "choices": [{"index": 0, "text": COMPLETION_TEXT, "finish_reason": "length"}],
                    "usage": USAGE,
                }
            )
        if request.path == "/v1/embeddings":
            return openai_embeddings(body)
        return Reply.fixture("openai-compat/vllm-error-404.json")
