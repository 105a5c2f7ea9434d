"""Providers' queue APIs (webhook mode): submit a job with a callback URL, read its outcome later."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.domain.provider_job import ProviderJob
from chalicelib.ports.providers import ProviderError, ProviderRequest, ProviderResult


class JobFailed(Exception):
    """The provider reports the job itself failed (refused, errored, canceled, or an unusable
    output): a retry means a new submission. Any other :class:`ProviderError` raised while reading
    a job (a timeout, a 5xx, an output download that failed) is transient: read it again later."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class Pending:
    """A provider job that is not done yet, and what the provider said of it: still in its queue
    (``running`` False, maybe at ``queue_position``) or running (maybe ``percent`` done)."""

    running: bool = True
    percent: float | None = None
    queue_position: int | None = None


class QueuedProvider(Protocol):
    """A provider's queue API. ``poll`` and ``from_webhook`` answer the result when the job is done,
    :class:`Pending` (or None) while it is not, and raise :class:`JobFailed` if it failed (any
    other ProviderError is transient)."""

    name: str
    signs_webhooks: bool  # False: the callback URL must carry a per-job secret

    def supports(self, quality: str) -> bool: ...

    def submit(self, request: ProviderRequest, webhook_url: str | None) -> ProviderJob:
        """Queue the request at the provider; it calls ``webhook_url`` when it is done."""
        ...

    def poll(self, job: ProviderJob, *, quality: str, size: int) -> ProviderResult | Pending | None: ...

    def delivery_job_id(self, payload: Any) -> str:
        """The provider's job id named in a webhook body ('' if none)."""
        ...

    def from_webhook(
        self, job: ProviderJob, payload: Any, *, quality: str, size: int
    ) -> ProviderResult | Pending | None: ...

    def cancel(self, job: ProviderJob) -> None:
        """Best effort: stop a job nobody waits for any more."""
        ...


class ProviderQueues(Protocol):
    """The queue APIs of the configured providers (empty outside webhook mode)."""

    def for_quality(self, quality: str) -> list[QueuedProvider]:
        """The queue APIs that serve ``quality``, in route order."""
        ...

    def get(self, name: str) -> QueuedProvider | None: ...

    @property
    def available(self) -> bool:
        """At least one provider offers a queue API."""
        ...
