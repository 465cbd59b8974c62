"""The gateway's long-lived parts, built once from Settings and shared by every handler."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from dataclasses import dataclass, field
from types import FrameType

from proxy.accounting.ledger import Ledger
from proxy.accounting.metering import Meter
from proxy.dispatch.adapter_registry import AdapterRegistry
from proxy.dispatch.dispatcher import Dispatcher
from proxy.dispatch.media_inlining import MediaFetcher
from proxy.identity.keys import KeyStore
from proxy.pools.members import Pools
from proxy.routing import catalogue_file
from proxy.routing.routes import Router
from proxy.settings import Settings

QUIET_LOGGERS = ("openai", "anthropic", "httpx", "httpx2", "httpcore", "google_genai", "cohere", "mistralai")
"""SDK loggers: at DEBUG some print request options, headers included; per-request INFO lines
cost CPU on the hot path. They stay at WARNING whatever the root level is."""


@dataclass
class Gateway:
    settings: Settings
    adapters: AdapterRegistry = field(default_factory=AdapterRegistry)

    def __post_init__(self) -> None:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        config = self.settings.config
        self.keys = KeyStore(self.settings.database_url)
        self.ledger = Ledger(
            self.settings.database_url, config.database.synchronous, config.database.final_row_hold
        )
        self.catalogue = catalogue_file.load(config.catalogue.file)
        self.router = Router(config, self.catalogue.for_target)
        self.meter = Meter(config.prices, config.meters, self.catalogue)
        self.pools = Pools(config)
        self.dispatcher = Dispatcher(
            config, self.adapters, self.ledger, self.meter, pools=self.pools, media=MediaFetcher(config.media)
        )
        self.draining = False

    def start(self) -> None:
        self.ledger.start()
        self.pools.start()
        if self.settings.config.server.preload:
            self._preload = asyncio.get_running_loop().create_task(
                self.adapters.preload(list(self.settings.config.server.preload))
            )
        self._chain_signals(asyncio.get_running_loop())

    def _chain_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        """On SIGTERM/SIGINT, fail readiness at once and start the drain clock, then let the
        server's own handler stop accepting and wait for in-flight requests."""
        if threading.current_thread() is not threading.main_thread():
            return
        for number in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(number)

            def handler(received: int, frame: FrameType | None, previous: object = previous) -> None:
                loop.call_soon_threadsafe(self.begin_drain)
                if callable(previous):
                    previous(received, frame)

            signal.signal(number, handler)

    def begin_drain(self) -> None:
        """Readiness fails now; streams still running after the grace period get an error event."""
        if self.draining:
            return
        self.draining = True
        loop = asyncio.get_running_loop()
        loop.call_later(self.settings.config.dispatch.shutdown_grace, self.dispatcher.shutdown_streams)

    async def stop(self) -> None:
        self.draining = True
        self.dispatcher.shutdown_streams()
        for adapter in self.adapters.built():
            await adapter.aclose()
        await self.pools.stop()
        self.ledger.close()
        self.keys.close()
