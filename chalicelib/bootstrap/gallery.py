"""The gallery refresh job's adapters (its sources, the image fetcher) and its AI pre-generation
policy, chosen from the settings on first use (the schedule, the admin route); the use case is
wired by ``services/gallery/wiring.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.bootstrap.operations import build_image_fetcher, build_sources

if TYPE_CHECKING:
    from chalicelib.bootstrap.container import Container
    from chalicelib.config import Settings
    from chalicelib.ports import ImageProvider
    from chalicelib.services.gallery.ai import GalleryAIPolicy
    from chalicelib.services.gallery.refresh import GalleryRefresh


def batch_ai_policy(settings: Settings, provider: ImageProvider) -> GalleryAIPolicy | None:
    """The gallery's AI pre-generation on the batch lane, where a real AI provider is configured
    (with the offline renderer alone the procedural source already has those pictures).

    On even with a budget share of 0 (it then submits nothing) so that jobs submitted before
    the share was lowered are still collected; ``AVATARFLOW_GALLERY_AI_PER_RUN=0`` turns it off.
    """
    if settings.gallery_ai_per_run <= 0 or not provider.vendors:
        return None
    from chalicelib.services.gallery.ai import GalleryAIPolicy

    return GalleryAIPolicy(
        daily_budget_usd=settings.daily_budget_usd,
        budget_share=settings.gallery_ai_budget_share,
        per_run=settings.gallery_ai_per_run,
    )


def build_gallery_refresh(container: Container) -> GalleryRefresh:
    """The refresh job over the configured sources (``services/gallery/wiring.py`` wires it)."""
    from chalicelib.services.gallery.wiring import wire_gallery_refresh

    settings, ports = container.settings, container.ports
    return wire_gallery_refresh(
        container.gallery.catalog,
        store=ports.store,
        objects=ports.objects,
        queue=ports.queue,
        pipeline=ports.pipeline,
        clock=ports.clock,
        sources=build_sources(settings),
        fetcher=build_image_fetcher(ports.resolver),
        generation=container.generation,
        ai_policy=batch_ai_policy(settings, ports.provider),
    )
