"""Image providers: make one image for a request (FLUX vendors, GPT Image, the offline renderer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

ProviderErrorKind = Literal["retryable", "down", "bad_request", "content_rejected", "auth"]


@dataclass(frozen=True)
class ProviderRequest:
    style_id: str
    prompt: str  # the full prompt (style template + user words)
    user_prompt: str
    variation: int
    seed: int
    size: int
    quality: str
    photo: str | None = None  # a photo generation: the caller's ready upload (``upl_...``)
    likeness: float = 0.8  # how closely the avatar keeps the photo's face (0..1)
    photo_url: str | None = None  # the photo's presigned GET (<= 10 min), filled in for a vendor


@dataclass(frozen=True)
class ProviderResult:
    image: bytes  # encoded image bytes as the provider returned them (after fetching)
    provider: str
    model: str
    cost_usd: float
    latency_ms: float
    picture: Any = None  # a decoded PIL image when made in-process: saves an encode and a decode


class ImageProvider(Protocol):
    """Makes one image for a request; raises :class:`ProviderError` subclasses on failure.

    Adapters subclass this Protocol to inherit the defaults of a single, plain provider: it
    serves every quality, is its own only candidate and makes a second image (and bill) when a
    request is repeated, so it is never retried blindly.
    """

    name: str
    dedups_requests: bool = False  # True: a repeated request makes no second image (safe to retry)

    @property
    def vendors(self) -> tuple[str, ...]:
        """The AI vendors behind this provider, each with a circuit breaker (empty: offline only)."""
        return ()

    def supports(self, quality: str) -> bool:
        return True

    def candidates(self, quality: str) -> Sequence[ImageProvider]:
        """What a call for ``quality`` tries, in order."""
        return [self] if self.supports(quality) else []

    def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
        """Make the image; ``within_s`` bounds the whole call (seconds), where the caller has a deadline."""
        ...


class ProviderError(Exception):
    """A provider failed. ``kind`` tells the router what to do next."""

    kind: ProviderErrorKind = "down"

    def __init__(
        self, message: str, *, retry_after: float | None = None, vendor_request_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        # The vendor's own id of the call or job (a header or the job id), for the log line an
        # operator quotes to the vendor's support; never a secret.
        self.vendor_request_id = vendor_request_id

    @property
    def failed_providers(self) -> tuple[str, ...] | None:
        """The providers that failed on the way to this error where known (a router names each
        one it tried); None: the provider that raised it."""
        return None


class RetryableProviderError(ProviderError):
    """Timeout, 5xx, throttling: try again later or elsewhere."""

    kind = "retryable"


class ProviderThrottled(RetryableProviderError):
    """The provider answered 429 (too many requests), with or without a ``Retry-After``: it is
    saturated, which the burst lane reacts to."""


class ProviderDown(ProviderError):
    """The provider is unreachable or failing on every call."""

    kind = "down"


class ProviderBadRequest(ProviderError):
    """The provider refused the request itself (4xx other than auth/throttle)."""

    kind = "bad_request"


class ContentRejected(ProviderError):
    """The prompt or the output was flagged; never retried at another provider."""

    kind = "content_rejected"


class ProviderAuthError(ProviderError):
    """Bad credentials or no credit left: open the breaker and alert an operator."""

    kind = "auth"


class ProviderMisconfigured(ProviderAuthError):
    """The vendor says what we ask for does not exist (a model removed or renamed, e.g. OpenAI's
    ``model_not_found``): every call fails the same way until an operator changes the settings, so
    it is handled like a bad key (the breaker opens for long, an alert is raised), not as a bad
    request."""
