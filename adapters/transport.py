"""What every adapter reading a vendor stream over httpx2 shares: transport failures in the
middle of a stream become typed upstream errors, and the response is closed whatever
happens (the client leaving included), which is what stops the vendor's generation."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx2

from schemas.errors import Code, UpstreamError


@contextlib.asynccontextmanager
async def reading_stream(response: httpx2.Response, provider: str) -> AsyncIterator[None]:
    try:
        yield
    except httpx2.TimeoutException:
        raise UpstreamError(
            Code.TIMEOUT, f"{provider} stopped sending before the stream finished", provider=provider
        ) from None
    except httpx2.TransportError:
        raise UpstreamError(
            Code.CONNECTION, f"{provider} dropped the connection mid-stream", provider=provider
        ) from None
    finally:
        await response.aclose()
