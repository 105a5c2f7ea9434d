"""Batch AI: the gallery's own AI avatars, pre-generated on the batch lane within a share of the budget.

The refresh job calls :meth:`BatchAISource.fetch` once per style and run. Each call

1. **collects** what earlier runs submitted: the statuses of the style's pending jobs in one store
   call. Failed (or expired) jobs are dropped; jobs made by the procedural renderer (the router's
   last resort) are dropped too, since the procedural source already covers those pictures;
   succeeded ones are yielded as ``source="ai"`` items whose renditions (the job's ``img/`` keys)
   the refresh job copies byte for byte under ``gallery/``, so that the 30-day ``img/`` lifecycle
   never expires them. Queued and running jobs simply stay pending: nothing waits on a GPU.
2. **submits** new jobs for variations of the style not yet made, on the batch lane (the lowest
   priority: user traffic always goes first), admitted through ``Admission.admit`` like
   any generation (same cache, in-flight joins, spend guard), under a system identity
   (:data:`SYSTEM_IDENTITY`: an enterprise-tier API-key identity with no quota windows, which no
   client can authenticate as). Generations are tagged ``gallery_candidate`` and carry the
   accounting tier ``gallery`` (the generation's ``tier``, set through ``admit``'s
   ``accounting_tier`` after the enterprise entitlements were checked): a finished job then adds its cost to
   ``spend:day:YYYYMMDD:tier:gallery`` in the same store call that finishes it, like every tier's
   spend, and the gallery's pre-generation never passes for an enterprise client's spend or jobs
   in the admin stats.

Why it is shaped like this:

- **The budget check is one store read before submitting** (today's gallery spend and today's
  total, in one ``MGET``): submission stops once the gallery spent ``share`` of the daily budget,
  and also once the whole budget is spent (when free users are already sent to the gallery,
  pre-generating more for it would be perverse). Jobs still in flight are not counted, so a run
  can overshoot by at most the jobs it may have open, which :attr:`per_run` bounds: at most
  ``per_run`` jobs are open per style at any time, and new ones only fill the gap.
- **Requests are deterministic** (empty prompt, a variation, a fixed size and quality), so the
  result cache and the in-flight join make a repeat free: if a run dies between admitting a job
  and saving its id, the next run asks for the same variation again and gets the same job (joined)
  or its result (cached) at no extra cost. Variations count down from 999 so that they rarely meet
  the low variations users pick (a meeting is harmless: same request, same picture, no user data).
- **Pending job ids live in the state store**, one small JSON document per style
  (``gallery:ai:<style>``), written only inside a refresh run (which holds the refresh lock).
  A succeeded job stays pending until the gallery lists it (``is_published``), so an item yielded
  to a run that then stops at its deadline or crashes is offered again by the next run; the
  refresh job dedups by id, so offering a published item again costs nothing. An item offered
  :data:`MAX_OFFERS` times without being published (a rendition gone, say) is given up.
- **Bounded growth**: at most ``max_per_style`` variations per style are ever asked for, so the
  share of the budget is spent filling the gallery, not forever.

Unlike the HTTP sources this one drives a use case (``Admission.admit``, the batch lane) rather
than a vendor API, so it lives with the use cases; ``bootstrap`` builds it only where the provider
has AI vendors behind it (``ImageProvider.vendors``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.domain.errors import BudgetExhausted, DomainError, QuotaExceeded, RateLimited
from chalicelib.domain.generation import Failure, Generation
from chalicelib.domain.identity import Identity
from chalicelib.domain.periods import spend_keys
from chalicelib.domain.styles import STYLES, STYLES_BY_ID
from chalicelib.ports import (
    Clock,
    Counters,
    GenerationStore,
    JobQueue,
    KeyValueStore,
    SourceItem,
    SourceUnavailable,
    StoreError,
)
from chalicelib.schemas.models import GenerationRequest, Quality
from chalicelib.services.generation.admission import Admission
from chalicelib.services.generation.finish import FinishGeneration

__all__ = [
    "GALLERY_TIER",
    "LICENSE",
    "SYSTEM_IDENTITY",
    "BatchAISource",
    "GalleryAIPolicy",
    "gallery_spend_key",
    "state_key",
]

log = logging.getLogger(__name__)

BATCH_LANE = "batch"
GALLERY_TIER = "gallery"  # the accounting tier of the records (entitlements are enterprise's)
LICENSE = "avatarflow-generated"
# An API-key identity (so batch-lane jobs look like an enterprise client's), with no quota windows
# (``windows=()``: an operator's enterprise caps in AVATARFLOW_TIERS do not apply to it). API keys
# are "key_..." and are looked up by hash, so no client can ever authenticate as it.
SYSTEM_IDENTITY = Identity("api_key", "gallery-batch", "enterprise", windows=())
TOP_VARIATION = 999
MAX_OFFERS = 3  # a succeeded job offered this many times without being published is given up
STATE_TTL = 365 * 24 * 3600  # the variation counter must outlive the gap between refreshes
SIZES = ("128", "256", "512")


def state_key(style: str) -> str:
    """The state store key of a style's pending jobs and next variation."""
    return f"gallery:ai:{style}"


def gallery_spend_key(now: float) -> str:
    """Today's spend of the gallery's pre-generation (USD): the ``gallery`` tier's day counter, as
    ``FinishGeneration`` adds it when a job finishes (``<day key>:tier:<generation's tier>``)."""
    return f"{spend_keys(now)[0]}:tier:{GALLERY_TIER}"


@dataclass(frozen=True)
class GalleryAIPolicy:
    """How much of the budget the gallery's own AI avatars may use, and how they are made."""

    daily_budget_usd: float
    budget_share: float = 0.1  # of the daily budget
    per_run: int = 4  # new jobs per style and run, and also the most that may be open per style
    quality: Quality = "fast"
    size: Literal[512, 1024] = 512
    max_per_style: int = 100  # variations ever submitted per style (the gallery stops growing there)


class BatchAISource:
    """:class:`chalicelib.ports.GallerySource` of AI avatars pre-generated on the batch lane."""

    name = "ai"
    allowed_hosts: tuple[str, ...] = ()  # nothing is downloaded: the pictures are in our store

    def __init__(
        self,
        *,
        admission: Admission,
        finish: FinishGeneration,
        generations: GenerationStore,
        counters: Counters,
        kv: KeyValueStore,
        queue: JobQueue,
        clock: Clock,
        policy: GalleryAIPolicy,
        is_published: Callable[[str], bool] | None = None,
    ) -> None:
        """``is_published(source_id)``: whether the gallery lists that item already; without it a
        succeeded job is dropped from the pending list as soon as it has been offered once."""
        self._admission = admission
        self._finish = finish
        self._generations = generations
        self._counters = counters
        self._kv = kv
        self._queue = queue
        self._daily_budget = max(0.0, policy.daily_budget_usd)
        self._share = min(1.0, max(0.0, policy.budget_share))
        self.per_run = max(0, policy.per_run)
        self._quality = policy.quality
        self._size = policy.size
        self._lowest = TOP_VARIATION + 1 - max(0, min(policy.max_per_style, TOP_VARIATION + 1))
        self._is_published = is_published
        self._clock = clock
        self.styles = tuple(s.id for s in STYLES if policy.quality in s.qualities)

    def __repr__(self) -> str:
        return f"BatchAISource(share={self._share}, per_run={self.per_run}, quality={self._quality!r})"

    @property
    def budget_usd(self) -> float:
        """Today's cap on the gallery's AI spend (USD)."""
        return self._share * self._daily_budget

    # -- the source ------------------------------------------------------------------------------

    def fetch(self, style: str, budget: int, cursor: str | None = None) -> Iterator[SourceItem]:
        """Collect the style's finished jobs, submit new ones, then yield up to ``budget`` items.

        Every store call happens before the first item is yielded, and the state is saved then:
        the refresh job may stop reading at any item (its budget, its deadline)."""
        if style not in self.styles:
            return
        try:
            state = self._load(style)
            items, open_jobs = self._collect(style, state, max(0, budget))
            try:
                self._submit(style, state, open_jobs)
            finally:
                self._save(style, state)
        except StoreError as exc:
            raise SourceUnavailable(f"ai: the state store failed ({exc})") from None
        yield from items

    # -- collect ---------------------------------------------------------------------------------

    def _collect(self, style: str, state: dict[str, Any], budget: int) -> tuple[list[SourceItem], int]:
        """Sort the pending jobs (one status read): items to offer now, and how many are open."""
        pending: list[dict[str, Any]] = state["pending"]
        if not pending:
            return [], 0
        statuses = self._generations.statuses([str(p["id"]) for p in pending])
        keep: list[dict[str, Any]] = []
        items: list[SourceItem] = []
        open_jobs = 0
        for job, status in zip(pending, statuses, strict=True):
            source_id = self._source_id(style, int(job["v"]))
            if status in ("queued", "running"):
                open_jobs += 1
                keep.append(job)
            elif status != "succeeded":  # failed (refunded) or its record expired
                log.info(
                    "gallery AI job dropped (%s)",
                    status or "expired",
                    extra={"job_id": job["id"], "style": style},
                )
            elif self._is_published is not None and self._is_published(source_id):
                continue  # done: the gallery lists it
            elif len(items) >= budget:
                keep.append(job)  # the refresh wants no more from this style in this run
            elif int(job.get("offers", 0)) >= MAX_OFFERS:
                log.warning(
                    "gallery AI item given up after %d offers", MAX_OFFERS, extra={"job_id": job["id"]}
                )
            else:
                item = self._item(style, int(job["v"]), self._generations.get(str(job["id"])))
                if item is None:
                    continue
                items.append(item)
                if self._is_published is not None:
                    keep.append({**job, "offers": int(job.get("offers", 0)) + 1})
        state["pending"] = keep
        return items, open_jobs

    def _item(self, style: str, variation: int, generation: Generation | None) -> SourceItem | None:
        if generation is None or generation.status != "succeeded":
            return None
        if generation.provider in (None, "procedural"):
            # The router's offline fallback made it: the procedural source already has that look.
            log.info(
                "gallery AI job made by the procedural fallback; not published",
                extra={"job_id": generation.id},
            )
            return None
        images = generation.images or {}
        if not all(images.get(s) for s in SIZES):
            log.warning("gallery AI job without its renditions", extra={"job_id": generation.id})
            return None
        return SourceItem(
            source=self.name,
            source_id=self._source_id(style, variation),
            style=style,
            tags=(STYLES_BY_ID[style].look.technique, "ai", generation.quality or self._quality),
            license=LICENSE,
            stored_keys={s: images[s] for s in SIZES},
        )

    def _source_id(self, style: str, variation: int) -> str:
        return f"{style}-{self._quality}-v{variation:03d}"

    # -- submit ----------------------------------------------------------------------------------

    def _submit(self, style: str, state: dict[str, Any], open_jobs: int) -> None:
        """New jobs on the batch lane, up to ``per_run`` open per style, within the budget share."""
        wanted = min(self.per_run - open_jobs, int(state["next"]) - self._lowest + 1)
        if wanted <= 0 or self._share <= 0 or not self._within_budget():
            return
        for _ in range(wanted):
            variation = int(state["next"])
            request = GenerationRequest(
                style=style, prompt="", variation=variation, size=self._size, quality=self._quality
            )
            try:
                admitted = self._admission.admit(
                    SYSTEM_IDENTITY,
                    request,
                    lane=BATCH_LANE,
                    accounting_tier=GALLERY_TIER,
                    gallery_candidate=True,
                )
            except (BudgetExhausted, QuotaExceeded, RateLimited) as exc:
                log.info("gallery AI submission stopped: %s", exc.code, extra={"style": style})
                return
            except DomainError as exc:  # the style or quality is not allowed: a configuration error
                log.warning("gallery AI submission refused: %s", exc.message, extra={"style": style})
                return
            generation = admitted.generation
            if admitted.outcome == "created":
                try:
                    self._queue.enqueue(generation.id, BATCH_LANE)
                except Exception:
                    # Nothing lost: the job ends now, refunded; the variation is asked again later.
                    log.exception("gallery AI job could not be queued", extra={"job_id": generation.id})
                    self._finish.fail(generation, Failure("internal", "The job could not be queued."))
                    return
            # created, cached (already made), joined (in flight) or replayed: follow it by its id.
            state["pending"].append({"id": generation.id, "v": variation})
            state["next"] = variation - 1
            log.info(
                "gallery AI job submitted (%s)",
                admitted.outcome,
                extra={"job_id": generation.id, "style": style, "variation": variation},
            )

    def _within_budget(self) -> bool:
        """One store read: today's gallery spend under its share, and today's total under the budget."""
        now = self._clock.time()
        spent, total = self._counters.values([gallery_spend_key(now), spend_keys(now)[0]])
        if spent >= self.budget_usd:
            log.info("gallery AI paused: its share of today's budget is spent (%.4f USD)", spent)
            return False
        if total >= self._daily_budget:
            log.info("gallery AI paused: today's budget is spent (%.4f USD)", total)
            return False
        return True

    # -- state -----------------------------------------------------------------------------------

    def _load(self, style: str) -> dict[str, Any]:
        """``{"next": variation, "pending": [{"id", "v", "offers"?}]}``; a fresh one if unreadable."""
        raw = self._kv.get(state_key(style))
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            doc = {}
        if not isinstance(doc, dict):
            doc = {}
        pending = [
            p
            for p in doc.get("pending") or []
            if isinstance(p, dict)
            and isinstance(p.get("id"), str)
            and isinstance(p.get("v"), int)
            and 0 <= p["v"] <= TOP_VARIATION
        ]
        next_variation = doc.get("next")
        if not isinstance(next_variation, int) or next_variation > TOP_VARIATION:
            next_variation = TOP_VARIATION
        return {"next": next_variation, "pending": pending}

    def _save(self, style: str, state: Mapping[str, Any]) -> None:
        self._kv.set(state_key(style), json.dumps(state, separators=(",", ":")), STATE_TTL)
