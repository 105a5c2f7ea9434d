"""The object stores besides R2 as the contract suite builds them, from settings as bootstrap does:

- AWS S3 through the default credential chain (the function's role; here moto's fake credentials)
  with no endpoint, under ``mock_aws``;
- Supabase Storage: its S3 endpoint has a path (``/storage/v1/s3``), which moto's in-process mock
  cannot route, so it is moto in server mode on 127.0.0.1 (a free port) behind a WSGI layer that
  serves it under that path, as Supabase does. Each test gets a bucket of its own there.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chalicelib.bootstrap import build_objects
from chalicelib.config import Settings
from chalicelib.ports import ObjectStore

S3_BUCKET = "avatarflow-s3-test"
SUPABASE_PATH = "/storage/v1/s3"
SUPABASE_REGION = "eu-central-1"
SUPABASE_KEY_ID = "supabase-access-key-0123456789"
SUPABASE_SECRET = "supabase-secret-0123456789DO-NOT-LEAK"


def aws_s3_settings(public_base: str) -> Settings:
    return Settings(
        stage="test", data_dir=Path("/nonexistent"), s3_bucket=S3_BUCKET, s3_public_base_url=public_base
    )


def supabase_settings(endpoint: str, bucket: str, public_base: str) -> Settings:
    return Settings(
        stage="test",
        data_dir=Path("/nonexistent"),
        r2_endpoint_url=endpoint,
        r2_bucket=bucket,
        r2_access_key_id=SUPABASE_KEY_ID,
        r2_secret_access_key=SUPABASE_SECRET,
        r2_public_base_url=public_base,
        r2_region=SUPABASE_REGION,
    )


class _UnderPath:
    """WSGI: serves ``app`` under ``prefix`` (and answers 404 elsewhere), as Supabase's endpoint is."""

    def __init__(self, app: Callable[..., Iterable[bytes]], prefix: str) -> None:
        self._app, self._prefix = app, prefix

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(self._prefix + "/"):
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        environ["PATH_INFO"] = path[len(self._prefix) :]
        for raw in ("RAW_URI", "REQUEST_URI"):  # what moto reads the bucket from
            if str(environ.get(raw, "")).startswith(self._prefix + "/"):
                environ[raw] = environ[raw][len(self._prefix) :]
        return self._app(environ, start_response)


@contextmanager
def supabase_standin() -> Iterator[str]:
    """An S3-compatible endpoint at ``http://127.0.0.1:{port}/storage/v1/s3``: its URL."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = _UnderPath(DomainDispatcherApplication(create_backend_app), SUPABASE_PATH)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="supabase-standin", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{SUPABASE_PATH}"
    finally:
        server.shutdown()
        server.server_close()


def new_supabase_bucket(endpoint: str) -> str:
    """A bucket of its own on the stand-in (made as an operator makes it in the dashboard)."""
    bucket = f"avatars-{uuid.uuid4().hex[:12]}"
    store = build_objects(supabase_settings(endpoint, bucket, "https://x.test"))
    store.client.create_bucket(  # type: ignore[attr-defined]
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": SUPABASE_REGION}
    )
    return bucket


def create_s3_bucket() -> None:
    """The bucket the operator made beforehand (in moto's memory)."""
    build_objects(aws_s3_settings("https://cdn.test")).client.create_bucket(Bucket=S3_BUCKET)  # type: ignore[attr-defined]


def other_store_factory(kind: str, supabase_endpoint: str | None = None) -> Callable[[str], ObjectStore]:
    """A factory of ``kind`` ("s3" or "supabase") stores by public base URL, over one bucket."""
    if kind == "s3":
        create_s3_bucket()
        return lambda base: build_objects(aws_s3_settings(base))
    assert supabase_endpoint is not None
    bucket = new_supabase_bucket(supabase_endpoint)
    return lambda base: build_objects(supabase_settings(supabase_endpoint, bucket, base))
