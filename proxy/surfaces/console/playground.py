"""The playground page. It is public: what it does, it does with the proxy key the user
pastes, in the browser, against this gateway's own API (`playground.js`); the server
only sends the page."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from proxy.limits import EXEMPT_OPT
from proxy.surfaces.console.access import current_session
from proxy.surfaces.console.rendering import page


@get(["/", ""], name="console_playground", opt={EXEMPT_OPT: True}, include_in_schema=False)
async def playground_page(request: Request[Any, Any, Any]) -> Response[str]:
    session = current_session(request)
    return page(
        "playground.html",
        title="Playground",
        logged_in=session is not None,
        csrf=session.csrf if session else "",
        current="playground",
    )
