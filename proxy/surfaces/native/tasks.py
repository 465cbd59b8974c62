"""A native body → a `RunRequest` for a non-chat task, by the model's task.

The Bytez SDKs map their one `input` argument to the field the model's task reads (`text`,
`messages`, `url`/`base64`, `candidate_labels`+`text`, ...) and send `input` itself only for
the tasks they do not know; a client of the HTTP API sends the named fields. Both work here.
What a task needs is checked before a worker is called, so a malformed call is a 400, not a
worker's 422.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET

from proxy.routing.routes import Resolution
from proxy.surfaces.media_routing import vendor_runs
from proxy.surfaces.native.decode import NEVER_FORWARDED
from proxy.surfaces.native.encode import billing_summary
from proxy.surfaces.native.media_input import check_media_input
from schemas.config import MediaConfig
from schemas.errors import Code, GatewayError
from schemas.native import Envelope, NativeBody
from schemas.tasks import (
    LABEL_TASKS,
    MEDIA_OUTPUT_TASKS,
    MEDIA_TASKS,
    QUESTION_TASKS,
    STREAMING_TASKS,
    TEXT_TASKS,
    RunRequest,
    TaskResult,
    token_usage,
)

_FIELDS = ("text", "url", "base64", "question", "context", "candidate_labels")


def _invalid(message: str) -> GatewayError:
    return GatewayError(Code.INVALID_REQUEST, message)


def _media_field(value: str) -> str:
    if value.startswith(("http://", "https://")):
        return "url"
    if value.startswith("data:"):
        return "base64"
    raise _invalid("input: a media input is an http(s) URL or a data URL")


def _from_input(task: str, value: Any, fields: dict[str, Any]) -> Any:
    """Fill the task's named fields from `input`; what fits none of them is passed on as is."""
    if isinstance(value, dict):
        rest = {}
        for name, item in value.items():
            if name in _FIELDS and name not in fields:
                fields[name] = item
            else:
                rest[name] = item
        return rest or UNSET
    if isinstance(value, str):
        media = value.startswith(("http://", "https://", "data:"))
        if task in TEXT_TASKS or (task in LABEL_TASKS and not media):
            fields.setdefault("text", value)
            return UNSET
        if task in MEDIA_TASKS or task in LABEL_TASKS or task in QUESTION_TASKS - {"question-answering"}:
            fields.setdefault(_media_field(value), value)
            return UNSET
    return value


def _check(task: str, fields: dict[str, Any], passthrough: Any) -> None:
    has = {name for name, value in fields.items() if value is not None}
    media = bool(has & {"url", "base64"})
    if task in TEXT_TASKS and "text" not in has:
        raise _invalid(f"{task} needs `text`")
    if task in MEDIA_TASKS and not media:
        raise _invalid(f"{task} needs `url` (http/https) or `base64` (a data URL)")
    if task in LABEL_TASKS and ("candidate_labels" not in has or not (media or "text" in has)):
        raise _invalid(f"{task} needs `candidate_labels` and its input (`text`, `url` or `base64`)")
    if task == "question-answering" and not {"question", "context"} <= has:
        raise _invalid("question-answering needs `question` and `context`")
    if task in QUESTION_TASKS - {"question-answering"} and ("question" not in has or not media):
        raise _invalid(f"{task} needs `question` and `url` or `base64`")
    if not has and passthrough is UNSET and task != "unconditional-image-generation":
        raise _invalid(f"the body needs an input for {task}: text, url, base64, question, ... or input")
    url = fields.get("url")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise _invalid("url must be an http(s) URL (send files as `base64`, a data URL)")


def run_request(
    model_id: str, task: str, body: NativeBody, max_media_bytes: int = MediaConfig().max_bytes
) -> RunRequest:
    """The task's RunRequest; `max_media_bytes` caps a base64 input (`[media] max_bytes`)."""
    fields: dict[str, Any] = {
        name: getattr(body, name) for name in _FIELDS if getattr(body, name) is not UNSET
    }
    passthrough = _from_input(task, body.input, fields) if body.input is not UNSET else UNSET
    _check(task, fields, passthrough)
    url, data_url = fields.get("url"), fields.get("base64")
    if data_url is not None and not isinstance(data_url, str):
        raise _invalid("base64 must be a string (a data URL)")
    check_media_input(task, url, data_url, max_media_bytes)
    params = body.params if body.params is not UNSET else {}
    data: dict[str, Any] = {
        "model": model_id,
        "task": task,
        "stream": body.stream and task in STREAMING_TASKS,
        "raw_media": body.json is False and task in MEDIA_OUTPUT_TASKS,
        "params": {name: value for name, value in params.items() if name.lower() not in NEVER_FORWARDED},
        **{name: value for name, value in fields.items() if value is not None},
    }
    if passthrough is not UNSET:
        data["input"] = passthrough
    try:
        return msgspec.convert(data, RunRequest)
    except msgspec.ValidationError as error:
        raise _invalid(f"invalid body: {error}") from None


def check_pool_targets(resolution: Resolution) -> None:
    """Tasks other than chat run on worker pools, and media tasks on the vendors that sell
    them (OpenAI's image, speech and transcription models); no other vendor takes one."""
    for target in resolution.targets:
        if target.pool is None and not vendor_runs(target, resolution.task):
            raise GatewayError(
                Code.UNSUPPORTED,
                f"{resolution.model_id} is a {resolution.task} model routed to {target.name}, "
                "which runs chat only; route it to a worker pool",
            )


def task_envelope(done: TaskResult, request_id: str, model_id: str) -> Envelope:
    """A task's answer (text generation, embeddings, classification, media as base64):
    `output` exactly as the worker gave it; `usage` null where the worker counted no tokens
    (a pool task is billed by inference time); `provider` null, since no vendor's raw reply
    exists beside the output."""
    return Envelope(
        error=None,
        code=None,
        output=done.response.output,
        usage=token_usage(done.response.usage),
        billing=billing_summary(done.billing),
        provider=None,
        warnings=[],
        id=request_id,
        model=model_id,
    )
