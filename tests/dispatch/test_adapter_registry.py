"""The adapters' registry on its own (proxy/dispatch/adapter_registry.py): a vendor's adapter
(and its SDK) is built on first use, once, even under concurrent first requests."""

from __future__ import annotations

import threading

import pytest

from adapters.base import Capabilities
from proxy.dispatch.adapter_registry import FACTORIES, AdapterRegistry

_built: list[str] = []


class Counted:
    """An adapter that counts its constructions."""

    name = "counted"
    capabilities = Capabilities()

    def __init__(self) -> None:
        _built.append(self.name)


FACTORY = {"counted": f"{__name__}:Counted"}


@pytest.fixture(autouse=True)
def _fresh() -> None:
    _built.clear()


def test_nothing_is_built_until_asked_for_and_then_once() -> None:
    registry = AdapterRegistry(FACTORY)
    assert registry.vendors() == ["counted"]  # listing builds nothing
    assert (_built, registry.built()) == ([], [])
    first = registry["counted"]
    assert registry["counted"] is first
    assert _built == ["counted"]
    assert registry.built() == [first]


def test_concurrent_first_requests_build_one_adapter() -> None:
    registry = AdapterRegistry(FACTORY)
    barrier = threading.Barrier(8)
    seen: list[object] = []

    def first_request() -> None:
        barrier.wait()
        seen.append(registry["counted"])

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _built == ["counted"]
    assert len({id(adapter) for adapter in seen}) == 1


def test_an_unknown_vendor_is_absent_not_an_import_error() -> None:
    registry = AdapterRegistry(FACTORY)
    assert registry.get("nope") is None
    with pytest.raises(KeyError):
        registry["nope"]


def test_an_installed_adapter_is_used_instead_of_building_one() -> None:
    registry = AdapterRegistry(FACTORY)
    mine = Counted()
    _built.clear()
    registry.install("counted", mine)  # type: ignore[arg-type]
    assert registry["counted"] is mine
    assert _built == []


async def test_preload_builds_off_the_event_loop() -> None:
    registry = AdapterRegistry(FACTORY)
    await registry.preload(["counted"])
    assert _built == ["counted"]
    assert len(registry.built()) == 1


def test_the_default_factories_name_the_five_vendors() -> None:
    assert sorted(FACTORIES) == ["anthropic", "cohere", "gemini", "mistral", "openai"]
    assert sorted(AdapterRegistry().vendors()) == sorted(FACTORIES)
