"""The media fetcher is no SSRF proxy (S7–S10), and inline media is checked (B4).

Every server here is on 127.0.0.1; the fetcher reaches it only because a test puts it on
the allow list (by name or network), exactly as an operator would for a private media host.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import aiohttp
import pytest
from msgspec import UNSET
from yarl import URL

from adapters.base import Capabilities
from proxy.dispatch.media_inlining import MediaFetcher, inline_media
from schemas.chat import AudioPart, ChatRequest, ImagePart, TextPart, UserMessage
from schemas.config import MediaConfig
from schemas.errors import GatewayError

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@dataclass
class RawServer:
    """A loopback server answering each connection with scripted raw bytes; it records heads."""

    replies: list[bytes | list[tuple[bytes, float]]] = field(default_factory=list)
    heads: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping:
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                self.heads.append(head)
                reply = (
                    self.replies.pop(0)
                    if self.replies
                    else b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                )
                pieces = [(reply, 0.0)] if isinstance(reply, bytes) else reply
                try:
                    for data, delay in pieces:
                        if delay:
                            time.sleep(delay)
                        connection.sendall(data)
                except OSError:
                    pass

    def stop(self) -> None:
        self.stopping = True
        self.thread.join(2)
        self.socket.close()


@pytest.fixture
def server() -> Iterator[RawServer]:
    running = RawServer()
    yield running
    running.stop()


def ok(body: bytes, content_type: str = "image/png", extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{extra}"
        "Connection: close\r\n\r\n"
    ).encode() + body


def redirect(location: str) -> bytes:
    return f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()


class Resolver:
    """Answers from a table, in turn per name (to play DNS rebinding), and counts calls."""

    def __init__(self, table: dict[str, Sequence[Sequence[str]]]) -> None:
        self.table = {name: list(answers) for name, answers in table.items()}
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        answers = self.table.get(host)
        if not answers:
            raise OSError(f"no such host {host}")
        return answers.pop(0) if len(answers) > 1 else answers[0]


def tracing() -> tuple[aiohttp.TraceConfig, list[str]]:
    """A trace that records every connection attempt aiohttp makes."""
    attempts: list[str] = []
    trace = aiohttp.TraceConfig()

    async def on_start(_: object, __: object, params: aiohttp.TraceRequestStartParams) -> None:
        attempts.append(str(params.url))

    trace.on_request_start.append(on_start)
    return trace, attempts


def fetcher(resolver: Resolver | None = None, **config: object) -> tuple[MediaFetcher, list[str]]:
    trace, attempts = tracing()
    media = MediaFetcher(MediaConfig(**config), resolver or Resolver({}), trace_configs=[trace])  # type: ignore[arg-type]
    return media, attempts


def refused(media: MediaFetcher, url: str, kind: str = "image") -> str:
    with pytest.raises(GatewayError) as caught:
        asyncio.run(media.fetch(url, kind))
    # every refusal of a media URL is the client's bad input, whatever the cause: a 400
    # `invalid_request` (a 413 is for the gateway's own request body limit)
    assert (caught.value.status, caught.value.code) == (400, "invalid_request")
    return caught.value.message


# S7 ------------------------------------------------------------------------------------

SSRF_TABLE = [
    "http://127.0.0.1/x.png",
    "http://127.1/x.png",
    "http://[::1]/x.png",
    "http://0.0.0.0/x.png",
    "http://10.1.2.3/x.png",
    "http://172.16.0.1/x.png",
    "http://172.31.255.255/x.png",
    "http://192.168.1.1/x.png",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/",
    "http://168.63.129.16/machine",
    "http://192.0.0.192/opc/v1/instance/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:a9fe:a9fe::1]/",
    "http://[fe80::1%25eth0]/",
    "http://2130706433/x.png",
    "http://0x7f000001/x.png",
    "http://0177.0.0.1/x.png",
    "http://0x7f.0.0.1/x.png",
    "http://017700000001/x.png",
    "file:///etc/passwd",
    "gopher://127.0.0.1:70/_x",
    "ftp://example.com/x.png",
    "dict://127.0.0.1:11211/",
    "http://public.test:22/x.png",
    "http://public.test:8080/x.png",
    "http://user:pass@public.test/x.png",
    "http://public.test@169.254.169.254/",
    "http://169.254.169.254@public.test/",
    "http://localhost/x.png",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://rebind.test/x.png",
    "http:///x.png",
]
TABLE_DNS = {
    "public.test": [["93.184.216.34"]],
    "localhost": [["127.0.0.1"]],
    "metadata.google.internal": [["169.254.169.254"]],
    "rebind.test": [["93.184.216.34", "10.0.0.7"]],
}


@pytest.mark.parametrize("url", SSRF_TABLE)
def test_ssrf_table_is_refused_without_a_connection(url: str) -> None:
    media, attempts = fetcher(Resolver(TABLE_DNS))
    refused(media, url)
    assert attempts == []


@pytest.mark.parametrize("url", ["http://public.test/x.png", "https://public.test:443/x.png"])
def test_a_public_host_on_a_default_port_passes_the_check(url: str) -> None:
    """`check` decides without connecting, so a public answer needs no network here."""
    media, _ = fetcher(Resolver(TABLE_DNS))
    assert asyncio.run(media.check(URL(url))) == "93.184.216.34"


# S8 ------------------------------------------------------------------------------------


def test_dns_rebinding_cannot_swap_the_checked_address(server: RawServer) -> None:
    """The resolver answers loopback (allowed) and then a private address: the fetch resolves
    once per hop and connects to the checked address, keeping the name in Host."""
    resolver = Resolver({"media.test": [["127.0.0.1"], ["10.0.0.7"], ["10.0.0.7"]]})
    media, _ = fetcher(resolver, allow_private=("127.0.0.1/32",))
    server.replies.append(ok(PNG))
    fetched = asyncio.run(media.fetch(f"http://media.test:{server.port}/a.png", "image"))
    assert fetched.data == PNG and fetched.media_type == "image/png"
    assert resolver.calls == ["media.test"]
    assert f"host: media.test:{server.port}".encode() in server.heads[0].lower()


def test_a_name_that_resolves_to_any_private_address_is_refused() -> None:
    media, attempts = fetcher(Resolver({"mixed.test": [["93.184.216.34", "127.0.0.1"]]}))
    assert "private" in refused(media, "http://mixed.test/a.png")
    assert attempts == []


def test_allow_listed_host_name_may_be_private(server: RawServer) -> None:
    media, _ = fetcher(Resolver({"media.internal": [["127.0.0.1"]]}), allow_private=("media.internal",))
    server.replies.append(ok(PNG))
    assert asyncio.run(media.fetch(f"http://media.internal:{server.port}/a.png", "image")).data == PNG


# S9 ------------------------------------------------------------------------------------


def test_redirect_to_a_private_address_is_refused_at_the_hop(server: RawServer) -> None:
    media, attempts = fetcher(Resolver({"media.test": [["127.0.0.1"]]}), allow_private=("media.test",))
    server.replies.append(redirect("http://169.254.169.254/latest/meta-data/"))
    assert "private" in refused(media, f"http://media.test:{server.port}/a.png")
    assert len(attempts) == 1  # the first hop only


def test_redirect_to_loopback_by_literal_is_refused(server: RawServer) -> None:
    media, attempts = fetcher(Resolver({"media.test": [["127.0.0.1"]]}), allow_private=("media.test",))
    server.replies.append(redirect(f"http://127.0.0.1:{server.port}/admin"))
    refused(media, f"http://media.test:{server.port}/a.png")
    assert len(attempts) == 1


def test_more_than_three_redirects_are_refused(server: RawServer) -> None:
    media, attempts = fetcher(Resolver({"media.test": [["127.0.0.1"]]}), allow_private=("media.test",))
    server.replies.extend(redirect(f"/hop{n}") for n in range(5))
    assert "redirects" in refused(media, f"http://media.test:{server.port}/a.png")
    assert len(attempts) == 4


def test_three_redirects_are_followed(server: RawServer) -> None:
    media, _ = fetcher(Resolver({"media.test": [["127.0.0.1"]]}), allow_private=("media.test",))
    server.replies.extend([redirect("/b"), redirect("/c"), redirect("/d"), ok(PNG)])
    assert asyncio.run(media.fetch(f"http://media.test:{server.port}/a.png", "image")).data == PNG


def test_https_to_http_redirect_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    media, _ = fetcher(Resolver(TABLE_DNS))
    hops: list[str] = []

    async def hop(url: URL, address: str, kind: str) -> str:
        hops.append(str(url))
        return "http://public.test/downgraded.png"

    monkeypatch.setattr(media, "_hop", hop)
    assert "https to http" in refused(media, "https://public.test/a.png")
    assert hops == ["https://public.test/a.png"]


# S10 -----------------------------------------------------------------------------------


def _local(**config: object) -> tuple[MediaFetcher, list[str]]:
    return fetcher(Resolver({"media.test": [["127.0.0.1"]]}), allow_private=("media.test",), **config)


def test_declared_oversize_is_refused_before_reading(server: RawServer) -> None:
    media, _ = _local(max_bytes=1000)
    server.replies.append(
        [
            (b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 50000000\r\n\r\n", 0.0),
            (b"x" * 10, 0),
        ]
    )
    assert "larger" in refused(media, f"http://media.test:{server.port}/a.png")


def test_endless_body_is_cut_at_the_cap(server: RawServer) -> None:
    media, _ = _local(max_bytes=100_000)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n"  # no length: read until close
    server.replies.append([(head, 0.0)] + [(b"x" * 65536, 0.0)] * 200)
    started = time.monotonic()
    assert "larger" in refused(media, f"http://media.test:{server.port}/a.png")
    assert time.monotonic() - started < 5


def test_a_lying_content_length_never_yields_more_than_it_declared(server: RawServer) -> None:
    media, _ = _local(max_bytes=1000)
    server.replies.append(
        b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 8\r\nConnection: close\r\n\r\n"
        + PNG[:8]
        + b"y" * 100_000
    )
    # head, body and surplus leave in one send, so the client's parser meets the surplus in
    # the segment that completes the body: a protocol error, refused, never bytes past the 8
    refused(media, f"http://media.test:{server.port}/a.png")


def test_gzip_bomb_is_refused_undecompressed(server: RawServer) -> None:
    media, _ = _local(max_bytes=100_000)
    bomb = gzip.compress(b"\0" * 50_000_000)
    server.replies.append(ok(bomb, extra="Content-Encoding: gzip\r\n"))
    assert "compressed" in refused(media, f"http://media.test:{server.port}/a.png")
    assert b"accept-encoding: identity" in server.heads[0].lower()


def test_trickling_server_hits_the_deadline(server: RawServer) -> None:
    media, _ = _local(timeout=1.0)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 100\r\n\r\n"
    server.replies.append([(head, 0.0)] + [(b"x", 0.3)] * 20)
    started = time.monotonic()
    assert "longer than" in refused(media, f"http://media.test:{server.port}/a.png")
    assert time.monotonic() - started < 2.5


def test_wrong_content_type_is_refused(server: RawServer) -> None:
    media, _ = _local()
    server.replies.append(ok(b"<html>secret admin page</html>", content_type="text/html"))
    assert "content type" in refused(media, f"http://media.test:{server.port}/a.png")
    server.replies.append(ok(b"<svg onload=alert(1)>", content_type="image/svg+xml"))
    refused(media, f"http://media.test:{server.port}/a.svg")


def test_environment_proxies_are_ignored(server: RawServer, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = RawServer()
    try:
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        media, _ = _local()
        server.replies.append(ok(PNG))
        assert asyncio.run(media.fetch(f"http://media.test:{server.port}/a.png", "image")).data == PNG
        assert proxy.heads == []
    finally:
        proxy.stop()


# inline_media and B4 ---------------------------------------------------------------------

NO_IMAGE_URLS = Capabilities(images_by_url=False)
OPENAI_LIKE = Capabilities(audio=True)
NO_AUDIO = Capabilities(audio=False)


def _request(*parts: object) -> ChatRequest:
    return ChatRequest(model="m", messages=[UserMessage(content=[TextPart(text="look"), *parts])])  # type: ignore[list-item]


def test_url_media_is_inlined_only_where_the_adapter_needs_it(server: RawServer) -> None:
    media, attempts = _local()
    url = f"http://media.test:{server.port}/a.png"
    request = _request(ImagePart(url=url))
    assert asyncio.run(inline_media(request, Capabilities(), media)) is request
    assert attempts == []
    server.replies.append(ok(PNG))
    inlined = asyncio.run(inline_media(request, NO_IMAGE_URLS, media))
    part = inlined.messages[0].content[1]  # type: ignore[index]
    assert isinstance(part, ImagePart) and part.url is UNSET
    assert part.base64 == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert request.messages[0].content[1].url == url  # type: ignore[index,union-attr]


def test_audio_urls_are_inlined_for_vendors_that_take_audio_only_inline(server: RawServer) -> None:
    media, _ = _local()
    url = f"http://media.test:{server.port}/a.wav"
    server.replies.append(ok(b"RIFF....WAVE", content_type="audio/wav"))
    inlined = asyncio.run(inline_media(_request(AudioPart(url=url)), OPENAI_LIKE, media))
    assert inlined.messages[0].content[1].base64.startswith("data:audio/wav;base64,")  # type: ignore[index,union-attr]
    untouched = _request(AudioPart(url=url))
    assert asyncio.run(inline_media(untouched, NO_AUDIO, media)) is untouched


def test_a_refused_url_fails_the_request_with_400() -> None:
    media, attempts = fetcher(Resolver(TABLE_DNS))
    request = _request(ImagePart(url="http://169.254.169.254/latest/meta-data/iam"))
    with pytest.raises(GatewayError) as caught:
        asyncio.run(inline_media(request, NO_IMAGE_URLS, media))
    assert caught.value.status == 400 and attempts == []


def test_too_many_media_urls_are_refused() -> None:
    media, attempts = fetcher(Resolver(TABLE_DNS), max_parts=2)
    request = _request(*[ImagePart(url=f"http://public.test/{n}.png") for n in range(3)])
    with pytest.raises(GatewayError):
        asyncio.run(inline_media(request, NO_IMAGE_URLS, media))
    assert attempts == []


def test_b4_inline_data_of_the_wrong_type_is_refused() -> None:
    media, _ = fetcher()
    html = "data:text/html;base64," + base64.b64encode(b"<script>").decode()
    with pytest.raises(GatewayError) as caught:
        asyncio.run(inline_media(_request(ImagePart(base64=html)), Capabilities(), media))
    assert caught.value.status == 400


def test_b4_oversized_inline_data_is_refused_without_decoding_it() -> None:
    media, _ = fetcher(max_bytes=1000)
    not_even_base64 = "data:image/png;base64," + "!" * 4000  # decoding it would fail differently
    with pytest.raises(GatewayError) as caught:
        asyncio.run(inline_media(_request(ImagePart(base64=not_even_base64)), Capabilities(), media))
    assert caught.value.status == 413
