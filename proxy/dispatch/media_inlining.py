"""Media URLs fetched for vendors that need the bytes inline, without becoming an SSRF proxy.

A caller's image or audio URL is fetched by us only where the target adapter cannot take
that part by URL (its `Capabilities`). Each hop of a fetch:

1. the URL must be http(s), with no userinfo, on an allowed port (80/443), its host not a
   numeric IPv4 form other than a canonical dotted quad (`2130706433`, `0177.0.0.1`,
   `127.1`, `0x7f.1` all mean 127.0.0.1 to a resolver);
2. the host is resolved once and every address checked against `DENIED_NETWORKS`
   (loopback, private, link-local, CGNAT, metadata, multicast, reserved, IPv4-mapped and
   the other IPv6 wrappings of IPv4) unless the host or address is in `[media] allow_private`;
3. the connection goes to the checked address and nowhere else: aiohttp is handed a
   resolver that knows only that one answer (DNS rebinding cannot swap it), while the
   Host header and TLS SNI keep the name;
4. redirects are not followed by the client: each Location is a new hop, checked again,
   at most `max_redirects`, never from https down to http.

The body is read under a byte cap (a larger Content-Length is refused before reading),
compressed answers are refused (we ask for identity; no gzip bomb), the content type must
match the part's kind, the whole fetch has one deadline, and `trust_env=False` keeps
HTTP(S)_PROXY from routing the request elsewhere.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec
from aiohttp.abc import AbstractResolver, ResolveResult
from msgspec import UNSET
from yarl import URL

from adapters.base import Capabilities
from adapters.media import split_data_url
from schemas.chat import AudioPart, ChatRequest, ImagePart, Message, VideoPart, media_parts
from schemas.config import MediaConfig
from schemas.errors import Code, GatewayError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""(host, port) → IP address strings; injectable so tests need no DNS."""

DENIED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches localhost on Linux
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT; Alibaba's metadata 100.100.100.200
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local; AWS/GCP/Azure metadata 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF assignments; Oracle's metadata 192.0.0.192
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "168.63.129.16/32",  # Azure's wire server: public-looking, host-internal
        "224.0.0.0/4",
        "240.0.0.0/4",  # reserved, and 255.255.255.255
        "::/128",
        "::1/128",
        "::ffff:0:0/96",  # IPv4-mapped
        "::/96",  # IPv4-compatible (deprecated)
        "64:ff9b::/96",  # NAT64
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",  # IETF protocol assignments, Teredo included
        "2001:db8::/32",
        "2002::/16",  # 6to4
        "fc00::/7",  # unique local; AWS's IPv6 metadata fd00:ec2::254
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_CHUNK = 64 * 1024
_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/heic", "image/heif"})


def _refused(message: str) -> GatewayError:
    return GatewayError(Code.INVALID_REQUEST, f"media URL refused: {message}")


def denied(address: Address) -> bool:
    return any(address in network for network in DENIED_NETWORKS if network.version == address.version)


def _literal(host: str) -> Address | None:
    """The address a host names literally; odd numeric IPv4 spellings are refused outright."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _NUMERIC_LABEL.match(host.rstrip(".").rsplit(".", 1)[-1]):
        raise _refused("a numeric host must be a plain dotted IPv4 address")
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


@dataclass(frozen=True, slots=True)
class MediaPolicy:
    allowed_hosts: frozenset[str]
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    ports: frozenset[int]

    @classmethod
    def from_config(cls, config: MediaConfig) -> MediaPolicy:
        hosts: set[str] = set()
        networks = []
        for entry in config.allow_private:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks), frozenset(config.ports))

    def trusted(self, host: str, address: Address) -> bool:
        """On the operator's allow list, by host name or by network: private, any port."""
        if host.rstrip(".") in self.allowed_hosts:
            return True
        return any(
            address in network for network in self.allowed_networks if network.version == address.version
        )


class _PinnedResolver(AbstractResolver):
    """Answers the one name with the one address that was checked; anything else fails."""

    def __init__(self, host: str, address: str) -> None:
        self._host = host
        self._address = address

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        if host != self._host:
            raise OSError(f"unexpected host {host!r}")
        version = ipaddress.ip_address(self._address).version
        return [
            ResolveResult(
                hostname=host,
                host=self._address,
                port=port,
                family=socket.AF_INET if version == 4 else socket.AF_INET6,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Fetched:
    media_type: str
    data: bytes

    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"


class MediaFetcher:
    def __init__(
        self,
        config: MediaConfig,
        resolver: Resolver = system_resolver,
        trace_configs: list[aiohttp.TraceConfig] | None = None,
    ) -> None:
        self.config = config
        self.policy = MediaPolicy.from_config(config)
        self._resolver = resolver
        self._trace_configs = trace_configs

    async def check(self, url: URL) -> str:
        """The address to connect to for this hop's URL, or 400 if any rule refuses it."""
        if url.scheme not in ("http", "https"):
            raise _refused("only http and https URLs are fetched")
        if url.user is not None or url.password is not None or "@" in (url.raw_authority or ""):
            raise _refused("URLs with user info are not fetched")
        host = (url.host or "").lower()
        if not host:
            raise _refused("the URL has no host")
        port = url.port or (443 if url.scheme == "https" else 80)
        literal = _literal(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = list(await self._resolver(host, port))
            except OSError:
                raise _refused(f"cannot resolve {host}") from None
        if not addresses:
            raise _refused(f"cannot resolve {host}")
        trusted = True
        for text in addresses:
            address = ipaddress.ip_address(text)
            if self.policy.trusted(host, address):
                continue
            trusted = False
            if denied(address):
                raise _refused(f"{host} resolves to a private or reserved address")
        if port not in self.policy.ports and not trusted:
            raise _refused(f"port {port} is not allowed")
        return addresses[0]

    async def fetch(self, url: str, kind: str) -> Fetched:
        """The bytes behind `url`, of media kind `kind` (image, audio, video)."""
        try:
            async with asyncio.timeout(self.config.timeout):
                return await self._follow(URL(url), kind)
        except TimeoutError:
            raise _refused(f"fetching it took longer than {self.config.timeout:g} s") from None
        except (aiohttp.ClientError, OSError, ValueError) as error:
            raise _refused(f"fetching it failed ({type(error).__name__})") from None

    async def _follow(self, url: URL, kind: str) -> Fetched:
        for _ in range(self.config.max_redirects + 1):
            address = await self.check(url)
            location = await self._hop(url, address, kind)
            if isinstance(location, Fetched):
                return location
            following = url.join(URL(location))
            if url.scheme == "https" and following.scheme != "https":
                raise _refused("a redirect from https to http")
            url = following
        raise _refused(f"more than {self.config.max_redirects} redirects")

    async def _hop(self, url: URL, address: str, kind: str) -> Fetched | str:
        host = url.host or ""
        connector = aiohttp.TCPConnector(
            resolver=_PinnedResolver(host, address), use_dns_cache=False, force_close=True, limit=1
        )
        async with (
            aiohttp.ClientSession(
                connector=connector,
                trust_env=False,
                auto_decompress=False,
                trace_configs=self._trace_configs,
            ) as session,
            session.get(
                url,
                allow_redirects=False,
                headers={"Accept-Encoding": "identity", "Accept": f"{kind}/*"},
            ) as response,
        ):
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise _refused("a redirect without a Location")
                return location
            if response.status != 200:
                raise _refused(f"the media server answered {response.status}")
            media_type = _check_headers(response, kind, self.config.max_bytes)
            return Fetched(media_type, await _read_capped(response, self.config.max_bytes))


def _check_headers(response: aiohttp.ClientResponse, kind: str, limit: int) -> str:
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise _refused(f"compressed media ({encoding}) is not accepted")
    media_type = response.content_type.lower()
    if not _type_fits(media_type, kind):
        raise _refused(f"its content type {media_type[:64]!r} is not {kind}")
    if response.content_length is not None and response.content_length > limit:
        raise _refused(f"it is larger than {limit} bytes")
    return media_type


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _refused(f"it is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _type_fits(media_type: str, kind: str) -> bool:
    if kind == "image":
        return media_type in _IMAGE_TYPES
    return media_type.startswith(f"{kind}/")


def _kind(part: ImagePart | AudioPart | VideoPart) -> str:
    return "image" if isinstance(part, ImagePart) else "audio" if isinstance(part, AudioPart) else "video"


def check_data_url(part: ImagePart | AudioPart | VideoPart, value: str, limit: int) -> None:
    """A caller's inline media: the declared type must fit the part, the size the cap.

    The size is computed from the base64 length, so an oversized payload is never decoded."""
    kind = _kind(part)
    media_type, data = split_data_url(value)
    if value.startswith("data:") and not _type_fits(media_type.lower(), kind):
        raise GatewayError(Code.INVALID_REQUEST, f"a {kind} part carries {media_type[:64]!r} data")
    if len(data) * 3 // 4 > limit:
        raise GatewayError(Code.PAYLOAD_TOO_LARGE, f"a {kind} part is larger than {limit} bytes")


def _needs_fetch(part: ImagePart | AudioPart | VideoPart, capabilities: Capabilities) -> bool:
    if part.url is UNSET:
        return False
    if isinstance(part, ImagePart):
        return not capabilities.images_by_url and capabilities.images_base64
    if isinstance(part, AudioPart):
        return capabilities.audio and not capabilities.audio_by_url
    return capabilities.video and not capabilities.video_by_url


async def inline_media(
    request: ChatRequest, capabilities: Capabilities, fetcher: MediaFetcher
) -> ChatRequest:
    """`request` with each URL media part the adapter cannot take by URL replaced by a data URL.

    Inline parts the caller sent are checked too (type and size). Returns `request` itself
    when nothing changes, so the common text-only call costs one pass over its parts."""
    wanted: list[ImagePart | AudioPart | VideoPart] = []
    for part in media_parts(request):
        if part.base64 is not UNSET:
            check_data_url(part, part.base64, fetcher.config.max_bytes)
        elif _needs_fetch(part, capabilities):
            wanted.append(part)
    if not wanted:
        return request
    if len(wanted) > fetcher.config.max_parts:
        raise _refused(f"a request may have at most {fetcher.config.max_parts} media URLs to fetch")
    fetched: dict[int, str] = {}

    async def fetch(part: ImagePart | AudioPart | VideoPart) -> None:
        fetched[id(part)] = (await fetcher.fetch(str(part.url), _kind(part))).data_url()

    try:
        async with asyncio.TaskGroup() as group:
            for part in wanted:
                group.create_task(fetch(part))
    except* GatewayError as failures:
        raise failures.exceptions[0] from None
    return msgspec.structs.replace(
        request, messages=[_replaced(message, fetched) for message in request.messages]
    )


def _replaced(message: Message, fetched: dict[int, str]) -> Message:
    content: Any = message.content
    if isinstance(content, str) or content is None or not any(id(part) in fetched for part in content):
        return message
    parts = [
        msgspec.structs.replace(part, url=UNSET, base64=fetched[id(part)]) if id(part) in fetched else part
        for part in content
    ]
    return msgspec.structs.replace(message, content=parts)
