"""Claude Code itself (`@anthropic-ai/claude-code`, from npm, pinned) unchanged on unigate:
`claude -p ... --output-format json` with `ANTHROPIC_BASE_URL` at a real `unigate serve`
process, routed once to a fake Anthropic (Claude Code's own default model) and once to a
fake OpenAI. Each run is one streamed tool-use round: the vendor asks for Claude Code's Read
tool on a file in its working directory, Claude Code reads it and sends the result back, the
vendor answers.

The pinned package is installed once into ~/.cache/unigate-tests with npm, as Codex CLI is
for the Responses tests; its native binary is the npm-hosted platform package
(`@anthropic-ai/claude-code-linux-x64`) that npm installs as an optional dependency. Nothing
comes from anywhere but npm. The CLI runs offline: a temporary HOME, no telemetry, no
updater, no nonessential traffic.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.server import Received, Reply
from tests.serve_process import UnigateServe
from tests.surfaces.conftest import KITS, VENDOR_KEY, Vendors, gateway_config

VERSION = "2.1.328"
PACKAGE = f"@anthropic-ai/claude-code@{VERSION}"
CACHE = Path.home() / ".cache" / "unigate-tests" / "claude-code"
ROUTES = '[[routes]]\nmatch = "claude-*"\nprovider = "anthropic"\n'
DEFAULT_MODEL = "claude-opus-5-5"
"""What 2.1.328 asks for when no model is chosen."""
OPENAI_MODEL = "openai/gpt-4.1-mini"
NOTE = "The gateway's canary word is heliotrope-7731.\n"
PROMPT = "Read notes.txt and tell me the canary word."
SSE = {"Content-Type": "text/event-stream; charset=utf-8"}


def _binary(prefix: Path) -> Path | None:
    """The native CLI: the main package's `bin/claude.exe` once its postinstall linked the
    platform binary in (a small stub before), else the platform package's own binary."""
    modules = prefix / "node_modules" / "@anthropic-ai"
    linked = modules / "claude-code" / "bin" / "claude.exe"
    if linked.is_file() and linked.stat().st_size > 1_000_000:
        return linked
    machine = {"x86_64": "x64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    native = modules / f"claude-code-linux-{machine}" / "claude"
    return native if native.is_file() else None


@pytest.fixture(scope="session")
def claude_cli() -> Path:
    installed = CACHE / "node_modules" / "@anthropic-ai" / "claude-code" / "package.json"
    if not installed.is_file() or json.loads(installed.read_text())["version"] != VERSION:
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to install Claude Code for this test")
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--prefix", str(CACHE), "--no-audit", "--no-fund", PACKAGE],
            check=True,
            timeout=600,
            capture_output=True,
        )
    binary = _binary(CACHE)
    assert binary is not None, f"{PACKAGE} installed no native binary under {CACHE}"
    return binary


@pytest.fixture(scope="module")
def serve(vendors: Vendors, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UnigateServe]:
    process = UnigateServe(tmp_path_factory.mktemp("claude-cli"), gateway_config(ROUTES), vendors.environ)
    process.start()
    yield process
    process.stop()


def _frame(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def anthropic_read_call(path: Path) -> Reply:
    """A streamed Anthropic turn that calls Claude Code's Read tool, in the shape of
    tests/fixtures/anthropic/tool-stream.sse."""
    usage = {"input_tokens": 412, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    message = {
        "model": DEFAULT_MODEL,
        "id": "msg_01ReadCall0000000000000",
        "type": "message",
        "role": "assistant",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    arguments = json.dumps({"file_path": str(path)})
    tool = {"type": "tool_use", "id": "toolu_01ReadNotes0000000000", "name": "Read", "input": {}}
    events = [
        _frame("message_start", {"type": "message_start", "message": message}),
        _frame(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        _frame(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "I'll read the file."},
            },
        ),
        _frame("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _frame("content_block_start", {"type": "content_block_start", "index": 1, "content_block": tool}),
        *(
            _frame(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": part},
                },
            )
            for part in (arguments[:12], arguments[12:])
        ),
        _frame("content_block_stop", {"type": "content_block_stop", "index": 1}),
        _frame(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {**usage, "output_tokens": 40},
            },
        ),
        _frame("message_stop", {"type": "message_stop"}),
    ]
    return Reply(headers=dict(SSE), events=events)


def openai_read_call(path: Path) -> Reply:
    """A streamed Chat Completions turn that calls Read, in the shape of
    tests/fixtures/openai/tool-stream.sse."""
    base = {
        "id": "chatcmpl-ReadCall000000000000",
        "object": "chat.completion.chunk",
        "created": 1795651200,
        "model": "gpt-4.1-mini-2025-04-14",
    }
    arguments = json.dumps({"file_path": str(path)})
    call = {"index": 0, "id": "call_ReadNotes000000000000", "type": "function"}
    chunks: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": None, "tool_calls": [
            {**call, "function": {"name": "Read", "arguments": ""}}]}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": arguments[:12]}}]}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": arguments[12:]}}]}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 68, "completion_tokens": 15, "total_tokens": 83}},
    ]  # fmt: skip
    events = [f"data: {json.dumps({**base, **chunk})}\n\n".encode() for chunk in chunks]
    return Reply(headers=dict(SSE), events=[*events, b"data: [DONE]\n\n"])


def run_claude(cli: Path, serve: UnigateServe, home: Path, *arguments: str) -> dict[str, Any]:
    environment = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ANTHROPIC_BASE_URL": serve.url,
        "ANTHROPIC_API_KEY": serve.key,
        "ANTHROPIC_CUSTOM_HEADERS": f"Provider-Key: {VENDOR_KEY}",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    done = subprocess.run(
        [str(cli), "-p", PROMPT, "--output-format", "json", "--allowedTools", "Read", *arguments],
        env=environment,
        cwd=home,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout.decode()[-2000:] + done.stderr.decode()[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _home(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    home.mkdir()
    notes = home / "notes.txt"
    notes.write_text(NOTE)
    return home, notes


def _posts(received: list[Received], path: str) -> list[Received]:
    return [request for request in received if request.method == "POST" and request.path == path]


def _tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The Anthropic-shaped tool results in a Messages body."""
    return [
        block
        for message in body["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]


def _ledger(serve: UnigateServe, model: str) -> list[dict[str, Any]]:
    """The final ledger rows of the model's calls (a row reads `started` until its call ends)."""
    deadline = time.monotonic() + 10
    while True:
        rows = [row for row in serve.rows() if row["model"] == model]
        if all(row["status"] != "started" for row in rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


@pytest.mark.timeout(420)
def test_claude_code_reads_a_file_through_unigate_to_anthropic(
    claude_cli: Path, serve: UnigateServe, vendors: Vendors, tmp_path: Path
) -> None:
    vendors.clear()
    home, notes = _home(tmp_path)
    anthropic = vendors.fakes["anthropic"]
    anthropic.enqueue(anthropic_read_call(notes), Reply.fixture("anthropic/chat-stream.sse"))
    result = run_claude(claude_cli, serve, home)
    assert result["is_error"] is False and result["api_error_status"] is None, result
    assert result["result"] == KITS["anthropic"].text
    calls = _posts(anthropic.received, "/v1/messages")
    assert len(calls) == result["num_turns"] == 2, "each turn accepted as sent, none retried"
    first, second = (call.json() for call in calls)
    for call in calls:
        betas = call.headers["anthropic-beta"].split(",")
        assert "claude-code-20250219" in betas and "context-management-2025-06-27" in betas
        assert call.headers["authorization"] == f"Bearer {VENDOR_KEY}"
        assert serve.key not in json.dumps(call.headers)
    assert first["model"] == DEFAULT_MODEL and first["stream"] is True
    assert isinstance(first["system"], list) and "Claude" in json.dumps(first["system"])
    inline_system = [turn for turn in first["messages"] if turn["role"] == "system"]
    assert inline_system and "# Environment" in json.dumps(inline_system[0]), "kept in place"
    assert first["thinking"]["type"] == "adaptive"
    assert first["output_config"]["effort"] in ("low", "medium", "high", "xhigh", "max")
    assert first["context_management"]["edits"]
    assert "Read" in [tool["name"] for tool in first["tools"]]
    # the second turn carries the Read call back as Claude Code made it, and the file it read
    assistant = [turn for turn in second["messages"] if turn["role"] == "assistant"][-1]
    uses = [block for block in assistant["content"] if block["type"] == "tool_use"]
    assert [(use["id"], use["name"], use["input"]) for use in uses] == [
        ("toolu_01ReadNotes0000000000", "Read", {"file_path": str(notes)})
    ]
    results = _tool_results(second)
    assert results[-1]["tool_use_id"] == "toolu_01ReadNotes0000000000"
    assert "heliotrope-7731" in json.dumps(results[-1]["content"])
    assert not _posts(vendors.fakes["openai"].received, "/v1/chat/completions")
    rows = _ledger(serve, DEFAULT_MODEL)
    assert [(row["provider"], row["status"], row["attempts"]) for row in rows] == [
        ("anthropic", "completed", 1)
    ] * 2


@pytest.mark.timeout(420)
def test_claude_code_reads_a_file_through_unigate_to_openai(
    claude_cli: Path, serve: UnigateServe, vendors: Vendors, tmp_path: Path
) -> None:
    vendors.clear()
    home, notes = _home(tmp_path)
    openai = vendors.fakes["openai"]
    openai.enqueue(openai_read_call(notes), Reply.fixture("openai/chat-stream.sse"))
    result = run_claude(claude_cli, serve, home, "--model", OPENAI_MODEL)
    assert result["is_error"] is False and result["api_error_status"] is None, result
    assert result["result"] == KITS["openai"].text
    calls = _posts(openai.received, "/v1/chat/completions")
    assert len(calls) == result["num_turns"] == 2, "each turn accepted as sent, none retried"
    first, second = (call.json() for call in calls)
    for call in calls:
        assert not any(name.startswith("anthropic-") for name in call.headers), "no Anthropic header leaks"
        assert call.headers["authorization"] == f"Bearer {VENDOR_KEY}"
    assert first["model"] == "gpt-4.1-mini" and first["stream"] is True
    roles = [message["role"] for message in first["messages"]]
    # the top-level system blocks lead; Claude Code's inline system turn stays where it was
    assert roles == ["system", "user", "system"]
    assert "Claude" in json.dumps(first["messages"][0]["content"])
    assert "# Environment" in json.dumps(first["messages"][2]["content"])
    assert first["reasoning_effort"] in ("low", "medium", "high", "xhigh", "max")
    for field in ("thinking", "output_config", "context_management", "metadata", "system"):
        assert field not in first
    assert "Read" in [tool["function"]["name"] for tool in first["tools"]]
    # the second turn: Claude Code's Read call as an assistant tool call, then its result
    assistant = [message for message in second["messages"] if message["role"] == "assistant"][-1]
    (call,) = assistant["tool_calls"]
    assert call["id"] == "call_ReadNotes000000000000" and call["function"]["name"] == "Read"
    assert json.loads(call["function"]["arguments"]) == {"file_path": str(notes)}
    tool = [message for message in second["messages"] if message["role"] == "tool"][-1]
    assert tool["tool_call_id"] == "call_ReadNotes000000000000"
    assert "heliotrope-7731" in json.dumps(tool["content"])
    assert not _posts(vendors.fakes["anthropic"].received, "/v1/messages")
    rows = _ledger(serve, OPENAI_MODEL)
    assert [(row["provider"], row["status"], row["attempts"]) for row in rows] == [
        ("openai", "completed", 1)
    ] * 2
