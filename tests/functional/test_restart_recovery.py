"""Jobs recorded as queued in the store are picked up again after a restart."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from chalice.test import Client

from app import app
from chalicelib.bootstrap import build_container, set_container, start_local
from tests.conftest import auth, make_settings
from tests.fakes import RecordingProvider, settle


def test_queued_jobs_survive_a_restart(tmp_path: Path, store: Any, objects: Any) -> None:
    # First process: accepts two async jobs, but its workers never run (it "crashes").
    first = build_container(
        make_settings(tmp_path),
        store=store,
        objects=objects,
        provider=RecordingProvider(),
        start_workers=False,
    )
    set_container(first)
    headers = {**auth("restart-user", "premium"), "Prefer": "respond-async"}
    with Client(app, stage_name="local") as client:
        ids = [
            client.http.post(
                "/v1/generations", headers=headers, body=json.dumps({"style": "anime", "variation": v})
            ).json_body["id"]
            for v in (1, 2)
        ]
    # One of them had been claimed by a worker that died mid-job.
    assert store.generations.claim(ids[0], int(time.time() * 1000), 120_000) is not None
    claimed = store.generations.get(ids[0])
    assert claimed is not None and claimed.status == "running"

    # Second process on the same store: recovery queues both again and they finish.
    provider = RecordingProvider()
    second = build_container(make_settings(tmp_path), store=store, objects=objects, provider=provider)
    set_container(second)
    try:
        start_local(second)
        settle(second, 20)
        statuses = store.generations.statuses(ids)
        assert statuses == ["succeeded", "succeeded"]
        assert provider.total_calls == 2
        assert store.generations.open_ids() == []
    finally:
        set_container(None)
