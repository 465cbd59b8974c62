"""A fake Bytez model container: `POST /run`, `GET /health`, answering like the real Flask
containers do (Bytez-com/models): it reads `text` whatever the task, chat messages included;
in OpenAI mode (`params.compliance_format`) a chat stream is SSE `chat.completion` frames with
a `delta` and no usage, and a non-streamed chat answer carries `finish_reason` at the top
level; a text-generation stream is the raw tokens; any failure is 422 `{error, stack_trace}`;
503 while the model loads.

The media tasks answer what tests/fixtures/bytez/<task>.json holds, once the input the
container's pipeline reads is there: `text` for the text-to-* generators (their reply is
`{"output_png" | "output_wav" | "output_mp4": <base64>}`), `url` or `base64` for the tasks
that take media, `question` and `candidate_labels` where the pipeline needs them.
"""

from __future__ import annotations

from typing import Any

import msgspec

from tests.fakes.server import Received, Reply, fixture_bytes
from tests.fakes.vllm import FakeWorker

ANSWER_PIECES = ("Dreams", " are", " the", " mind", " sorting", " the", " day.")
ANSWER = "".join(ANSWER_PIECES)
CONTINUATION_PIECES = (" subconscious", ",", " they", " say.")
CONTINUATION = "".join(CONTINUATION_PIECES)
STACK_TRACE = (
    'Traceback (most recent call last):\n  File "/home/bytez/server/run_endpoint_handler.py", '
    "line 42, in run\n    text_input = request.json['text']\nKeyError: 'text'\n"
)
OPENAI_CHAT = "openai://chat/completions"
RAW_STREAM = {"Content-Type": "text/event-stream; charset=utf-8"}
TEXT_IN = frozenset({"text-to-image", "text-to-speech", "text-to-audio", "text-to-video"})
MEDIA_IN = frozenset(
    {
        "automatic-speech-recognition",
        "audio-classification",
        "object-detection",
        "image-segmentation",
        "image-to-text",
        "image-to-image",
        "visual-question-answering",
        "document-question-answering",
        "video-classification",
        "zero-shot-image-classification",
    }
)
NEEDS_QUESTION = frozenset({"visual-question-answering", "document-question-answering"})


def media_reply(task: str) -> Reply:
    """The container's reply for a media task, byte-exact from tests/fixtures/bytez/."""
    return Reply(headers={"Content-Type": "application/json"}, body=fixture_bytes(f"bytez/{task}.json"))


def _frame(payload: dict[str, Any]) -> bytes:
    return b"data: " + msgspec.json.encode(payload) + b"\n\n"


def openai_mode_stream(model: str) -> list[bytes]:
    """What the container's SingleTokenStreamer sends in OpenAI chat mode."""
    frames = []
    for position, piece in enumerate(ANSWER_PIECES):
        last = position == len(ANSWER_PIECES) - 1
        choice = {
            "index": 0,
            "delta": {"content": piece},
            "logprobs": None,
            "finish_reason": "stop" if last else None,
        }
        frames.append(
            _frame(
                {
                    "id": "chatcmpl-bytez1",
                    "object": "chat.completion",
                    "created": 1,
                    "model": model,
                    "choices": [choice],
                }
            )
        )
    return [*frames, b"data: [DONE]\n\n"]


def container_error(message: str) -> Reply:
    return Reply.json({"error": message, "stack_trace": STACK_TRACE}, status=422)


class FakeBytez(FakeWorker):
    def __init__(
        self, task: str = "text-generation", model: str = "openai-community/gpt2", *, openai_mode: bool = True
    ) -> None:
        super().__init__()
        self.task = task
        self.model = model
        self.openai_mode = openai_mode

    def respond(self, request: Received) -> Reply:
        if request.method == "GET" and request.path == "/health":
            return Reply(status=503 if self.loading else 200)
        if request.method != "POST" or request.path != "/run":
            return Reply(status=204)
        if self.loading:
            return Reply(status=503)
        body = request.json() or {}
        params = body.get("params") or {}
        stream = bool(body.get("stream"))
        if isinstance(body.get("text"), list):
            return self._chat(body["text"], params, stream)
        if self.task in TEXT_IN | MEDIA_IN | {"unconditional-image-generation"}:
            return self._media(body)
        handler = {
            "text-generation": self._generate,
            "feature-extraction": self._features,
            "question-answering": self._answer,
            "zero-shot-classification": self._classify,
            "image-classification": self._image,
        }[self.task]
        return handler(body, stream)

    def _chat(self, messages: list[dict[str, Any]], params: dict[str, Any], stream: bool) -> Reply:
        if self.openai_mode and params.get("compliance_format") == OPENAI_CHAT:
            if stream:
                return Reply(headers=RAW_STREAM, events=openai_mode_stream(self.model))
            return Reply.json(
                {
                    "id": "chatcmpl-bytez1",
                    "object": "chat.completion",
                    "model": self.model,
                    "choices": [
                        {
                            "message": {"role": "assistant", "content": ANSWER, "tool_calls": []},
                            "logprobs": None,
                        }
                    ],
                    "finish_reason": "stop",
                    "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
                }
            )
        if stream:
            return Reply(headers=RAW_STREAM, events=[piece.encode() for piece in ANSWER_PIECES])
        return Reply.json(
            {"output": [{"generated_text": [*messages, {"role": "assistant", "content": ANSWER}]}]}
        )

    def _generate(self, body: dict[str, Any], stream: bool) -> Reply:
        text = body.get("text")
        if not isinstance(text, str):
            return container_error("'text'")
        if stream:
            return Reply(headers=RAW_STREAM, events=[piece.encode() for piece in CONTINUATION_PIECES])
        return Reply.json({"output": [{"generated_text": text + CONTINUATION}]})

    def _features(self, body: dict[str, Any], stream: bool) -> Reply:
        text = str(body.get("text", ""))
        tokens = [[float(len(text)), 1.0, 0.0], [float(len(text)), 3.0, 2.0]]
        return Reply.json({"output": [tokens]})

    def _answer(self, body: dict[str, Any], stream: bool) -> Reply:
        context = body.get("context")
        if not isinstance(context, str) or "question" not in body:
            return container_error("question and context are required")
        return Reply.json({"output": {"answer": context.split()[-1], "score": 0.91, "start": 0, "end": 1}})

    def _classify(self, body: dict[str, Any], stream: bool) -> Reply:
        labels = body.get("candidate_labels") or []
        scores = [round(1 / (position + 2), 3) for position in range(len(labels))]
        return Reply.json({"output": {"sequence": body.get("text"), "labels": labels, "scores": scores}})

    def _image(self, body: dict[str, Any], stream: bool) -> Reply:
        if "url" not in body and "base64" not in body:
            return container_error("an image is required")
        return Reply.json({"output": [{"label": "tabby cat", "score": 0.93}]})

    def _media(self, body: dict[str, Any]) -> Reply:
        if self.task in TEXT_IN and not isinstance(body.get("text"), str):
            return container_error("'text'")
        if self.task in MEDIA_IN and not isinstance(body.get("url") or body.get("base64"), str):
            return container_error("Incorrect format used for image. Should be an url linking to an image")
        if self.task in NEEDS_QUESTION and not isinstance(body.get("question"), str):
            return container_error("'question'")
        if self.task == "zero-shot-image-classification" and not body.get("candidate_labels"):
            return container_error("'candidate_labels'")
        return media_reply(self.task)
