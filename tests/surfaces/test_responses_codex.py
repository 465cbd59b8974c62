"""Codex CLI (`@openai/codex`, from npm, pinned) unchanged on unigate: `codex exec` with a
`model_providers` entry at unigate's /v1 (`wire_api = "responses"`), routed to a fake
Anthropic and a fake OpenAI. The npm package brings its platform binary as an optional npm
package; nothing is downloaded from elsewhere. Installed once into ~/.cache/unigate-tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import RunningGateway
from tests.fakes.openai import responses_stream_text
from tests.fakes.server import FakeVendor, Reply
from tests.surfaces.conftest import KITS, MODELS, VENDOR_KEY

CODEX_VERSION = "0.169.0"
CACHE = Path.home() / ".cache" / "unigate-tests" / "codex"


@pytest.fixture(scope="session")
def codex() -> Path:
    binary = CACHE / "node_modules" / ".bin" / "codex"
    package = CACHE / "node_modules" / "@openai" / "codex" / "package.json"
    installed = package.exists() and json.loads(package.read_text())["version"] == CODEX_VERSION
    if not installed:
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to install Codex CLI for this test")
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(CACHE),
                "--no-audit",
                "--no-fund",
                f"@openai/codex@{CODEX_VERSION}",
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return binary


def _codex_home(tmp_path: Path, gateway: RunningGateway, model: str) -> Path:
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'model = "{model}"\n'
        'model_provider = "unigate"\n'
        "[model_providers.unigate]\n"
        'name = "unigate"\n'
        f'base_url = "{gateway.url}/v1"\n'
        'env_key = "UNIGATE_TEST_KEY"\n'
        'wire_api = "responses"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
        f'http_headers = {{ "Provider-Key" = "{VENDOR_KEY}" }}\n'
    )
    return home


@pytest.mark.timeout(300)
@pytest.mark.parametrize("vendor", ["anthropic", "openai"])
def test_codex_exec_answers_through_unigate(
    running: RunningGateway, fakes: dict[str, FakeVendor], codex: Path, tmp_path: Path, vendor: str
) -> None:
    home = _codex_home(tmp_path, running, MODELS[vendor])
    # Codex always offers tools; the fakes answer a body with tools by calling one, so its
    # single turn is scripted as the plain streamed answer (OpenAI's from its own /responses)
    native = vendor == "openai"
    fakes[vendor].enqueue(
        Reply.fixture("openai-responses/stream.sse" if native else f"{vendor}/chat-stream.sse")
    )
    work = tmp_path / "work"
    work.mkdir()
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "CODEX_HOME": str(home),
        "UNIGATE_TEST_KEY": running.key,
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        [str(codex), "exec", "--skip-git-repo-check", "-s", "read-only", "Say hello"],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (responses_stream_text() if native else KITS[vendor].text) in done.stdout
    sent = [request for request in fakes[vendor].received if request.method == "POST"]
    assert sent, "the vendor was not called"
    body = sent[-1].json()
    assert VENDOR_KEY in json.dumps(sent[-1].headers)
    assert "Say hello" in json.dumps(body)
    assert "Codex CLI" in json.dumps(body)  # its instructions arrived as the system prompt
    assert body["stream"] is True
    assert body.get("tools"), "Codex's function tools reached the vendor"
    if native:  # the Responses body went to OpenAI's own endpoint, Codex's tools and all
        assert sent[-1].path == "/v1/responses"
        assert body["store"] is False
        assert "reasoning.encrypted_content" in body["include"]
        assert {tool["type"] for tool in body["tools"]} >= {"function"}
