"""A fake OpenAI: Chat Completions, Embeddings, models, the Responses API and the media
endpoints (image generation, speech, transcription), served from tests/fixtures/openai/,
tests/fixtures/openai-responses/ and tests/fixtures/bytez/."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import struct
from dataclasses import dataclass
from typing import Any

import msgspec

from adapters.openai import OpenAIAdapter
from schemas.errors import Code
from tests.fakes.kit import VendorKit
from tests.fakes.server import MANIFEST, FakeVendor, Received, Reply, fixture_bytes


def fake_vector(text: str, dimensions: int = 8) -> list[float]:
    """A deterministic vector, exact in float32: element 0 is the text's length, so order shows."""
    return [float(len(text))] + [((len(text) * (i + 2)) % 17) / 4 for i in range(dimensions - 1)]


def fake_tokens(texts: list[str]) -> int:
    return sum(len(text.split()) for text in texts)


def openai_embeddings(body: dict[str, Any]) -> Reply:
    """OpenAI's `/v1/embeddings`: floats, or base64 float32 when `encoding_format` says so."""
    texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
    vectors = [fake_vector(text, body.get("dimensions", 8)) for text in texts]
    data: list[dict[str, Any]] = []
    for index, vector in enumerate(vectors):
        embedding: Any = vector
        if body.get("encoding_format") == "base64":
            embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = fake_tokens(texts)
    return Reply.json(
        {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


# -- media ------------------------------------------------------------------------------------

FAKE_PNG = fixture_bytes("bytez/image.png")
FAKE_WAV = fixture_bytes("bytez/speech.wav")
FAKE_MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(range(256)) * 40
"""An ID3 tag and MPEG frame headers: what `/audio/speech` sends for mp3, in several chunks."""
TRANSCRIPT = "Dreams are the mind sorting the day."
TRANSCRIBED_SECONDS = 3.2
IMAGE_USAGE = {
    "input_tokens": 50,
    "input_tokens_details": {"image_tokens": 40, "text_tokens": 10},
    "output_tokens": 4160,
    "total_tokens": 4210,
}
"""What gpt-image-1 reports (`usage`) for one image; DALL·E models report none."""
SPEECH_USAGE = {"input_tokens": 14, "output_tokens": 101, "total_tokens": 115}
"""What gpt-4o-mini-tts reports on `speech.audio.done`."""
TRANSCRIBE_USAGE = {
    "type": "tokens",
    "input_tokens": 31,
    "input_token_details": {"text_tokens": 3, "audio_tokens": 28},
    "output_tokens": 9,
    "total_tokens": 40,
}
"""What the gpt-4o transcribe models report: the audio's tokens apart from the prompt's."""
SPEECH_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "opus": "audio/ogg", "flac": "audio/flac"}


def openai_images(body: dict[str, Any]) -> Reply:
    """`/v1/images/generations`: `n` images, base64 or (DALL·E with `response_format: url`) URLs."""
    model = body.get("model", "dall-e-2")
    count = body.get("n", 1)
    url = body.get("response_format", "url" if model.startswith("dall-e") else "b64_json") == "url"
    data: list[dict[str, Any]] = []
    for index in range(count):
        image: dict[str, Any] = (
            {"url": f"https://oaidalleapiprodscus.blob.core.windows.net/private/img-{index}.png"}
            if url
            else {"b64_json": base64.b64encode(FAKE_PNG).decode()}
        )
        if model == "dall-e-3":
            image["revised_prompt"] = f"A detailed picture of {body.get('prompt', '')}"
        data.append(image)
    reply: dict[str, Any] = {"created": 1795651200, "data": data}
    if model.startswith("gpt-image"):
        reply.update(
            background="opaque",
            output_format=body.get("output_format", "png"),
            quality=body.get("quality", "medium"),
            size=body.get("size", "1024x1024"),
            usage={**IMAGE_USAGE, "output_tokens": IMAGE_USAGE["output_tokens"] * count},
        )
    return Reply.json(reply)


def openai_speech(body: dict[str, Any]) -> Reply:
    """`/v1/audio/speech`: the audio itself, chunked, typed by `response_format` (mp3 default);
    with `stream_format: "sse"` (GPT speech models only, as OpenAI answers), the audio as
    base64 `speech.audio.delta` events and the tokens on `speech.audio.done`."""
    audio_format = body.get("response_format", "mp3")
    audio = FAKE_WAV if audio_format == "wav" else FAKE_MP3
    chunks = [audio[start : start + 4096] for start in range(0, len(audio), 4096)]
    if body.get("stream_format") == "sse":
        if not str(body.get("model", "")).startswith("gpt-"):
            message = "stream_format sse is not supported for tts-1 or tts-1-hd"
            return Reply.json({"error": {"message": message, "type": "invalid_request_error"}}, 400)
        frames = [
            b"data: "
            + msgspec.json.encode({"type": "speech.audio.delta", "audio": base64.b64encode(chunk).decode()})
            + b"\n\n"
            for chunk in chunks
        ]
        done = {"type": "speech.audio.done", "usage": SPEECH_USAGE}
        frames.append(b"data: " + msgspec.json.encode(done) + b"\n\n")
        return Reply(headers={"Content-Type": "text/event-stream"}, events=frames)
    return Reply(headers={"Content-Type": SPEECH_TYPES.get(audio_format, "audio/mpeg")}, events=chunks)


@dataclass
class FormPart:
    name: str
    filename: str | None
    content_type: str
    data: bytes


def form_parts(request: Received) -> list[FormPart]:
    """A multipart/form-data body, part by part, as a server's parser reads it."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    parts = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        parts.append(
            FormPart(
                name=str(part.get_param("name", header="content-disposition")),
                filename=part.get_filename(),
                content_type=part.get_content_type(),
                data=payload if isinstance(payload, bytes) else b"",
            )
        )
    return parts


def openai_transcription(request: Received) -> Reply:
    """`/v1/audio/transcriptions`: multipart with one `file`; json (whisper-1 reports the
    audio's duration as `usage`), verbose_json, or the text alone (text, srt, vtt)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return Reply.json({"error": {"message": "multipart expected", "type": "invalid_request_error"}}, 400)
    parts = form_parts(request)
    fields = {part.name: part.data.decode() for part in parts if part.filename is None}
    files = [part for part in parts if part.filename is not None]
    if "model" not in fields or len(files) != 1 or not files[0].data:
        return Reply.json(
            {"error": {"message": "file and model are required", "type": "invalid_request_error"}}, 400
        )
    answer = fields.get("response_format", "json")
    if answer == "text":
        return Reply(headers={"Content-Type": "text/plain; charset=utf-8"}, body=(TRANSCRIPT + "\n").encode())
    if answer == "verbose_json":
        return Reply.json(
            {
                "task": "transcribe",
                "language": "english",
                "duration": TRANSCRIBED_SECONDS,
                "text": TRANSCRIPT,
                "segments": [{"id": 0, "start": 0.0, "end": TRANSCRIBED_SECONDS, "text": TRANSCRIPT}],
                "usage": {"type": "duration", "seconds": 4},
            }
        )
    if fields["model"].startswith("gpt-"):
        return Reply.json({"text": TRANSCRIPT, "usage": TRANSCRIBE_USAGE})
    return Reply.json({"text": TRANSCRIPT, "usage": {"type": "duration", "seconds": 4}})


MEDIA_PATHS = ("/v1/images/generations", "/v1/audio/speech", "/v1/audio/transcriptions")


def openai_media(request: Received) -> Reply | None:
    """The media endpoints' answer, or None when the request is for another path."""
    if request.method != "POST" or request.path not in MEDIA_PATHS:
        return None
    if request.path == "/v1/audio/transcriptions":
        return openai_transcription(request)
    body = request.json() or {}
    return openai_images(body) if request.path == "/v1/images/generations" else openai_speech(body)


def openai_media_worker() -> FakeVendor:
    """An OpenAI-protocol media server (LocalAI, Speaches, vLLM's transcription endpoint):
    the same endpoints, no key required, 404 for anything else."""

    def respond(request: Received) -> Reply:
        answer = openai_media(request)
        return answer if answer is not None else Reply.fixture("openai/error-404.json")

    return FakeVendor(respond)


RESPONSES_SSE = {"Content-Type": "text/event-stream; charset=utf-8"}


def _responses_frame(payload: dict[str, Any], sequence: int) -> bytes:
    return (
        f"event: {payload['type']}\ndata: ".encode()
        + msgspec.json.encode({**payload, "sequence_number": sequence})
        + b"\n\n"
    )


def _item_events(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    """One output item's events, as the Responses stream grammar orders them."""
    common = {"item_id": item.get("id"), "output_index": index}
    kind = item["type"]
    opened: dict[str, Any] = {**item, "status": "in_progress"}
    events: list[dict[str, Any]] = []
    if kind == "message":
        opened["content"] = []
        events.append({"type": "response.output_item.added", "output_index": index, "item": opened})
        for position, part in enumerate(item["content"]):
            at = {**common, "content_index": position}
            text = part.get("text", "")
            events.append({"type": "response.content_part.added", **at, "part": {**part, "text": ""}})
            for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
                events.append({"type": "response.output_text.delta", **at, "delta": piece, "logprobs": []})
            events.append({"type": "response.output_text.done", **at, "text": text, "logprobs": []})
            events.append({"type": "response.content_part.done", **at, "part": part})
    elif kind == "function_call":
        opened["arguments"] = ""
        events.append({"type": "response.output_item.added", "output_index": index, "item": opened})
        events.append(
            {"type": "response.function_call_arguments.delta", **common, "delta": item["arguments"]}
        )
        events.append(
            {
                "type": "response.function_call_arguments.done",
                **common,
                "name": item["name"],
                "arguments": item["arguments"],
            }
        )
    elif kind == "reasoning":
        opened["summary"] = []
        events.append({"type": "response.output_item.added", "output_index": index, "item": opened})
        for position, part in enumerate(item.get("summary") or []):
            at = {**common, "summary_index": position}
            events.append(
                {"type": "response.reasoning_summary_part.added", **at, "part": {**part, "text": ""}}
            )
            events.append({"type": "response.reasoning_summary_text.delta", **at, "delta": part["text"]})
            events.append({"type": "response.reasoning_summary_text.done", **at, "text": part["text"]})
            events.append({"type": "response.reasoning_summary_part.done", **at, "part": part})
    else:  # a built-in tool's call: web_search_call and its kin
        events.append({"type": "response.output_item.added", "output_index": index, "item": opened})
        for phase in ("in_progress", "searching", "completed"):
            events.append({"type": f"response.{kind}.{phase}", **common})
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events


def responses_stream(response: dict[str, Any]) -> Reply:
    """OpenAI's Responses stream for a finished response object: `response.created`, each
    item's events, `response.completed` (used where tests/fixtures/ has no recorded stream)."""
    started = {**response, "status": "in_progress", "output": [], "usage": None, "completed_at": None}
    payloads: list[dict[str, Any]] = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
    ]
    for index, item in enumerate(response["output"]):
        payloads.extend(_item_events(index, item))
    payloads.append({"type": "response.completed", "response": response})
    return Reply(headers=RESPONSES_SSE, events=[_responses_frame(p, n) for n, p in enumerate(payloads)])


ECHOED = (
    "instructions",
    "max_output_tokens",
    "metadata",
    "parallel_tool_calls",
    "temperature",
    "top_p",
    "user",
)
"""Request fields OpenAI echoes in the response object: the fixture's answer carries the request's."""


def responses_fixture(body: dict[str, Any]) -> str:
    """Which tests/fixtures/openai-responses/ answer a `/v1/responses` body gets."""
    kinds = {tool.get("type") for tool in body.get("tools") or [] if isinstance(tool, dict)}
    if kinds & {"function", "custom", "namespace"}:
        return "function-call"
    if any(str(kind).startswith("web_search") for kind in kinds):
        return "web-search"
    if body.get("reasoning"):
        return "reasoning"
    return "text"


def openai_responses(body: dict[str, Any]) -> Reply:
    """OpenAI's `/v1/responses`, from the spec's examples in tests/fixtures/openai-responses/:
    the recorded stream where there is one, else the stream of the same answer."""
    name = responses_fixture(body)
    if not body.get("stream"):
        answer = responses_answer(f"{name}.json")
        echoed = {key: body[key] for key in ECHOED if key in body}
        return Reply.json(
            {**answer, **echoed}, headers=dict(MANIFEST[f"openai-responses/{name}.json"]["headers"])
        )
    if name in ("text", "function-call"):
        return Reply.fixture(f"openai-responses/{'stream' if name == 'text' else 'function-call-stream'}.sse")
    return responses_stream(msgspec.json.decode(fixture_bytes(f"openai-responses/{name}.json")))


def responses_answer(name: str) -> dict[str, Any]:
    """A tests/fixtures/openai-responses/ answer, decoded (what a test expects back)."""
    answer: dict[str, Any] = msgspec.json.decode(fixture_bytes(f"openai-responses/{name}"))
    return answer


def responses_stream_text() -> str:
    """The text the recorded Responses stream (stream.sse) delivers."""
    frames = [frame for frame in fixture_bytes("openai-responses/stream.sse").split(b"\n\n") if frame]
    payloads = [msgspec.json.decode(frame.split(b"data: ", 1)[1]) for frame in frames]
    return "".join(p["delta"] for p in payloads if p["type"] == "response.output_text.delta")


RESPONSES_MID_STREAM_ERROR = Reply(
    headers=RESPONSES_SSE,
    events=[
        _responses_frame(payload, sequence)
        for sequence, payload in enumerate(
            [
                {"type": "response.created", "response": {**responses_answer("text.json"), "output": []}},
                {
                    "type": "response.output_item.added",
                    "output_index": 0,
                    "item": {
                        "id": "msg_1",
                        "type": "message",
                        "status": "in_progress",
                        "role": "assistant",
                        "content": [],
                    },
                },
                {
                    "type": "response.output_text.delta",
                    "item_id": "msg_1",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": "Hi",
                    "logprobs": [],
                },
                {
                    "type": "error",
                    "code": "server_error",
                    "message": "The server had an error",
                    "param": None,
                },
            ]
        )
    ],
)
"""A Responses stream that fails after some text, with OpenAI's `error` event."""


COMPLETION_TEXT = "\n\nThis is indeed a test"
"""The spec's `/completions` example answer ("No streaming"), which the fake gives every prompt."""
COMPLETION_PIECES = ("\n\nThis", " is", " indeed", " a", " test")


def _logprobs(text: str, offset: int) -> dict[str, Any]:
    tokens = [piece for piece in COMPLETION_PIECES if piece] if text == COMPLETION_TEXT else [text]
    return {
        "tokens": tokens,
        "token_logprobs": [-0.25] * len(tokens),
        "top_logprobs": [{token: -0.25} for token in tokens],
        "text_offset": [offset + sum(len(t) for t in tokens[:i]) for i in range(len(tokens))],
    }


def openai_text_completions(body: dict[str, Any]) -> Reply:
    """OpenAI's legacy `/v1/completions`: one choice per prompt and `n`, `echo` prefixing the
    prompt, `logprobs` as the legacy object, streamed as `text_completion` chunks (a usage
    chunk last with `stream_options.include_usage`), as the spec's examples show."""
    prompts = body.get("prompt")
    prompts = prompts if isinstance(prompts, list) else [prompts or ""]
    count = int(body.get("n") or 1)
    base = {"id": "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7", "object": "text_completion", "created": 1589478378}
    base.update(model=body["model"], system_fingerprint="fp_44709d6fcb")
    usage = {"prompt_tokens": 5 * len(prompts), "completion_tokens": 7 * len(prompts) * count}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    choices = []
    for index in range(len(prompts) * count):
        prompt = str(prompts[index // count]) if body.get("echo") else ""
        choice = {
            "text": prompt + COMPLETION_TEXT,
            "index": index,
            "logprobs": None,
            "finish_reason": "length",
        }
        if body.get("logprobs") is not None:
            choice["logprobs"] = _logprobs(COMPLETION_TEXT, len(prompt))
        choices.append(choice)
    if not body.get("stream"):
        return Reply.json({**base, "choices": choices, "usage": usage})
    frames: list[bytes] = []
    for choice in choices:
        prompt = choice["text"].removesuffix(COMPLETION_TEXT)
        for position, piece in enumerate(((prompt,) if prompt else ()) + COMPLETION_PIECES):
            last = position == len(COMPLETION_PIECES) - (0 if prompt else 1)
            delta = {
                "text": piece,
                "index": choice["index"],
                "logprobs": None,
                "finish_reason": "length" if last else None,
            }
            frames.append(b"data: " + msgspec.json.encode({**base, "choices": [delta]}) + b"\n\n")
    if (body.get("stream_options") or {}).get("include_usage"):
        frames.append(b"data: " + msgspec.json.encode({**base, "choices": [], "usage": usage}) + b"\n\n")
    frames.append(b"data: [DONE]\n\n")
    return Reply(headers=RESPONSES_SSE, events=frames)


def openai_responder(request: Received) -> Reply:
    if not request.headers.get("authorization", "").startswith("Bearer "):
        return Reply.fixture("openai/error-401.json")
    media = openai_media(request)
    if media is not None:
        return media
    if request.method == "GET" and request.path == "/v1/models":
        return Reply.json(
            {
                "object": "list",
                "data": [
                    {"id": "gpt-4.1-mini", "object": "model", "created": 1795651200, "owned_by": "system"}
                ],
            }
        )
    if request.method == "POST" and request.path == "/v1/embeddings":
        return openai_embeddings(request.json() or {})
    if request.method == "POST" and request.path == "/v1/responses":
        return openai_responses(request.json() or {})
    if request.method == "POST" and request.path == "/v1/completions":
        return openai_text_completions(request.json() or {})
    if request.method != "POST" or request.path != "/v1/chat/completions":
        return Reply.fixture("openai/error-404.json")
    body = request.json() or {}
    tools = bool(body.get("tools"))
    if body.get("stream"):
        return Reply.fixture("openai/tool-stream.sse" if tools else "openai/chat-stream.sse")
    return Reply.fixture("openai/tool.json" if tools else "openai/chat.json")


def fake_openai() -> FakeVendor:
    return FakeVendor(openai_responder)


def _check_image(body: Any) -> None:
    parts = body["messages"][-1]["content"]
    images = [part["image_url"]["url"] for part in parts if part["type"] == "image_url"]
    assert images[0] == "https://example.com/cat.png"
    assert images[1].startswith("data:image/png;base64,")


def _check_json(body: Any) -> None:
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["city"]


def _check_key(headers: dict[str, str], key: str) -> None:
    assert headers["authorization"] == f"Bearer {key}"


KIT = VendorKit(
    name="openai",
    make_fake=fake_openai,
    make_adapter=OpenAIAdapter,
    base_url=lambda url: f"{url}/v1",
    model="gpt-4.1-mini",
    text="Hello! How can I help you today?",
    tool_name="get_weather",
    tool_arguments={"city": "Paris"},
    usage=(19, 10),
    errors={
        Code.AUTHENTICATION: Reply.fixture("openai/error-401.json"),
        Code.NOT_FOUND: Reply.fixture("openai/error-404.json"),
        Code.RATE_LIMITED: Reply.fixture("openai/error-429.json"),
        Code.SERVER_ERROR: Reply.json(
            {
                "error": {
                    "message": "The server had an error",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            },
            status=500,
        ),
        Code.OVERLOADED: Reply.json(
            {"error": {"message": "overloaded", "type": "server_error", "param": None, "code": None}},
            status=503,
        ),
        Code.CONTEXT_LENGTH: Reply.json(
            {
                "error": {
                    "message": "This model's maximum context length is 128000 tokens.",
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "context_length_exceeded",
                }
            },
            status=400,
        ),
        Code.INVALID_REQUEST: Reply.json(
            {
                "error": {
                    "message": "Invalid value for 'temperature'.",
                    "type": "invalid_request_error",
                    "param": "temperature",
                    "code": None,
                }
            },
            status=400,
        ),
        Code.PERMISSION: Reply.json(
            {
                "error": {
                    "message": "Project does not have access",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "unsupported_country_region_territory",
                }
            },
            status=403,
        ),
    },
    multi_tool_replies=(
        Reply.fixture("openai/tools-multi.json"),
        Reply.fixture("openai/tools-multi-stream.sse"),
    ),
    image_check=_check_image,
    json_check=_check_json,
    key_check=_check_key,
    mid_stream_error=Reply(
        headers={"Content-Type": "text/event-stream; charset=utf-8"},
        events=[
            b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1-mini",'
            b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n',
            b'data: {"error":{"message":"The server had an error while processing your request.",'
            b'"type":"server_error","param":null,"code":null}}\n\n',
        ],
    ),
)
