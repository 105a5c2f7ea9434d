"""The table of reactions (``bootstrap/handlers.py``): every domain event is handled or listed as
deliberately unhandled, and ``build_container`` installs exactly that table on its bus."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from unittest.mock import Mock

from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import build_container
from chalicelib.bootstrap.handlers import UNHANDLED, Reactions, event_handlers
from chalicelib.domain import events
from chalicelib.domain.events import Event, GalleryItemChosen, GenerationProgressed
from chalicelib.services.routing.router import ProviderRouter
from tests.conftest import make_settings
from tests.fakes import RecordingProvider
from tests.unit.services.fakes import event_kinds


def stand_ins() -> Reactions:
    """Every reaction, optional ones included (a Mock has each handler method the table names)."""
    return Reactions(**{f.name: Mock(name=f.name) for f in fields(Reactions)})


def domain_events() -> list[type[Event]]:
    """Every event of ``domain/events.py`` (tests define subclasses of their own)."""
    return [kind for kind in event_kinds() if kind.__module__ == events.__name__]


def test_every_event_is_handled_or_listed_as_deliberately_unhandled() -> None:
    table = event_handlers(stand_ins())
    kinds = domain_events()
    defined = [v for v in vars(events).values() if isinstance(v, type) and issubclass(v, Event)]
    assert set(kinds) == set(defined) - {Event}  # the classes themselves, no list to keep
    assert [k.__name__ for k in kinds if (k in table) == (k in UNHANDLED)] == []
    assert [k.__name__ for k in table if k not in kinds] == []
    assert all(reason.strip() for reason in UNHANDLED.values())


def test_with_every_reaction_configured_each_handled_event_has_a_handler() -> None:
    table = event_handlers(stand_ins())
    assert [kind.__name__ for kind, handlers in table.items() if not handlers] == []


def test_the_container_installs_the_table_on_its_bus(
    tmp_path: Path, store: RedisStateStore, objects: LocalObjectStore
) -> None:
    settings = make_settings(tmp_path, unsplash_access_key="unsplash-test-key")
    container = build_container(
        settings, store=store, objects=objects, provider=RecordingProvider(), start_workers=False
    )
    for kind in domain_events():
        installed = container.bus.handlers(kind)
        assert (kind in UNHANDLED) == (installed == ()), kind.__name__
    assert len(container.bus.handlers(GalleryItemChosen)) == 1  # Unsplash's download tracking


def test_the_burst_lanes_saturation_learns_queue_positions_from_the_bus(
    tmp_path: Path, store: RedisStateStore, objects: LocalObjectStore
) -> None:
    settings = make_settings(
        tmp_path, fal_key="fal-test-key", runpod_api_key="rp-key", runpod_endpoint_id="ep"
    )
    container = build_container(settings, store=store, objects=objects, start_workers=False)
    router = container.ports.provider
    assert isinstance(router, ProviderRouter) and router.saturation is not None
    assert router.saturation.on_progressed in container.bus.handlers(GenerationProgressed)
    without = build_container(
        make_settings(tmp_path / "off", fal_key="fal-test-key", burst_provider=""),
        store=store,
        objects=objects,
        start_workers=False,
    )
    assert len(without.bus.handlers(GenerationProgressed)) == 1  # the real-time push alone
