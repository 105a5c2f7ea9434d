"""The gallery use cases from their ports: the catalog every request reads, and the refresh job
(the schedule, the admin route), built on first use: its sources import code no request needs."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from chalicelib.ports import GallerySource, ImageFetcher, ImagePipeline, JobQueue, ObjectStore, StateStore
from chalicelib.services.gallery.catalog import GalleryService

if TYPE_CHECKING:
    from chalicelib.ports import Clock
    from chalicelib.services.gallery.ai import GalleryAIPolicy
    from chalicelib.services.gallery.refresh import GalleryRefresh
    from chalicelib.services.generation.wiring import GenerationUseCases


class GalleryUseCases:
    """``catalog``: list, look up, suggest; ``refresh``: the job that fills the gallery."""

    def __init__(self, catalog: GalleryService, build_refresh: Callable[[], GalleryRefresh]) -> None:
        self.catalog = catalog
        self._build_refresh = build_refresh

    @functools.cached_property
    def refresh(self) -> GalleryRefresh:
        """Built on first use (``bootstrap/gallery.py`` chooses its sources)."""
        return self._build_refresh()


def wire_gallery_refresh(
    catalog: GalleryService,
    *,
    store: StateStore,
    objects: ObjectStore,
    queue: JobQueue,
    pipeline: ImagePipeline,
    clock: Clock,
    sources: Sequence[GallerySource],
    fetcher: ImageFetcher,
    generation: GenerationUseCases,
    ai_policy: GalleryAIPolicy | None,
) -> GalleryRefresh:
    """The refresh over ``sources``; with an ``ai_policy``, the batch AI pre-generation goes
    first: it makes no download (its pictures are already in the object store, paid for), and
    submitting early gives the batch lane the most time before the next run."""
    from chalicelib.services.gallery.refresh import GalleryRefresh

    ordered = list(sources)
    if ai_policy is not None:
        from chalicelib.services.gallery.ai import BatchAISource
        from chalicelib.services.gallery.intake import entry_id

        ordered.insert(
            0,
            BatchAISource(
                admission=generation.admission,
                finish=generation.steps.finish,
                generations=store.generations,
                counters=store.counters,
                kv=store.kv,
                queue=queue,
                clock=clock,
                policy=ai_policy,
                is_published=lambda source_id: catalog.entry(entry_id("ai", source_id)) is not None,
            ),
        )
    return GalleryRefresh(
        gallery=catalog,
        objects=objects,
        kv=store.kv,
        sources=ordered,
        fetcher=fetcher,
        pipeline=pipeline,
        clock=clock,
    )
