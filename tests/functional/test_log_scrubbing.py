"""No secret ever reaches a log line: tokens, API keys, webhook secrets, the pepper, the admin token.

Every log record of a full set of requests is captured at DEBUG: the avatarflow JSON logs (the
``avatarflow`` and ``chalicelib`` loggers, formatted as in production, plus every attribute of
each record), every other logger through the root (caplog), and whatever reached stderr/stdout.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest

from chalicelib.observability.logs import JsonFormatter
from chalicelib.ports import ProviderDown
from chalicelib.services.access.api_keys import hash_key
from tests.conftest import JWT_SECRET, token
from tests.fakes import RecordingProvider, path_of, settle
from tests.ops_support import ADMIN_TOKEN, JSON, admin_headers, issue_key, key_headers, operated_app

ALERT_SECRET = "whsec_" + base64.b64encode(b"budget-alert-secret-0123456789ab").decode()
PEPPER = "pepper-5f1e9a7c3b2d4e6f8a0c1e3b5d7f9a1c"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.lines.append(repr(vars(record)))  # every attribute, not only the formatted ones


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """Everything logged from now on, as one text."""
    handler = _Collect()
    loggers = [logging.getLogger(name) for name in ("avatarflow", "chalicelib")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)

    def text() -> str:
        captured = capfd.readouterr()
        records = [repr(vars(r)) for r in caplog.records]
        return "\n".join([*handler.lines, caplog.text, *records, captured.err, captured.out])

    try:
        yield text
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


class _FailingHook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(500)  # a failing receiver: the delivery error paths log too
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def scrub_app(
    tmp_path: Path, store: Any, objects: Any, provider: RecordingProvider
) -> Iterator[tuple[Any, Any, RecordingProvider]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FailingHook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = {
        "api_key_pepper": PEPPER,
        "budget_alert_url": f"http://127.0.0.1:{server.server_address[1]}/alerts",
        "budget_alert_secret": ALERT_SECRET,
        "daily_budget_usd": 0.02,  # the two costly jobs cross 50 % only: one (failing) delivery
    }
    try:
        with operated_app(tmp_path, store, objects, provider, **settings) as (client, container):
            yield client, container, provider
    finally:
        server.shutdown()
        server.server_close()


def test_no_secret_in_any_log_line(
    scrub_app: tuple[Any, Any, RecordingProvider], logs: Callable[[], str]
) -> None:
    client, container, provider = scrub_app
    user_jwt = token("log-user", "premium")
    user = {"Authorization": f"Bearer {user_jwt}", **JSON}

    def post(headers: dict[str, str], **body: Any) -> Any:
        return client.http.post(
            "/v1/generations", headers=headers, body=json.dumps({"style": "anime", **body})
        )

    def stats(authorization: str) -> int:
        return int(client.http.get("/v1/admin/stats", headers={"Authorization": authorization}).status_code)

    provider.cost_usd = 0.006
    assert post(user, variation=1).status_code == 200  # a generation with a user JWT (and a cost)
    issued = issue_key(client, "logged", limits={"hour": 1})  # a key creation
    key = key_headers(issued["key"])
    assert post(key, variation=2).status_code == 200  # an API key
    assert post(key, variation=3).status_code == 429  # its cap
    provider.error = ProviderDown(f"down (the caller was {issued['key'][:12]}...)")
    assert post(user, variation=4).status_code == 503  # a failed job
    provider.error = None
    assert client.http.get("/v1/admin/api-keys", headers=admin_headers()).status_code == 200
    assert stats(f"Bearer {ADMIN_TOKEN}") == 200
    # refusals: a tampered or expired JWT, a wrong admin token, a user at the admin door, bad keys
    assert post({**user, "Authorization": f"Bearer {user_jwt[:-2]}xx"}).status_code == 401
    expired = jwt.encode({"sub": "x", "exp": int(time.time()) - 10}, JWT_SECRET, algorithm="HS256")
    assert post({**JSON, "Authorization": f"Bearer {expired}"}).status_code == 401
    assert stats(f"Bearer {ADMIN_TOKEN}x") == 403
    assert stats(f"Bearer {user_jwt}") == 403
    assert post(key_headers(issued["key"] + "0")).status_code == 401
    assert (
        client.http.delete(f"/v1/admin/api-keys/{issued['id']}", headers=admin_headers()).status_code == 204
    )
    assert post(key, variation=5).status_code == 401
    assert container.operations.budget_alerts is not None and container.operations.budget_alerts.wait_idle(15)

    text = logs()
    # the paths that log did run: the access log (refusals included), the alerts and their failure
    assert '"status": 401' in text and '"message": "request"' in text
    assert "budget alert not delivered" in text and "50% of the daily budget reached" in text
    secrets = {
        "the JWT secret": JWT_SECRET,
        "a user's JWT": user_jwt,
        "a user's JWT signature": user_jwt.rsplit(".", 1)[1],
        "an expired JWT": expired,
        "the admin token": ADMIN_TOKEN,
        "an API key": issued["key"],
        "an API key's random part": issued["key"][len("afk_live_") :],
        "a webhook secret": issued["webhook_secret"][len("whsec_") :],
        "the pepper": PEPPER,
        "an API key's hash": hash_key(PEPPER.encode(), issued["key"]),
        "the budget alert secret": ALERT_SECRET[len("whsec_") :],
    }
    leaked = [name for name, secret in secrets.items() if secret in text]
    assert leaked == [], leaked


class _ContextProvider(RecordingProvider):
    """The renderer, logging one line from inside the job (as a real adapter does)."""

    def generate(self, request: Any, *, within_s: float | None = None) -> Any:
        logging.getLogger("avatarflow.providers").info("rendering")
        return super().generate(request)


def test_request_and_job_lines_carry_their_context(tmp_path: Path, store: Any, objects: Any) -> None:
    handler = _Collect()
    loggers = [logging.getLogger(name) for name in ("avatarflow", "chalicelib")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    user_jwt = token("ctx-user", "premium")
    user = {"Authorization": f"Bearer {user_jwt}", **JSON}
    try:
        with operated_app(tmp_path, store, objects, _ContextProvider()) as (client, container):

            def post(headers: dict[str, str], **body: Any) -> Any:
                return client.http.post(
                    "/v1/generations", headers=headers, body=json.dumps({"style": "anime", **body})
                )

            sync = post(user, variation=1)
            assert sync.status_code == 200
            queued = post({**user, "Prefer": "respond-async"}, variation=2)
            assert queued.status_code == 202
            settle(container)  # its lane has run it
            polled = client.http.get(path_of(queued.headers["Location"]), headers=user).json_body
            assert polled["status"] == "succeeded"
            assert post(JSON, variation=3).status_code == 200  # anonymous
            assert client.http.get("/v1/styles").status_code == 200  # no caller at all
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)

    lines = [json.loads(line) for line in handler.lines[::2]]  # the JSON lines, not the reprs
    access = [line for line in lines if line["message"] == "request"]
    assert access and all(line["request_id"] for line in access)
    assert len({line["request_id"] for line in access}) == len(access)
    by_path = [(line["path"], line.get("identity_kind")) for line in access]
    assert by_path[:2] == [("/v1/generations", "user")] * 2
    assert ("/v1/generations/{generation_id}", "user") in by_path
    assert by_path[-2:] == [("/v1/generations", "anonymous"), ("/v1/styles", None)]  # nothing leaks

    rendering = [line for line in lines if line["message"] == "rendering"]
    assert [line["job_id"] for line in rendering[:2]] == [sync.json_body["id"], queued.json_body["id"]]
    # the sync job ran for its request: its lines carry the request's ids too
    assert rendering[0]["request_id"] == access[0]["request_id"]
    assert rendering[0]["identity_kind"] == "user"
    assert user_jwt not in "\n".join(handler.lines)
