"""A process that admits async jobs on the embedded store, reports them, then waits to be killed.

``python -m tests.e2e.admit_child DATA_DIR COUNT``: builds the app the way a local process does
(the store from the settings: the embedded Redis under DATA_DIR), posts COUNT generations with
``Prefer: respond-async`` through the routes (no worker runs them: they stay queued and charged),
prints one JSON line (the ids and the caller's quota) and blocks on stdin until it is killed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from chalice.test import Client

from app import app
from chalicelib.bootstrap import build_container, set_container
from tests.conftest import auth, make_settings
from tests.fakes import RecordingProvider

IDENTITY = ("durable-user", "premium")


def main(data_dir: Path, count: int) -> None:
    container = build_container(make_settings(data_dir), provider=RecordingProvider(), start_workers=False)
    set_container(container)
    headers = {**auth(*IDENTITY), "Prefer": "respond-async"}
    ids = []
    with Client(app, stage_name="local") as client:
        for variation in range(count):
            body = json.dumps({"style": "anime", "variation": variation})
            response = client.http.post("/v1/generations", headers=headers, body=body)
            assert response.status_code == 202, response.json_body
            ids.append(response.json_body["id"])
        quota = client.http.get("/v1/me/quota", headers=auth(*IDENTITY)).json_body
    print(json.dumps({"ids": ids, "quota": quota}), flush=True)
    sys.stdin.read()  # the test kills us (and our redis-server) here


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
