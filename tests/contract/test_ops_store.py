"""The state store's operations methods (API keys, counters, once-only markers), on every adapter.

Runs on the embedded Redis and on the Upstash adapter (through the local REST harness), with the
``store_backend`` fixture of the state store contract.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.adapters.store.scripts import script
from chalicelib.ports import AdmitRequest, ApiKeyRecord, Counter, StoreError
from tests.contract import test_state_store as contract
from tests.contract.test_state_store import Backend, admit, created_id, finish, new_generation, now_ms
from tests.fakes import CountingRedis

store_backend = contract.backend  # the contract's fixture: every test runs on each adapter

HASH_A = "a" * 64
HASH_B = "b" * 64


def record(key_id: str = "key_1", key_hash: str = HASH_A, **overrides: Any) -> ApiKeyRecord:
    values: dict[str, Any] = {
        "id": key_id,
        "name": "Acme, Inc. — é",
        "tier": "enterprise",
        "limits": {"hour": 2, "month": 100},
        "created_at": "2030-01-01T00:00:00Z",
        "prefix": "afk_live_abcd",
        "key_hash": key_hash,
        "webhook_secret": "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAx",
        **overrides,
    }
    return ApiKeyRecord(**values)


def raw_dump(store_backend: Backend) -> str:
    """Every key and value under the backend's prefix, as text (for "never stored" checks)."""
    keys = store_backend.raw.command("KEYS", store_backend.prefix + "*")
    out = []
    for key in keys:
        kind = str(store_backend.raw.command("TYPE", key))
        value: Any
        if kind == "string":
            value = store_backend.raw.command("GET", key)
        elif kind == "hash":
            value = store_backend.raw.command("HGETALL", key)
        elif kind == "zset":
            value = store_backend.raw.command("ZRANGE", key, 0, -1)
        else:
            value = kind
        out.append(f"{key}={value}")
    return "\n".join(out)


def test_a_key_is_stored_found_by_hash_listed_and_revoked(store_backend: Backend) -> None:
    store = store_backend.store
    store.api_keys.put(record())
    store.api_keys.put(record("key_2", HASH_B, name="second", limits={}, created_at="2030-01-02T00:00:00Z"))
    found = store.api_keys.by_hash(HASH_A)
    assert found is not None
    assert (found.id, found.name, found.tier, dict(found.limits)) == (
        "key_1",
        "Acme, Inc. — é",
        "enterprise",
        {"hour": 2, "month": 100},
    )
    assert found.webhook_secret == "" and found.key_hash == ""  # the lookup carries no secret
    assert store.api_keys.by_hash("c" * 64) is None

    listed = store.api_keys.list()
    assert [k.id for k in listed] == ["key_2", "key_1"]  # newest first
    assert all(k.webhook_secret == "" and k.key_hash == "" for k in listed)
    assert listed[1].limits == {"hour": 2, "month": 100} and listed[1].prefix == "afk_live_abcd"

    full = store.api_keys.get("key_1")
    assert full is not None and full.webhook_secret.startswith("whsec_") and full.key_hash == HASH_A
    assert store.api_keys.get("key_404") is None

    assert store.api_keys.revoke("key_1") is True
    assert store.api_keys.by_hash(HASH_A) is None  # at once
    assert store.api_keys.revoke("key_1") is True  # idempotent
    assert store.api_keys.revoke("key_404") is False
    assert [k.revoked for k in store.api_keys.list()] == [False, True]
    revoked = store.api_keys.get("key_1")
    assert revoked is not None and revoked.revoked and revoked.webhook_secret  # still signs callbacks
    assert store.api_keys.by_hash(HASH_B) is not None


def test_an_existing_id_or_hash_is_never_overwritten(store_backend: Backend) -> None:
    store_backend.store.api_keys.put(record())
    with pytest.raises(StoreError):
        store_backend.store.api_keys.put(record("key_other"))  # same hash
    with pytest.raises(StoreError):
        store_backend.store.api_keys.put(record(key_hash=HASH_B))  # same id
    assert HASH_B not in raw_dump(store_backend)


def test_counters_markers_and_deletes(store_backend: Backend) -> None:
    store = store_backend.store
    assert store.counters.values([]) == []
    assert store.counters.values(["c:none", "c:none2"]) == [0.0, 0.0]
    store.kv.set("c:one", "2.5")
    assert store.counters.values(["c:one", "c:none"]) == [2.5, 0.0]
    assert store.kv.set_once("m:1", "x", 60) is True
    assert store.kv.set_once("m:1", "y", 60) is False
    store.kv.delete("m:1")
    assert store.kv.set_once("m:1", "z", 60) is True


def test_admit_counts_each_outcome_in_the_same_call(store_backend: Backend) -> None:
    store = store_backend.store
    prefixes = (("st:day:", 100), ("st:month:", 1000))

    def admit_counted(req_hash: str) -> str:
        at = now_ms()
        result = store.generations.admit(
            AdmitRequest(
                generation=new_generation(f"gen_st_{req_hash}_{at}", "u-st", req_hash),
                windows=(),
                rate_key="rl:u-st",
                rate_limit=100,
                rate_reset_at=at // 1000 + 60,
                now_ms=at,
                deadline_ms=at + 60_000,
                stats_prefixes=prefixes,
            )
        )
        return result.outcome

    assert admit_counted("s1") == "created"
    assert admit_counted("s1") == "joined"
    values = store.counters.values(["st:day:admit:created", "st:day:admit:joined", "st:month:admit:created"])
    assert values == [1.0, 1.0, 1.0]
    ttl = store_backend.raw.command("TTL", store_backend.prefix + "st:day:admit:created")
    assert 0 < int(ttl) <= 100


def test_finish_adds_counters_and_scripts_keep_working_after(store_backend: Backend) -> None:
    # finish.lua once used INCRBYFLOAT, whose argv rewrite corrupted the embedded Redis 6.2's Lua
    # argument cache: a later script with many arguments crashed the server. Counters, then
    # long scripts, must keep working.
    store = store_backend.store
    for n in range(3):
        gid = created_id(admit(store, "u-fin", f"hf{n}"))
        store.generations.claim(gid, now_ms(), 60_000)
        counters = [Counter(f"fin:c{i}", 0.1 * (i + 1), 100) for i in range(8)]
        assert finish(store, gid, f"hf{n}", counters=counters)
    values = store.counters.values([f"fin:c{i}" for i in range(8)])
    assert values == pytest.approx([0.3 * (i + 1) for i in range(8)])
    store.api_keys.put(record())
    assert len(store.api_keys.list()) == 1
    assert store.api_keys.revoke("key_1") is True
    store_backend.raw.run_script(
        script("apikey_list"), [store_backend.prefix + "apikeys"], [1000, store_backend.prefix + "apikey:id:"]
    )
    assert store.ping()


def test_each_operations_method_is_one_round_trip(store_backend: Backend) -> None:
    # Upstash: REST calls as the harness sees them; embedded: calls through a counting client.
    harness = store_backend.harness
    counter = CountingRedis(store_backend.raw)
    store = store_backend.store if harness else RedisStateStore(counter, store_backend.prefix)

    def reset() -> None:
        counter.calls.clear()
        if harness:
            harness.reset_counts()

    def total() -> int:
        return harness.total_calls if harness else len(counter.calls)

    store.api_keys.put(record())  # loads apikey_put
    store.api_keys.list()
    store.api_keys.revoke("key_none")
    steps: dict[str, Callable[[], object]] = {
        "put_api_key": lambda: store.api_keys.put(record("key_2", HASH_B)),
        "get_api_key_by_hash": lambda: store.api_keys.by_hash(HASH_B),
        "get_api_key": lambda: store.api_keys.get("key_2"),
        "list_api_keys": store.api_keys.list,
        "revoke_api_key": lambda: store.api_keys.revoke("key_2"),
        "counter_values": lambda: store.counters.values(["a", "b", "c"]),
        "set_once": lambda: store.kv.set_once("m", "v", 10),
        "delete_key": lambda: store.kv.delete("m"),
    }
    calls: dict[str, int] = {}
    for name, call in steps.items():
        reset()
        call()
        calls[name] = total()
    assert all(n == 1 for n in calls.values()), calls
