"""The vendor adapters, each built on first use.

The five vendor SDKs cost ~150 MiB and ~7 s of CPU to import together (anthropic alone
3 s, see docs/performance.md), so a gateway imports only the vendors it is asked for.
`server.preload` names vendors to import at start-up instead, off the event loop, so
their first request pays nothing.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Iterator, Mapping

from adapters.base import Adapter

FACTORIES: dict[str, str] = {
    "openai": "adapters.openai:OpenAIAdapter",
    "anthropic": "adapters.anthropic:AnthropicAdapter",
    "gemini": "adapters.gemini:GeminiAdapter",
    "cohere": "adapters.cohere:CohereAdapter",
    "mistral": "adapters.mistral:MistralAdapter",
}


class AdapterRegistry(Mapping[str, Adapter]):
    def __init__(self, factories: Mapping[str, str] | None = None) -> None:
        self._factories = dict(FACTORIES if factories is None else factories)
        self._built: dict[str, Adapter] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> Adapter:
        adapter = self._built.get(name)
        if adapter is not None:
            return adapter
        if name not in self._factories:
            raise KeyError(name)
        with self._lock:
            if name not in self._built:
                module, _, attribute = self._factories[name].partition(":")
                self._built[name] = getattr(importlib.import_module(module), attribute)()
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._factories)

    def __len__(self) -> int:
        return len(self._factories)

    def built(self) -> list[Adapter]:
        return list(self._built.values())

    async def preload(self, names: list[str]) -> None:
        for name in names:
            await asyncio.to_thread(self.__getitem__, name)

    def install(self, name: str, adapter: Adapter) -> None:
        """Use this adapter instance for `name` (tests, embedders)."""
        self._built[name] = adapter
