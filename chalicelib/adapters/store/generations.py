"""Generations on Redis: a hash per generation, moved by the Lua scripts (one round trip each).

The hash's fields are :meth:`Generation.to_fields`; replies are read back with
:meth:`Generation.from_fields`. Nothing else here knows what a field means.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence

from chalicelib.adapters.store.client import Arg
from chalicelib.adapters.store.keyspace import Keyspace
from chalicelib.adapters.store.replies import epoch_ms, hash_reply, optional_int, pairs, text
from chalicelib.adapters.store.scripts import script
from chalicelib.adapters.store.watches import watchers_of
from chalicelib.domain.generation import Failure, Generation, Success
from chalicelib.domain.provider_job import ProviderJob, SubmitIntent
from chalicelib.domain.similarity import (
    ACCEPT_THRESHOLD,
    INDEX_SIZE,
    MAX_SIMILAR,
    OFFER_THRESHOLD,
    SimilarResult,
    owner_tag,
    prompt_tokens,
)
from chalicelib.ports import (
    AdmitRequest,
    AdmitResult,
    Erased,
    Finish,
    Finished,
    FollowersEnded,
    StoreError,
)

# How long a generation's record lives: the retention of unchosen generations (configurable,
# AVATARFLOW_RETENTION_DAYS), the same as the R2 lifecycle rule of their images in infra/. The
# holders of an image (ports/holders.py) are kept as long, renewed with each holder added.
RECORD_TTL_SECONDS = 30 * 24 * 3600
WAKE_TTL_SECONDS = 120  # a waiter arriving late (up to the longest wait) still finds its token
# Followers ended per script call: at most a few ms of Redis time each, whatever the crowd
# (bench/followers.py measures it at 10,000 followers).
FOLLOWER_CHUNK = 200
FOLLOWERS_REAPER_DELAY_MS = 60_000
# The admit script acts only this long after it was sent, by the store's clock: past it the caller
# has given up (the embedded client's socket timeout is 2 s, the Upstash client's budget 2.8 s) and
# answered 503, so a late run changes nothing. The rest of the budget covers the reply's way back
# and the skew between the two clocks (NTP-synchronised: milliseconds).
ADMIT_ACT_WITHIN_MS = 1500
TOKEN_FIELDS = 6  # status, completed_at, images, provider, error code, error message (finish.lua)


def _generation(fields: dict[str, str]) -> Generation | None:
    return Generation.from_fields(fields) if fields.get("id") else None


def _similar(reply: str) -> tuple[SimilarResult, ...]:
    """The admit script's similar results: '' or entries split by \\30, fields by \\31 (the
    prompt only where the entry is the caller's own: ``own`` is 1)."""
    found = []
    for entry in filter(None, reply.split("\x1e")):
        request_hash, score, own, prompt, images = entry.split("\x1f", 4)
        parsed = json.loads(images)
        if isinstance(parsed, dict) and parsed:
            keys = {str(size): str(key) for size, key in parsed.items()}
            found.append(SimilarResult(request_hash, prompt if own == "1" else None, keys, float(score)))
    return tuple(found)


class RedisGenerations:
    """:class:`chalicelib.ports.GenerationStore` on Redis."""

    def __init__(
        self, keys: Keyspace, record_ttl_s: int = RECORD_TTL_SECONDS, act_within_ms: int = ADMIT_ACT_WITHIN_MS
    ) -> None:
        self._keys = keys
        self._record_ttl = record_ttl_s
        self._act_within_ms = act_within_ms

    # -- the hot path --------------------------------------------------------------------------
    def admit(self, request: AdmitRequest) -> AdmitResult:
        keys, new = self._keys, request.generation
        owner = new.owner
        cache_key, inflight_key, followers_key = keys.request_keys(new.request_hash)
        if request.idempotency_key is not None:
            # Hashed: the client's key may be long or odd, and is not ours to keep in clear.
            digest = hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:40]
            idem_key = keys.key(f"idem:{owner}:{digest}")
        else:
            idem_key = keys.key("idem:none")
        record = new.to_fields()
        script_keys = [
            keys.key(request.rate_key),
            idem_key,
            cache_key,
            inflight_key,
            keys.generation(new.id),
            keys.key(f"hist:{owner}"),
            keys.key("jobs:open"),
            followers_key,
            keys.key(request.spend_keys[0]),
            keys.key(request.spend_keys[1]),
            *(keys.key(w.key) for w in request.windows),
            *keys.similar_index(new.style, new.cache_quality),
            keys.key("jobs:callback"),  # a cache hit with a callback_url is called back too
            keys.key(request.refusals_key),
        ]
        args: list[Arg] = [
            request.now_ms,
            new.id,
            new.request_hash,
            request.rate_limit,
            request.rate_reset_at,
            "1" if request.idempotency_key is not None else "0",
            request.idempotency_ttl,
            request.deadline_ms,
            keys.generation_prefix,
            self._record_ttl,
            len(request.windows),
            len(record),
            repr(float(request.spend_limits[0])),
            repr(float(request.spend_limits[1])),
            " ".join(f"{keys.key(prefix)} {ttl}" for prefix, ttl in request.stats_prefixes),
            request.claim_lease_ms or 0,
            keys.holders_prefix,
            " ".join(prompt_tokens(new.prompt)),
            2 if request.accept_similar else 1 if request.offer_similar else 0,
            repr(OFFER_THRESHOLD),
            repr(ACCEPT_THRESHOLD),
            MAX_SIMILAR,
            INDEX_SIZE,
            keys.cache_prefix,
            new.size,
        ]
        for window in request.windows:
            args += [window.limit, window.reset_at]
        for name, value in record.items():
            args += [name, value]
        args.append(request.body_hash or new.request_hash)  # what the idempotency entry binds the key to
        act_by = request.act_by_ms
        if act_by is None:  # the wall clock, not the use case's: the store compares it with its own
            act_by = int(time.time() * 1000) + self._act_within_ms
        args.append(act_by)
        args.append(owner_tag(owner))  # a similar result's prompt is shown to its own maker only
        args += [request.refusals_limit, request.refusals_reset_at]
        reply = keys.client.run_script(script("admit"), script_keys, args)
        try:
            return AdmitResult(
                outcome=text(reply[0]),  # type: ignore[arg-type]
                generation=_generation(pairs(reply[6:])) if len(reply) > 6 else None,
                limit=optional_int(reply[1]),
                remaining=optional_int(reply[2]),
                reset_at=optional_int(reply[3]),
                retry_after=optional_int(reply[4]),
                similar=_similar(text(reply[5])),
            )
        except (IndexError, TypeError, ValueError, KeyError) as exc:
            raise StoreError("state store returned an unexpected admit reply") from exc

    def claim(self, generation_id: str, now_ms: int, lease_ms: int, force: bool = False) -> Generation | None:
        reply = self._keys.client.run_script(
            script("claim"), [self._keys.generation(generation_id)], [now_ms, lease_ms, "1" if force else "0"]
        )
        return _generation(pairs(reply))

    def finish(self, finish: Finish) -> Finished:
        ended = finish.generation
        if ended.is_open:
            raise ValueError("finish needs the generation as it ended (Generation.ended)")
        request_hash = ended.request_hash
        if not request_hash:  # names the cache and in-flight keys: read it from the record
            stored = self.get(ended.id)
            request_hash = stored.request_hash if stored is not None else ""
        cache_key, inflight_key, followers_key = self._keys.request_keys(request_hash)
        keys = [
            self._keys.generation(ended.id),
            cache_key,
            inflight_key,
            followers_key,
            self._keys.key("jobs:open"),
            self._keys.key("jobs:callback"),
            self._keys.key("jobs:poll"),
            self._keys.pending_followers(ended.id),
            self._keys.timer("followers"),
            self._keys.watchers_prefix + ended.id,
            self._keys.watchers_prefix + (ended.batch or ended.id),
            *self._keys.similar_index(ended.style, ended.cache_quality),
        ]
        succeeded = ended.status == "succeeded"
        args: list[Arg] = [
            ended.id,
            ended.status,
            ended.completed_at or "",
            json.dumps(dict(ended.images or {}), separators=(",", ":")),
            ended.provider or "",
            ended.error.code if ended.error else "",
            ended.error.message if ended.error else "",
            finish.cache_ttl,
            self._keys.generation_prefix,
        ]
        for counters in (finish.counters, finish.spend):  # stats: once per job; spend: every call
            args.append(len(counters))
            for counter in counters:
                args += [self._keys.key(counter.key), repr(float(counter.amount)), counter.ttl]
        extra = _success_fields(ended) if succeeded else {}
        args.append(len(extra))
        for name, value in extra.items():
            args += [name, value]
        completed_ms = epoch_ms(ended.completed_at or "")
        # Followers left for later are the reaper's a minute on, if their finisher has not ended them.
        reaper_at = completed_ms + FOLLOWERS_REAPER_DELAY_MS
        args += [completed_ms, self._keys.wake_prefix, WAKE_TTL_SECONDS, FOLLOWER_CHUNK, reaper_at]
        args += [self._keys.holders_prefix, self._record_ttl]
        # The similar-results index: the prompt goes in the cache hash, its words in the index.
        indexed = succeeded and bool(request_hash) and bool(ended.style)
        args += [
            request_hash if indexed else "",
            ended.prompt,
            " ".join(prompt_tokens(ended.prompt)),
            ended.size,
            INDEX_SIZE,
            completed_ms,
            owner_tag(ended.owner),  # whose words the prompt is (admit.lua shows it to them only)
        ]
        reply = self._keys.client.run_script(script("finish"), keys, args)
        try:
            code, followers, pending = (int(v) for v in reply[:3])
            batches = tuple(text(reply[3]).split()) if len(reply) > 3 else ()
            watchers = tuple(watchers_of(reply[4:]))
        except (TypeError, ValueError) as exc:
            raise StoreError("state store returned an unexpected finish reply") from exc
        if code == 2:  # erased while it ran: it ended into nothing
            return Finished(ended=False, followers=followers, pending=pending, erased=True, batches=batches)
        return Finished(
            ended=code > 0, followers=followers, pending=pending, watchers=watchers, batches=batches
        )

    def finish_followers(self, generation_id: str) -> FollowersEnded:
        keys = self._keys
        reply = keys.client.run_script(
            script("finish_followers"),
            [
                keys.generation(generation_id),
                keys.pending_followers(generation_id),
                keys.timer("followers"),
                keys.key("jobs:callback"),
            ],
            [
                generation_id,
                keys.generation_prefix,
                keys.wake_prefix,
                WAKE_TTL_SECONDS,
                FOLLOWER_CHUNK,
                0,
                keys.holders_prefix,
                self._record_ttl,
            ],
        )
        try:
            ended, left = (int(v) for v in reply[:2])
            batches = tuple(text(reply[2]).split()) if len(reply) > 2 else ()
        except (TypeError, ValueError) as exc:
            raise StoreError("state store returned an unexpected finish_followers reply") from exc
        return FollowersEnded(ended, left, batches)

    def wait_ended(self, generation: Generation, timeout_s: float) -> Generation | None:
        if not generation.is_open:
            return generation
        # BLPOP blocks for whole or fractional seconds (Redis >= 6); 0 would block forever.
        block = max(0.01, round(timeout_s, 2))
        # A follower's outcome comes with its leader's: one token per waiter on the leader's list.
        job_id = generation.leader or generation.id
        reply = self._keys.client.command(
            "BLPOP", self._keys.wake_prefix + job_id, block, timeout=math.ceil(block) + 1
        )
        if not reply:
            return None
        return _ended_by(generation, text(reply[1]))

    def release(self, generation_id: str) -> bool:
        reply = self._keys.client.run_script(
            script("release"),
            [self._keys.generation(generation_id), self._keys.timer("poll")],
            [generation_id],
        )
        return int(reply) == 1

    def intend_submit(self, generation_id: str, intent: SubmitIntent) -> bool:
        reply = self._keys.client.run_script(
            script("submit_intent"), [self._keys.generation(generation_id)], [intent.to_json()]
        )
        return int(reply) == 1

    def hand_to_provider(
        self, generation_id: str, job: ProviderJob, lease_until_ms: int, poll_at_ms: int
    ) -> bool:
        reply = self._keys.client.run_script(
            script("provider_job"),
            [self._keys.generation(generation_id), self._keys.timer("poll")],
            [job.to_json(), int(lease_until_ms), int(poll_at_ms), generation_id],
        )
        return int(reply) == 1

    # -- reads ---------------------------------------------------------------------------------
    def get(self, generation_id: str) -> Generation | None:
        return _generation(
            hash_reply(self._keys.client.command("HGETALL", self._keys.generation(generation_id)))
        )

    def history(
        self, identity_key: str, limit: int, cursor: tuple[int, str] | None
    ) -> tuple[list[Generation], tuple[int, str] | None]:
        max_score = str(cursor[0]) if cursor else "+inf"
        cursor_id = cursor[1] if cursor else ""
        reply = self._keys.client.run_script(
            script("history"),
            [self._keys.key(f"hist:{identity_key}")],
            [max_score, cursor_id, limit, self._keys.generation_prefix],
        )
        next_score, next_id, count = text(reply[0]), text(reply[1]), int(reply[2])
        found: list[Generation] = []
        pos = 3
        for _ in range(count):
            width = int(reply[pos])
            generation = _generation(pairs(reply[pos + 1 : pos + 1 + width]))
            if generation is not None:
                found.append(generation)
            pos += 1 + width
        next_cursor = (int(float(next_score)), next_id) if next_id else None
        return found, next_cursor

    def statuses(self, generation_ids: Sequence[str]) -> list[str | None]:
        if not generation_ids:
            return []
        reply = self._keys.client.run_script(
            script("statuses"), [self._keys.generation(g) for g in generation_ids], []
        )
        return [text(v) or None for v in reply]

    def open_ids(self, limit: int = 1000) -> list[str]:
        return [
            text(v) for v in self._keys.client.command("ZRANGE", self._keys.key("jobs:open"), 0, limit - 1)
        ]

    # -- erasure -------------------------------------------------------------------------------
    def erase(self, identity_key: str, limit: int) -> Erased:
        keys = self._keys
        reply = keys.client.run_script(
            script("erase"),
            [keys.key(f"hist:{identity_key}"), keys.timer("callback")],
            [
                identity_key,
                max(1, limit),
                keys.generation_prefix,
                keys.holders_prefix,
                keys.key("followers:"),
                *keys.similar_index_prefixes,
            ],
        )
        try:
            erased, left, n_hashes = int(reply[0]), int(reply[1]), int(reply[2])
            hashes = tuple(text(v) for v in reply[3 : 3 + n_hashes])
            n_batches = int(reply[3 + n_hashes])
            start = 4 + n_hashes
            batches = tuple(text(v) for v in reply[start : start + n_batches])
            orphans = tuple(text(v) for v in reply[start + n_batches :])
        except (IndexError, TypeError, ValueError) as exc:
            raise StoreError("state store returned an unexpected erase reply") from exc
        return Erased(erased, left, hashes, batches, orphans)

    def forget_results(self, request_hashes: Sequence[str]) -> None:
        if request_hashes:
            self._keys.client.command("DEL", *(self._keys.request_keys(h)[0] for h in request_hashes))


def _ended_by(generation: Generation, token: str) -> Generation:
    """The generation as the job it waited for ended (the token finish.lua pushed)."""
    parts = token.split("\x1f")
    if len(parts) != TOKEN_FIELDS:
        raise StoreError("state store returned an unexpected wake-up token")
    status, completed_at, images, provider, code, message = parts
    outcome: Success | Failure
    if status == "succeeded":
        outcome = Success(images=json.loads(images or "{}"), provider=provider)
    else:
        outcome = Failure(code or "internal", message or "The generation failed.")
    return generation.ended(outcome, completed_at)


def _success_fields(ended: Generation) -> dict[str, str]:
    """What a success adds to the record beyond the result: the model, its latency and cost."""
    fields = ended.to_fields()
    return {name: fields[name] for name in ("model", "provider_latency_ms", "cost_usd") if name in fields}
