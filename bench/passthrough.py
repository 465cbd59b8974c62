"""The floor: a bare Litestar + aiohttp pass-through to the same fake upstream.

    python -m bench.passthrough PORT UPSTREAM_URL

What any Python gateway built on the same stack pays at least: the ASGI server (uvicorn,
httptools, uvloop, one worker, as `unigate serve` runs), Litestar's routing, one aiohttp
call upstream on a kept-alive connection, the body relayed unread. No auth, no SDK, no
translation, no ledger. `bench/run.py` prints unigate's figures as ratios to this one.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import aiohttp
import uvicorn
from litestar import Litestar, Request, Response, get, post
from litestar.response import Stream


async def _open(app: Litestar) -> None:
    app.state.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))


async def _close(app: Litestar) -> None:
    await app.state.session.close()


@get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@post("/v1/chat/completions")
async def relay(request: Request[object, object, object]) -> Response[bytes] | Stream:
    session: aiohttp.ClientSession = request.app.state.session
    body = await request.body()
    headers = {"Authorization": request.headers.get("authorization", ""), "Content-Type": "application/json"}
    upstream = await session.post(request.app.state.upstream, data=body, headers=headers)
    if upstream.content_type == "text/event-stream":

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.content.iter_any():
                    yield chunk
            finally:
                upstream.release()

        return Stream(chunks(), media_type="text/event-stream", status_code=upstream.status)
    payload = await upstream.read()
    upstream.release()
    return Response(payload, media_type="application/json", status_code=upstream.status)


def main() -> None:
    port, upstream = int(sys.argv[1]), sys.argv[2]
    app = Litestar([relay, healthz], on_startup=[_open], on_shutdown=[_close], openapi_config=None)
    app.state.upstream = upstream
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
