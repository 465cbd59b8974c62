"""The first run of a real `unigate serve`: it prints where it listens, the console's URL,
the routes it serves (the lines `unigate check` prints, from the same code) and, while no
proxy key exists, the one command that makes one; that command works as printed. The
console's routes page shows the same routes as `unigate check`."""

from __future__ import annotations

import html
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.server import FakeVendor
from tests.serve_process import REPOSITORY, UnigateServe

TOKEN = "console-first-run-admin-token-7"
CONFIG = (
    f'[admin]\ntoken = "{TOKEN}"\n'
    '[[routes]]\nmatch = "claude-*"\nprovider = "anthropic"\n'
    '[[routes]]\nmatch = "team/chat"\nprovider = "openai"\nmodel = "gpt-4o-mini"\n'
)


def unigate(*arguments: str, environ: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "proxy.cli", *arguments],
        cwd=REPOSITORY,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def _routes_printed(output: str) -> list[str]:
    lines = output.splitlines()
    start = lines.index("routes, in matching order:") + 1
    return [line for line in lines[start:] if line.startswith("  ") and " -> " in line]


@pytest.fixture(scope="module")
def first_run(
    tmp_path_factory: pytest.TempPathFactory, openai_vendor: tuple[FakeVendor, str]
) -> Iterator[UnigateServe]:
    _, vendor_url = openai_vendor
    serve = UnigateServe(
        tmp_path_factory.mktemp("first-run"),
        CONFIG,
        {"UNIGATE_OPENAI_BASE_URL": f"{vendor_url}/v1"},
        make_key=False,
    )
    serve.start()
    yield serve
    serve.stop()


def _environ(serve: UnigateServe) -> dict[str, str]:
    return {**os.environ, "UNIGATE_DATABASE_URL": f"sqlite:///{serve.database}"}


def test_the_first_run_says_where_and_how_to_make_a_key(first_run: UnigateServe) -> None:
    output = first_run.output()
    assert f"unigate: listening on 127.0.0.1:{first_run.port}" in output
    assert f"console: {first_run.url}/ui (playground; operator views behind the admin token)" in output
    routes = _routes_printed(output)
    assert routes[:2] == [
        f"  {'claude-*':<32} -> anthropic",
        f"  {'team/chat':<32} -> openai",
    ]
    check = unigate("check", "--config", str(first_run.config_path), environ=_environ(first_run))
    assert routes == _routes_printed(check), "serve and check print the routes from one code path"
    assert TOKEN not in output
    # the one command, as printed, makes a key the running gateway accepts
    lines = output.splitlines()
    hint = lines.index("no proxy key exists yet; make one with:")
    command = shlex.split(lines[hint + 1].strip())
    assert command[:4] == ["unigate", "keys", "create", "--name"]
    made = unigate(*command[1:4], "first", *command[5:], environ=_environ(first_run))
    key = made.strip().splitlines()[-1]
    models = httpx.get(f"{first_run.url}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert models.status_code == 200


def test_with_a_key_the_next_start_prints_no_key_hint(first_run: UnigateServe, tmp_path: Path) -> None:
    again = UnigateServe(tmp_path, CONFIG)  # makes a key before it starts
    again.start()
    try:
        output = again.output()
    finally:
        again.stop()
    assert "listening on" in output
    assert "no proxy key exists yet" not in output
    assert again.key not in output


def test_the_routes_page_shows_what_unigate_check_prints(first_run: UnigateServe) -> None:
    with httpx.Client(base_url=first_run.url, timeout=10, follow_redirects=True) as browser:
        login = browser.post("/ui/login", data={"token": TOKEN, "next": "/ui/routes"})
        assert login.status_code == 200 and str(login.url).endswith("/ui/routes")
        page = login.text
    rows = re.findall(r"<tr><td><code>([^<]+)</code></td><td>([^<]+)</td></tr>", page)
    check = unigate("check", "--config", str(first_run.config_path), environ=_environ(first_run))
    expected = [tuple(part.strip() for part in line.split(" -> ")) for line in _routes_printed(check)]
    assert [(html.unescape(pattern), html.unescape(goes)) for pattern, goes in rows] == expected
    for line in check.splitlines()[:3]:
        label, value = line.split(": ", 1)
        assert html.escape(value) in page, label
