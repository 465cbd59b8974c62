"""`/audio/speech` relayed as the vendor sends it: the client's first bytes leave while the
rest is still being spoken, and no more than one chunk is held at a time.

Only what can be billed before the end is relayed (tts-1, tts-1-hd: per character of the
input): the call's cost and its ledger row are known when the audio starts. The first chunk
is read before the call is committed, so a vendor that fails before any audio is still a
clear error (and may be retried or fall back). Past that point the answer has started: a
vendor that stops mid-audio, or audio that grows past `[media] max_output_bytes`, cuts the
client's connection (the body ends without its last chunk, which every HTTP client reports
as an incomplete read), never a short file that looks whole."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx2

from adapters.media_output import too_large
from schemas.errors import Code, UpstreamError

logger = logging.getLogger(__name__)


async def start_relay(
    response: httpx2.Response, provider: str, max_output_bytes: int
) -> AsyncIterator[bytes]:
    """The audio as an iterator, its first chunk already read (a failure before it raises here)."""
    declared = response.headers.get("content-length")
    chunks = response.aiter_bytes()
    try:
        if declared is not None and declared.isdigit() and int(declared) > max_output_bytes:
            raise too_large(provider, max_output_bytes)
        first = await anext(chunks)
        if len(first) > max_output_bytes:
            raise too_large(provider, max_output_bytes)
    except StopAsyncIteration:
        await response.aclose()
        raise UpstreamError(Code.SERVER_ERROR, f"{provider} sent no audio", provider=provider) from None
    except httpx2.TimeoutException:
        await response.aclose()
        raise UpstreamError(Code.TIMEOUT, f"{provider} did not answer in time", provider=provider) from None
    except httpx2.TransportError:
        await response.aclose()
        raise UpstreamError(
            Code.CONNECTION, f"{provider} dropped the connection", provider=provider
        ) from None
    except BaseException:
        await response.aclose()
        raise
    return _relay(response, chunks, first, provider, max_output_bytes)


async def _relay(
    response: httpx2.Response,
    chunks: AsyncIterator[bytes],
    first: bytes,
    provider: str,
    max_output_bytes: int,
) -> AsyncIterator[bytes]:
    size = len(first)
    try:
        yield first
        async for chunk in chunks:
            size += len(chunk)
            if size > max_output_bytes:
                logger.warning("speech from %s passed [media] max_output_bytes; the answer is cut", provider)
                raise too_large(provider, max_output_bytes)
            yield chunk
    except (httpx2.TimeoutException, httpx2.TransportError):
        logger.warning("speech from %s stopped mid-audio; the answer is cut", provider)
        raise UpstreamError(
            Code.CONNECTION, f"{provider} dropped the connection mid-audio", provider=provider
        ) from None
    finally:
        await response.aclose()
