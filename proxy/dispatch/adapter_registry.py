"""The vendor adapters, each built on first use.

The five vendor SDKs cost ~150 MiB and ~7 s of CPU to import together (anthropic alone
3 s, see docs/performance.md), so a gateway imports only the vendors it is asked for.
`server.preload` names vendors to import at start-up instead, off the event loop, so
their first request pays nothing.

The registry is a dict of the adapters built so far: the request path's lookup of a built
adapter is a plain dict read, and only a miss (`__missing__`) builds one.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Mapping

from adapters.base import Adapter

FACTORIES: dict[str, str] = {
    "openai": "adapters.openai:OpenAIAdapter",
    "anthropic": "adapters.anthropic:AnthropicAdapter",
    "gemini": "adapters.gemini:GeminiAdapter",
    "cohere": "adapters.cohere:CohereAdapter",
    "mistral": "adapters.mistral:MistralAdapter",
}


class AdapterRegistry(dict[str, Adapter]):
    def __init__(self, factories: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._factories = dict(FACTORIES if factories is None else factories)
        self._lock = threading.Lock()

    def __missing__(self, name: str) -> Adapter:
        if name not in self._factories:
            raise KeyError(name)
        with self._lock:
            if not dict.__contains__(self, name):
                module, _, attribute = self._factories[name].partition(":")
                self[name] = getattr(importlib.import_module(module), attribute)()
        return dict.__getitem__(self, name)

    def get(self, name: str, default: Adapter | None = None) -> Adapter | None:  # type: ignore[override]
        """The adapter for `name`, built if it has a factory; `default` if it has none."""
        try:
            return self[name]
        except KeyError:
            return default

    def vendors(self) -> list[str]:
        """Every vendor an adapter can be built for (listing builds nothing)."""
        return list(self._factories)

    def built(self) -> list[Adapter]:
        return list(self.values())

    async def preload(self, names: list[str]) -> None:
        for name in names:
            await asyncio.to_thread(self.__getitem__, name)

    def install(self, name: str, adapter: Adapter) -> None:
        """Use this adapter instance for `name` (tests, embedders)."""
        self[name] = adapter
