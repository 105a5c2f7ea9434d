"""The scenarios: what a month costs at a number of users, line by line, low and high.

- ``seed-pure-fal``, ``seed-pure-replicate``, ``seed-hybrid``: the product research's own
  assumptions, computed as the research computes them (its unit prices, storage at $0.15 / GB
  included), so that its tables can be checked line by line;
- ``measured``: avatarflow as built, from the counts its benchmarks measure
  (:mod:`costmodel.counts`) and the unit prices (:mod:`costmodel.prices`), under the
  stated, overridable :class:`Assumptions`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from costmodel.counts import MeasuredCounts
from costmodel.prices import PriceTable

DEFAULT_USERS: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000)
MILLION = 1_000_000.0
GB = 1_000_000_000.0
DAYS = 30


@dataclass(frozen=True)
class Line:
    item: str
    low: float
    high: float


@dataclass(frozen=True)
class Row:
    """One scenario at one number of users / month."""

    users: int
    ai_generations: float  # images paid to a provider this month
    lines: tuple[Line, ...]

    @property
    def low(self) -> float:
        return sum(line.low for line in self.lines)

    @property
    def high(self) -> float:
        return sum(line.high for line in self.lines)

    def per_1000_users(self) -> tuple[float, float]:
        return self.low / self.users * 1000, self.high / self.users * 1000

    def dominant(self) -> Line:
        """The line with the largest high end."""
        return max(self.lines, key=lambda line: line.high)


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    rows: tuple[Row, ...]


# --- the research's scenarios ----------------------------------------------------------------

# The research's per-month hybrid inputs by users: gallery library (low, high), storage, queue.
SEED_GALLERY: dict[int, tuple[float, float]] = {
    10_000: (0.0, 250.0),
    100_000: (250.0, 250.0),
    1_000_000: (500.0, 500.0),
}
SEED_STORAGE: dict[int, float] = {10_000: 1.0, 100_000: 15.0, 1_000_000: 150.0}
SEED_QUEUE: dict[int, float] = {1_000_000: 50.0}
SEED_AI_SHARE = 0.3
SEED_IMAGES_PER_GB = 1_000  # "1 GB per 1,000 images"


def _seed_storage(users: int, prices: PriceTable) -> float:
    """The research's storage: its figure where it gives one, else its rule (1 GB / 1,000 at $0.15)."""
    if users in SEED_STORAGE:
        return SEED_STORAGE[users]
    return users / SEED_IMAGES_PER_GB * prices.high("research.storage_gb_month")


def seed_pure(users: int, prices: PriceTable, *, provider: str, per_image: float) -> Row:
    """Pure AI: every user generates one image; storage 1 GB per 1,000 images at the research's price."""
    return Row(
        users,
        float(users),
        (
            Line(
                f"AI generations ({provider}, ${per_image:g} / image)", users * per_image, users * per_image
            ),
            Line(
                "storage (1 GB / 1,000 images at $0.15 / GB)",
                users / SEED_IMAGES_PER_GB * prices.low("research.storage_gb_month"),
                users / SEED_IMAGES_PER_GB * prices.high("research.storage_gb_month"),
            ),
        ),
    )


def seed_hybrid(users: int, prices: PriceTable) -> Row:
    """The research's hybrid: 30 % generate one image at $0.003-$0.008, 70 % pick from the gallery."""
    ai = users * SEED_AI_SHARE
    # Between the research's user counts, its figure for the nearest count below (the lowest below it).
    tier = max((n for n in SEED_GALLERY if n <= users), default=min(SEED_GALLERY))
    gallery = SEED_GALLERY[tier]
    storage = _seed_storage(users, prices)
    queue = max((cost for n, cost in SEED_QUEUE.items() if n <= users), default=0.0)
    return Row(
        users,
        ai,
        (
            Line("AI generations (30 % of users x $0.003-$0.008)", ai * 0.003, ai * 0.008),
            Line("gallery library (Pexels free or Generated Photos)", *gallery),
            Line("storage (the research's figure)", storage, storage),
            Line("queue infrastructure", queue, queue),
            Line("CDN egress (R2)", 0.0, 0.0),
        ),
    )


# --- avatarflow as built -----------------------------------------------------------------------


@dataclass(frozen=True)
class Assumptions:
    """What the measured scenario assumes of a month's traffic; every one overridable."""

    ai_share: float = 0.3  # users who ask for an AI avatar (the research's 30 %)
    generations_per_ai_user: float = 1.0  # AI requests per such user and month
    premium_share: float = 0.1  # of AI requests, from premium users (1024 px: 4 WebP sizes)
    premium_standard_share: float = 0.5  # of premium requests, quality `standard` (FLUX dev)
    dedup_saving: float | None = None  # None: the spike benchmark's measured share
    gallery_requests_per_user: float = 3.0  # GET /v1/gallery pages per user
    status_polls_per_generation: float = 2.0  # GET /v1/generations/{id} per AI request
    websocket_share: float = 0.5  # AI requests watched over the WebSocket API
    websocket_messages: float = 6.0  # subscribe + queued, starting, generating, storing, succeeded
    image_views_per_generation: float = 5.0  # reads of a made image's files
    gallery_images_per_page: float = 24.0
    cdn_hit_ratio: tuple[float, float] = (0.95, 0.80)  # (low cost, high cost): reads R2 never sees
    upstash_rtt_ms: tuple[float, float] = (2.0, 20.0)  # per REST call: same region .. across regions
    cold_start_share: tuple[float, float] = (0.01, 0.05)  # API invocations that start a container
    provider_wait_s: dict[str, float] = field(default_factory=lambda: {"fast": 4.0, "standard": 12.0})
    store_calls_per_job_extra: float = 1.0  # the router's breaker read (the bench's provider skips it)
    sqs_requests_per_job: float = 3.0  # send, receive, delete
    sqs_idle_requests: float = 1_500_000.0  # Lambda's long polls of 3 lanes (docs/deploy.md)
    scheduled_invocations: float = 21_600 + 720 + 30  # reaper / 2 min, budget check / h, refresh / day
    scheduled_store_calls: float = 21_600 * 3  # the reaper's few calls per run
    warm_containers: tuple[float, float] = (2.0, 10.0)  # each revalidates the gallery once a minute
    log_bytes_per_invocation: float = 1_000.0  # Lambda's START/END/REPORT + our lines
    custom_metrics: float = 30.0  # EMF metric series (dimensions multiply them)
    alarms: float = 8.0  # docs/deploy.md
    lambda_memory_gb: float = 1.0  # .chalice/config.json: 1024 MB (WebSocket handlers 512 MB)
    websocket_lambda_gb: float = 0.5
    websocket_handler_ms: float = 10.0
    gallery_styles: int = 10  # chalicelib/domain/styles.py
    gallery_ai_per_run: float = 4.0  # AVATARFLOW_GALLERY_AI_PER_RUN: new batch jobs per style and run
    gallery_refreshes: float = 30.0  # daily
    gallery_ai_budget_share: float = 0.1  # AVATARFLOW_GALLERY_AI_BUDGET_SHARE of the daily budget
    daily_budget_usd: float = 25.0  # AVATARFLOW_DAILY_BUDGET_USD
    photo_share: float = (
        0.0  # of AI requests, made from the user's photo (never deduplicated; see SENSITIVITY)
    )
    photo_check_s: tuple[float, float] = (0.3, 1.0)  # the checks function's billed seconds per upload
    photo_checks_gb: float = 2.0  # its memory (OpenCV + NudeNet's model)


ASSUMPTION_NOTES: dict[str, str] = {
    "ai_share": "the research's 30 % who generate",
    "generations_per_ai_user": "the research's one image each",
    "premium_share": "assumption; premium requests are 1024 px (4 WebP sizes, 1 MP at fal)",
    "premium_standard_share": "assumption; `standard` runs on FLUX dev at $0.025 / MP",
    "dedup_saving": "None = measured by bench/spike.py (cache hits + joins of in-flight jobs)",
    "gallery_requests_per_user": "assumption; 0 store calls each on a warm container (bench/roundtrips.py)",
    "status_polls_per_generation": "assumption; one store call each (bench/roundtrips.py)",
    "websocket_share": "assumption; web/realtime.js watches, polling is the fallback",
    "websocket_messages": "bench/realtime.py: 5 phases pushed per watcher, + the subscribe",
    "image_views_per_generation": "assumption",
    "gallery_images_per_page": "the gallery's default page size (limit=24)",
    "cdn_hit_ratio": "assumption (low-cost end, high-cost end)",
    "upstash_rtt_ms": "docs/benchmarks.md: 1-2 ms in region, tens of ms across regions",
    "cold_start_share": "assumption; each cold start bills bench/coldstart.py's first request as deployed",
    "provider_wait_s": "services/generation/latency.py's expected seconds: the worker's Lambda waits for the provider",
    "store_calls_per_job_extra": "assumption: the router's breaker read, which the bench's provider skips",
    "sqs_requests_per_job": "send, receive, delete (one 64 KB chunk each)",
    "sqs_idle_requests": "docs/deploy.md: about 0.5M long polls per lane queue and month",
    "scheduled_invocations": "the reaper every 2 minutes, the budget check hourly, the refresh daily",
    "scheduled_store_calls": "assumption: 3 store calls per reaper run",
    "warm_containers": "assumption (low, high); each reads gallery:version once a minute",
    "log_bytes_per_invocation": "assumption",
    "custom_metrics": "assumption (EMF metrics x dimensions)",
    "alarms": "docs/deploy.md: 8 alarm metrics per stage",
    "lambda_memory_gb": ".chalice/config.json: lambda_memory_size 1024",
    "websocket_lambda_gb": ".chalice/config.json: 512 MB for the WebSocket handlers",
    "websocket_handler_ms": "assumption",
    "gallery_styles": "chalicelib/domain/styles.py",
    "gallery_ai_per_run": "AVATARFLOW_GALLERY_AI_PER_RUN (default 4)",
    "gallery_refreshes": "the gallery refresh schedule (daily)",
    "gallery_ai_budget_share": "AVATARFLOW_GALLERY_AI_BUDGET_SHARE (default 0.1)",
    "daily_budget_usd": "AVATARFLOW_DAILY_BUDGET_USD (default 25)",
    "photo_share": "assumption; a photo generation is never served from the cache nor joins one in flight",
    "photo_check_s": "bench/photos.py: ~0.15 s CPU on a 12 MP JPEG; low 0.3 s, high 1 s billed with I/O",
    "photo_checks_gb": "infra/cloudformation/resources.yml: the PhotoChecks function's MemorySize 2048",
}


def _gb_s(ms: float, gb: float) -> float:
    return max(1.0, ms) / 1000.0 * gb  # Lambda bills whole milliseconds, at least one


def measured(users: int, prices: PriceTable, counts: MeasuredCounts, a: Assumptions) -> Row:
    """avatarflow as built: every line from a measured count times a unit price, low and high."""
    saving = counts.dedup_saving if a.dedup_saving is None else a.dedup_saving
    requested = users * a.ai_share * a.generations_per_ai_user
    photo = requested * a.photo_share  # each one paid: no cache, no joining, no similar result
    text_paid = (requested - photo) * (1.0 - saving)
    paid = text_paid + photo
    premium = text_paid * a.premium_share
    standard = premium * a.premium_standard_share
    fast = text_paid - standard
    fast_price = (prices.low("fal.flux_schnell"), prices.high("fal.flux_schnell"))
    dev_price = (prices.low("fal.flux_dev"), prices.high("fal.flux_dev"))

    def pair(fn: Callable[[int], float]) -> tuple[float, float]:
        return fn(0), fn(1)  # 0: low end, 1: high end

    # API requests through API Gateway REST, each one Lambda invocation of the api handler.
    gallery_requests = users * a.gallery_requests_per_user
    polls = requested * a.status_polls_per_generation
    api_requests = gallery_requests + requested * 2 + polls  # + POST /v1/generations, GET /v1/me/quota
    ws_watches = requested * a.websocket_share
    invocations = api_requests + paid + ws_watches * 2 + a.scheduled_invocations

    def api_gb_s(end: int) -> float:
        rtt, cold = a.upstash_rtt_ms[end], a.cold_start_share[end]
        per = (
            gallery_requests * _gb_s(counts.gallery_ms + counts.gallery_calls * rtt, a.lambda_memory_gb)
            + requested * _gb_s(counts.admit_ms + counts.admit_calls * rtt, a.lambda_memory_gb)
            + requested * _gb_s(counts.quota_ms + counts.quota_calls * rtt, a.lambda_memory_gb)
            + polls * _gb_s(counts.status_ms + counts.status_calls * rtt, a.lambda_memory_gb)
        )
        colds = api_requests * cold * _gb_s(counts.cold_start_ms, a.lambda_memory_gb)
        calls = counts.worker_calls + a.store_calls_per_job_extra
        worker = fast * _gb_s(
            counts.worker_ms + calls * rtt + a.provider_wait_s["fast"] * 1000, a.lambda_memory_gb
        ) + standard * _gb_s(
            counts.worker_ms + calls * rtt + a.provider_wait_s["standard"] * 1000, a.lambda_memory_gb
        )
        ws = ws_watches * 2 * _gb_s(a.websocket_handler_ms, a.websocket_lambda_gb)
        # A photo job waits on its vendor like a `fast` one (the photo models take a few seconds).
        photo_jobs = photo * _gb_s(
            counts.worker_ms + calls * rtt + a.provider_wait_s["fast"] * 1000, a.lambda_memory_gb
        )
        return per + colds + worker + ws + photo_jobs

    def store_calls(end: int) -> float:
        return (
            gallery_requests * counts.gallery_calls
            + requested * (counts.admit_calls + counts.quota_calls)
            + polls * counts.status_calls
            + paid * (counts.worker_calls + a.store_calls_per_job_extra)
            + ws_watches * 2  # the watch at connect, ws_forget at disconnect
            + a.warm_containers[end] * DAYS * 24 * 60  # gallery:version, once a minute per container
            + a.scheduled_store_calls
        )

    gallery_jobs = a.gallery_ai_per_run * a.gallery_styles * a.gallery_refreshes
    batch_ai = (gallery_jobs * fast_price[0], a.gallery_ai_budget_share * a.daily_budget_usd * DAYS)
    images = paid + gallery_jobs
    # One PUT per WebP size; a photo adds its upload and its clean copy.
    writes = (paid - premium) * 3 + premium * 4 + gallery_jobs * 3 + photo * 2

    def reads(end: int) -> float:
        miss = 1.0 - a.cdn_hit_ratio[end]
        views = requested * a.image_views_per_generation + gallery_requests * a.gallery_images_per_page
        return views * miss + api_requests * a.cold_start_share[end] * counts.gallery_cold_gets

    def price(key: str, end: int) -> float:
        return prices.low(key) if end == 0 else prices.high(key)

    lines = (
        Line(
            "AI generations (fal schnell; premium standard on FLUX dev)",
            fast * fast_price[0] + standard * dev_price[0],
            fast * fast_price[1] + standard * dev_price[1],
        ),
        Line(
            "AI photo generations (fal FLUX PuLID; high: FLUX.1 Kontext [pro])",
            photo * prices.low("photo.generation"),
            photo * prices.high("photo.generation"),
        ),
        Line(
            "photo checks function (faces + moderation, one upload per photo generation)",
            *pair(
                lambda e: photo * a.photo_check_s[e] * a.photo_checks_gb * price("photo.checks_gb_second", e)
            ),
        ),
        Line("gallery: Pexels API", prices.low("pexels.plan"), prices.high("pexels.plan")),
        Line("gallery: batch AI avatars (low: the jobs it makes; high: its budget share)", *batch_ai),
        Line("Lambda requests", *pair(lambda e: invocations / MILLION * price("lambda.request", e))),
        Line("Lambda compute (GB-s, x86_64)", *pair(lambda e: api_gb_s(e) * price("lambda.gb_second", e))),
        Line("API Gateway REST", *pair(lambda e: api_requests / MILLION * price("apigw.rest_request", e))),
        Line(
            "API Gateway WebSocket",
            *pair(
                lambda e: (
                    ws_watches * a.websocket_messages / MILLION * price("apigw.ws_message", e)
                    + ws_watches / MILLION * price("apigw.ws_connection_minute", e)
                )
            ),
        ),
        Line("Upstash commands", *pair(lambda e: store_calls(e) / 100_000 * price("upstash.command", e))),
        Line(
            "SQS requests",
            *pair(
                lambda e: (
                    (paid * a.sqs_requests_per_job + a.sqs_idle_requests) / MILLION * price("sqs.request", e)
                )
            ),
        ),
        Line(
            "R2 storage (a month of images; unchosen deleted after 30 days)",
            *pair(lambda e: images * counts.image_bytes / GB * price("r2.storage_gb_month", e)),
        ),
        Line("R2 class A (writes)", *pair(lambda e: writes / MILLION * price("r2.class_a", e))),
        Line("R2 class B (reads past the CDN)", *pair(lambda e: reads(e) / MILLION * price("r2.class_b", e))),
        Line(
            "CloudWatch logs",
            *pair(lambda e: invocations * a.log_bytes_per_invocation / GB * price("cloudwatch.logs_gb", e)),
        ),
        Line(
            "CloudWatch metrics + alarms",
            *pair(
                lambda e: (
                    a.custom_metrics * price("cloudwatch.metric_month", e)
                    + a.alarms * price("cloudwatch.alarm_month", e)
                )
            ),
        ),
    )
    return Row(users, paid + gallery_jobs, lines)


# --- the catalogue -----------------------------------------------------------------------------

SCENARIOS: tuple[str, ...] = ("seed-pure-fal", "seed-pure-replicate", "seed-hybrid", "measured")
TITLES = {
    "seed-pure-fal": "Research: pure AI on fal ($0.003 / image)",
    "seed-pure-replicate": "Research: pure AI on Replicate ($0.008 / image)",
    "seed-hybrid": "Research: hybrid (70 % gallery, 30 % AI)",
    "measured": "avatarflow as built (measured counts)",
}


def build(
    name: str,
    users: Sequence[int],
    prices: PriceTable,
    counts: MeasuredCounts,
    assumptions: Assumptions | None = None,
) -> Scenario:
    """Scenario ``name`` priced at each number of users."""
    a = assumptions or Assumptions()
    make: Callable[[int], Row]
    if name == "seed-pure-fal":
        make = lambda n: seed_pure(n, prices, provider="fal", per_image=0.003)  # noqa: E731
    elif name == "seed-pure-replicate":
        make = lambda n: seed_pure(n, prices, provider="Replicate", per_image=0.008)  # noqa: E731
    elif name == "seed-hybrid":
        make = lambda n: seed_hybrid(n, prices)  # noqa: E731
    elif name == "measured":
        make = lambda n: measured(n, prices, counts, a)  # noqa: E731
    else:
        raise ValueError(f"unknown scenario {name!r}: choose from {', '.join(SCENARIOS)}")
    return Scenario(name, TITLES[name], tuple(make(n) for n in users))
