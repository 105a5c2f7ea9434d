"""The adapters of the operations side: gallery sources, outbound channels, identity keys."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from chalicelib.bootstrap.adapters import secret
from chalicelib.config import Settings
from chalicelib.ports import (
    AlertChannel,
    GallerySource,
    ImageFetcher,
    SigningKeys,
    WebhookKeys,
    WebhookSender,
)

if TYPE_CHECKING:
    from chalicelib.adapters.outbound.fetch import Resolver
    from chalicelib.domain.events import GalleryItemChosen

alerts_log = logging.getLogger("avatarflow.alerts")

# New items per style and run for each source: well inside their default quotas (Pexels 200
# requests an hour, Unsplash 50 an hour for a demo app); each fetch also reads a few pages at most.
GALLERY_PER_RUN = {"pexels": 40, "generated_photos": 40, "unsplash": 20}
SOURCE_TIMEOUT_S = 15.0


def build_sources(settings: Settings) -> list[GallerySource]:
    """The gallery sources that have a key, then the procedural one (it needs none)."""
    from chalicelib.adapters.providers.http_base import make_timeout
    from chalicelib.adapters.sources.procedural import ProceduralSource

    sources: list[GallerySource] = []
    timeout = make_timeout(SOURCE_TIMEOUT_S)
    if pexels_key := secret(settings.pexels_api_key):
        from chalicelib.adapters.sources.pexels import PexelsSource

        sources.append(
            PexelsSource(
                pexels_key,
                base_url=settings.pexels_base_url,
                timeout=timeout,
                per_run=GALLERY_PER_RUN["pexels"],
            )
        )
    if generated_key := secret(settings.generated_photos_api_key):
        from chalicelib.adapters.sources.generated_photos import GeneratedPhotosSource

        sources.append(
            GeneratedPhotosSource(
                generated_key,
                base_url=settings.generated_photos_base_url,
                timeout=timeout,
                per_run=GALLERY_PER_RUN["generated_photos"],
            )
        )
    if unsplash_key := secret(settings.unsplash_access_key):
        from chalicelib.adapters.sources.unsplash import UnsplashSource

        sources.append(
            UnsplashSource(
                unsplash_key,
                base_url=settings.unsplash_base_url,
                timeout=timeout,
                per_run=GALLERY_PER_RUN["unsplash"],
            )
        )
    sources.append(ProceduralSource(settings.gallery_seed_per_style))
    return sources


def build_image_fetcher(resolver: Resolver | None = None) -> ImageFetcher:
    from chalicelib.adapters.outbound.images import HttpImageFetcher

    return HttpImageFetcher(resolver=resolver, timeout=SOURCE_TIMEOUT_S)


def build_download_tracker(settings: Settings) -> Callable[[GalleryItemChosen], None] | None:
    """Unsplash's download tracking for chosen avatars (a handler of ``GalleryItemChosen``),
    where Unsplash is configured."""
    unsplash_key = secret(settings.unsplash_access_key)
    if not unsplash_key:
        return None
    from chalicelib.adapters.sources.unsplash import UnsplashDownloadTracker

    tracker = UnsplashDownloadTracker(unsplash_key, base_url=settings.unsplash_base_url)
    return lambda event: tracker(event.entry)


def build_webhook_sender(resolver: Resolver | None = None) -> WebhookSender:
    from chalicelib.adapters.outbound.callbacks import HttpWebhookSender

    return HttpWebhookSender(resolver=resolver)


def build_fal_keys(settings: Settings) -> WebhookKeys:
    from chalicelib.adapters.outbound.fal_keys import FalJwks

    return FalJwks(settings.fal_jwks_url)


def build_jwks(settings: Settings) -> SigningKeys | None:
    """RS256 user tokens through ``AVATARFLOW_JWKS_URL`` (HS256 needs no keys)."""
    if not settings.jwks_url:
        return None
    from chalicelib.adapters.outbound.jwks import JwksCache

    return JwksCache(settings.jwks_url)


def build_alert_channels(settings: Settings) -> list[AlertChannel]:
    """The budget alerts' webhook and/or SNS topic, as configured (a channel that is misconfigured
    is left out, loudly: the alert log line is always written)."""
    from chalicelib.adapters.outbound.alerts import SnsChannel, WebhookChannel

    channels: list[AlertChannel] = []
    if settings.budget_alert_url:
        alert_secret = secret(settings.budget_alert_secret)
        try:
            if alert_secret is None:
                raise ValueError("AVATARFLOW_BUDGET_ALERT_SECRET is not set")
            channels.append(WebhookChannel(settings.budget_alert_url, alert_secret))
        except ValueError as exc:
            alerts_log.error("budget alert webhook disabled: %s", exc, extra={"alert": "budget_config"})
    if settings.budget_sns_topic_arn:
        try:
            channels.append(SnsChannel(settings.budget_sns_topic_arn))
        except ValueError as exc:
            alerts_log.error("budget alert SNS topic disabled: %s", exc, extra={"alert": "budget_config"})
    return channels
