"""The gallery refresh job and its sources, built on first use (the schedule, the admin route)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.bootstrap.operations import build_image_fetcher, build_sources
from chalicelib.ports import GallerySource

if TYPE_CHECKING:
    from chalicelib.bootstrap import Container
    from chalicelib.services.gallery.refresh import GalleryRefresh


def build_batch_ai_source(container: Container) -> GallerySource | None:
    """The gallery's AI pre-generation on the batch lane, where a real AI provider is configured
    (with the offline renderer alone the procedural source already has those pictures).

    Built even with a budget share of 0 (it then submits nothing) so that jobs submitted before
    the share was lowered are still collected; ``AVATARFLOW_GALLERY_AI_PER_RUN=0`` turns it off.
    """
    settings = container.settings
    if settings.gallery_ai_per_run <= 0 or not container.provider.vendors:
        return None
    from chalicelib.services.gallery.ai import BatchAISource, GalleryAIPolicy
    from chalicelib.services.gallery.intake import entry_id

    gallery = container.gallery
    return BatchAISource(
        admission=container.admission,
        finish=container.finish,
        generations=container.store.generations,
        counters=container.store.counters,
        kv=container.store.kv,
        queue=container.queue,
        clock=container.clock,
        policy=GalleryAIPolicy(
            daily_budget_usd=settings.daily_budget_usd,
            budget_share=settings.gallery_ai_budget_share,
            per_run=settings.gallery_ai_per_run,
        ),
        is_published=lambda source_id: gallery.entry(entry_id("ai", source_id)) is not None,
    )


def build_gallery_refresh(container: Container) -> GalleryRefresh:
    """The batch AI source goes first: it makes no download (its pictures are already in the
    object store, paid for), and submitting early gives the batch lane the most time before the
    next run."""
    from chalicelib.services.gallery.refresh import GalleryRefresh

    sources = build_sources(container.settings)
    batch_ai = build_batch_ai_source(container)
    if batch_ai is not None:
        sources.insert(0, batch_ai)
    return GalleryRefresh(
        gallery=container.gallery,
        objects=container.objects,
        kv=container.store.kv,
        sources=sources,
        fetcher=build_image_fetcher(container.resolver),
        pipeline=container.pipeline,
        clock=container.clock,
    )
