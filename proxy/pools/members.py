"""Worker pools: which member of a pool runs the next attempt, and whether it is alive.

Selection is least-outstanding-requests over the members that are healthy (or not yet
probed) and below their concurrency cap (a Bytez container: always 1), ties taken in turn.
When every usable member is busy or still loading its model, a request waits briefly for a
slot (`acquire_timeout`); when none is usable at all it fails at once with 503 `overloaded`,
and dispatch fails over to the route's next target.

Health is active and passive: each member's health path is probed every `health_interval`
seconds (2xx-4xx: healthy, 503: warming — a model still loading, not dead — anything else
or no answer: down), and a failed request triggers an immediate probe of its member. A
success marks the member healthy again at once. Dispatch calls `release` exactly once per
lease, which frees the slot and wakes a waiting request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import msgspec

from adapters.bytez_worker import DEFAULT_MAX_OUTPUT_BYTES, BytezWorkerAdapter
from adapters.openai_compat import OpenAICompatAdapter
from proxy import observability as observe
from proxy.accounting.metering import pool_meter
from proxy.dispatch.call import Lease
from schemas.config import Config, Pool
from schemas.errors import Code, GatewayError, UpstreamError

log = logging.getLogger("unigate.pools")
State = Literal["unknown", "healthy", "warming", "down"]
WorkerAdapter = OpenAICompatAdapter | BytezWorkerAdapter
_ALIVE: frozenset[State] = frozenset({"unknown", "healthy"})
_PROBE_TIMEOUT = 5.0


@dataclass(slots=True)
class Member:
    url: str
    concurrency: int
    outstanding: int = 0
    state: State = "unknown"
    probing: bool = False
    models: frozenset[str] | None = None
    """What the member said it serves (`GET /v1/models`); None: not asked, or no answer."""


@dataclass
class WorkerPool:
    config: Pool
    members: list[Member]
    adapter: WorkerAdapter
    meter: str
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    turn: int = 0

    @property
    def provider(self) -> str:
        return f"pool:{self.config.name}"

    def base_url(self, member: Member) -> str:
        return f"{member.url}/v1" if self.config.protocol == "openai" else member.url

    def served(self) -> frozenset[str] | None:
        """The models the pool's members that are not down say they serve; None when none
        of them said (a bytez pool, a server without `/v1/models`, every member down)."""
        lists = [m.models for m in self.members if m.models is not None and m.state != "down"]
        return frozenset().union(*lists) if lists else None

    def pick(self, exclude: frozenset[str]) -> Member | None:
        free = [
            (position, member)
            for position, member in enumerate(self.members)
            if member.url not in exclude
            and member.state in _ALIVE
            and member.outstanding < member.concurrency
        ]
        if not free:
            return None
        count = len(self.members)
        self.turn += 1
        _, chosen = min(free, key=lambda item: (item[1].outstanding, (item[0] - self.turn) % count))
        return chosen

    def may_free_up(self, exclude: frozenset[str]) -> bool:
        """Some member outside `exclude` is busy or loading: worth a short wait."""
        return any(
            m.url not in exclude and m.state in {"unknown", "healthy", "warming"} for m in self.members
        )

    def unavailable(self, exclude: frozenset[str]) -> UpstreamError:
        tally: dict[str, int] = {}
        for member in self.members:
            kind = "failed" if member.url in exclude else "busy" if member.state in _ALIVE else member.state
            tally[kind] = tally.get(kind, 0) + 1
        detail = ", ".join(f"{count} {kind}" for kind, count in sorted(tally.items())) or "no members"
        return UpstreamError(
            Code.OVERLOADED,
            f"worker pool {self.config.name!r} has no member free ({detail})",
            provider=self.provider,
            retry_after=1.0,
        )

    def wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class _ListedModel(msgspec.Struct):
    id: str


class _ModelList(msgspec.Struct):
    data: list[_ListedModel]


_decode_model_list = msgspec.json.Decoder(_ModelList).decode


def _model_ids(body: bytes) -> frozenset[str] | None:
    try:
        return frozenset(model.id for model in _decode_model_list(body).data)
    except msgspec.DecodeError:
        return None


def member_url(url: str, protocol: str) -> str:
    """Members are bare addresses; a trailing `/` (and `/v1` for OpenAI-protocol servers) is dropped."""
    url = url.strip().rstrip("/")
    if protocol == "openai" and url.endswith("/v1"):
        url = url[: -len("/v1")]
    return url


def build_pool(config: Pool, max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES) -> WorkerPool:
    provider = f"pool:{config.name}"
    adapter: WorkerAdapter
    if config.protocol == "bytez":
        adapter, concurrency = BytezWorkerAdapter(provider, max_output_bytes=max_output_bytes), 1
    else:
        adapter, concurrency = (
            OpenAICompatAdapter(provider, api_key=config.api_key),
            max(config.concurrency, 1),
        )
    members = [Member(member_url(url, config.protocol), concurrency) for url in config.urls]
    return WorkerPool(config, members, adapter, pool_meter(config))


class Pools:
    """The gateway's worker pools: the `PoolProvider` dispatch leases members from."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self.pools = {pool.name: build_pool(pool, config.media.max_output_bytes) for pool in config.pools}
        self._http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[object]] = set()

    def _pool(self, name: str) -> WorkerPool:
        pool = self.pools.get(name)
        if pool is None:
            raise GatewayError(Code.UNSUPPORTED, f"worker pool {name!r} is not configured", status=501)
        return pool

    def served(self, name: str) -> frozenset[str] | None:
        """What pool `name` serves, as its members last reported it (None: unknown)."""
        pool = self.pools.get(name)
        return pool.served() if pool is not None else None

    def task_of(self, name: str, model: str) -> str:
        """The task of `model` on pool `name`: the pool's declared `task` (an OpenAI-protocol
        server does not say; a bytez container is declared one model, one task)."""
        return self._pool(name).config.task

    def meter(self, name: str) -> str:
        """The meter a pool bills on (`LLM-SM` for a chat pool declared `meter = "SM"`)."""
        return self._pool(name).meter

    # -- leasing ---------------------------------------------------------------------------

    async def acquire(self, pool: str, exclude: frozenset[str]) -> Lease:
        chosen = self._pool(pool)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + chosen.config.acquire_timeout
        while True:
            member = chosen.pick(exclude)
            if member is not None:
                member.outstanding += 1
                observe.pool_waited(pool, chosen.config.acquire_timeout - (deadline - loop.time()))
                return Lease(
                    adapter=chosen.adapter,
                    provider=chosen.provider,
                    endpoint=member.url,
                    base_url=chosen.base_url(member),
                    meter=chosen.meter,
                    release=self._releaser(chosen, member),
                )
            remaining = deadline - loop.time()
            if remaining <= 0 or not chosen.may_free_up(exclude):
                raise chosen.unavailable(exclude)
            waiter: asyncio.Future[None] = loop.create_future()
            chosen.waiters.append(waiter)
            try:
                async with asyncio.timeout(remaining):
                    await waiter
            except TimeoutError:
                pass
            finally:
                if waiter in chosen.waiters:
                    chosen.waiters.remove(waiter)

    def _releaser(self, pool: WorkerPool, member: Member) -> Callable[[bool], None]:
        released = False

        def release(ok: bool) -> None:
            nonlocal released
            if released:
                return
            released = True
            member.outstanding -= 1
            if ok:
                self._set_state(pool, member, "healthy")
            else:
                self._probe_soon(pool, member)
            pool.wake()

        return release

    # -- health ----------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=_PROBE_TIMEOUT)
        return self._http

    def _set_state(self, pool: WorkerPool, member: Member, state: State) -> None:
        if member.state == state:
            return
        quiet = member.state == "unknown" and state == "healthy"
        (log.debug if quiet else log.warning if state == "down" else log.info)(
            "pool %s member %s: %s -> %s", pool.config.name, member.url, member.state, state
        )
        member.state = state
        if state == "healthy":
            pool.wake()

    async def probe(self, pool: WorkerPool, member: Member) -> State:
        """One health check of one member; its state follows the answer."""
        if member.probing:
            return member.state
        member.probing = True
        state: State
        try:
            response = await self._client().get(
                member.url + pool.config.health_path, timeout=min(pool.config.health_interval, _PROBE_TIMEOUT)
            )
            status = response.status_code
            state = "healthy" if status < 500 else "warming" if status == 503 else "down"
        except httpx.HTTPError:
            state = "down"
        finally:
            member.probing = False
        self._set_state(pool, member, state)
        if pool.config.protocol == "openai" and state == "healthy":
            await self.discover(pool, member)
        return state

    async def discover(self, pool: WorkerPool, member: Member) -> None:
        """Ask an OpenAI-protocol member what it serves (vLLM, SGLang, llama.cpp, Ollama and
        TGI all answer `GET /v1/models`); the answer replaces the last one, so a model
        loaded or unloaded shows at the next health round."""
        headers = {"Authorization": f"Bearer {pool.config.api_key}"} if pool.config.api_key else {}
        try:
            response = await self._client().get(
                member.url + "/v1/models",
                headers=headers,
                timeout=min(pool.config.health_interval, _PROBE_TIMEOUT),
            )
            listed = _model_ids(response.content) if response.status_code == 200 else None
        except httpx.HTTPError:
            listed = None
        if listed != member.models:
            log.info(
                "pool %s member %s serves: %s",
                pool.config.name,
                member.url,
                ", ".join(sorted(listed)) if listed is not None else "(not said)",
            )
        member.models = listed

    async def check(self) -> None:
        """Probe every member of every pool once, concurrently."""
        probes = [self.probe(pool, member) for pool in self.pools.values() for member in pool.members]
        await asyncio.gather(*probes)

    def _probe_soon(self, pool: WorkerPool, member: Member) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to schedule on
            self._spawn(self.probe(pool, member))

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self, pool: WorkerPool) -> None:
        while True:
            await asyncio.gather(*(self.probe(pool, member) for member in pool.members))
            await asyncio.sleep(pool.config.health_interval)

    def start(self) -> None:
        """Start the health checks (inside the server's event loop)."""
        for pool in self.pools.values():
            self._spawn(self._watch(pool))

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for pool in self.pools.values():
            pool.wake()
            await pool.adapter.aclose()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
