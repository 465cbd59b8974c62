"""What a media call needs before dispatch, on either surface that takes one.

- (The task of a vendor's media model, `openai/whisper-1` as automatic-speech-recognition,
  is the router's: proxy/routing/routes.py.)
- Which targets can run a media task: worker pools, and the vendors in `VENDOR_MEDIA_TASKS`.
- A `url` for speech recognition: a Bytez container fetches it itself and gets it as it is;
  an OpenAI-protocol upstream takes only the audio's bytes, so when no target is a
  container the gateway fetches it, once, through the SSRF-safe fetcher
  (proxy/dispatch/media_inlining.py: public addresses only, size- and type-checked).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import msgspec
from msgspec import UNSET

from proxy.routing.routes import Resolution, ResolvedTarget
from schemas.errors import Code, GatewayError
from schemas.media import VENDOR_MEDIA_TASKS, MediaRequest, Upload
from schemas.tasks import RunRequest

if TYPE_CHECKING:
    from proxy.gateway import Gateway


def vendor_runs(target: ResolvedTarget, task: str) -> bool:
    return task in VENDOR_MEDIA_TASKS.get(target.provider or "", frozenset())


def _fetches_itself(gateway: Gateway, target: ResolvedTarget) -> bool:
    protocols = {pool.name: pool.protocol for pool in gateway.settings.config.pools}
    return target.pool is not None and protocols.get(target.pool) == "bytez"


async def fetch_for_vendors(gateway: Gateway, resolution: Resolution, request: RunRequest) -> RunRequest:
    """The request with its `url` replaced by the audio it names, when no target fetches it."""
    if request.url is UNSET or any(_fetches_itself(gateway, t) for t in resolution.targets):
        return request
    fetcher = gateway.dispatcher.media
    if fetcher is None:
        raise GatewayError(Code.UNSUPPORTED, "this gateway does not fetch media URLs; send the file itself")
    fetched = await fetcher.fetch(request.url, "audio")
    if isinstance(request, MediaRequest):
        name = urlsplit(request.url).path.rpartition("/")[2] or "audio"
        upload = Upload(filename=name, content_type=fetched.media_type, data=fetched.data)
        return msgspec.structs.replace(request, url=UNSET, upload=upload)
    return msgspec.structs.replace(request, url=UNSET, base64=fetched.data_url())
