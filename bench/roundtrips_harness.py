"""The round-trip bench's harness: the app on its production Upstash adapter, through the REST harness
of the tests in front of the embedded Redis, with a counter of the REST calls each request makes.

``python -m bench.roundtrips`` (bench/roundtrips.py) runs it; the requests it measures are in
bench/roundtrips_rows.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JWT_SECRET = "bench-jwt-secret-0123456789abcdef0123456789"  # noqa: S105 - signs local test tokens only
FILES_BASE = "http://bench/v1/files"


class RecordingPush:
    """A push channel that accepts every message (the bench counts store calls, not sends)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, connection_id: str, message: str) -> None:
        self.sent.append((connection_id, message))

    def close(self, connection_id: str) -> None:
        pass


@dataclass
class Bench:
    client: Any
    harness: Any
    store: Any
    upstash: Any
    token: Callable[[str, str], dict[str, str]]
    direct: Any  # the same store on the embedded Redis itself: calls the harness does not count
    container: Any = None
    push: RecordingPush | None = None

    @contextmanager
    def counted(self, sink: dict[str, Any]) -> Iterator[None]:
        self.harness.reset_counts()
        started = time.perf_counter()
        yield
        sink["ms"] = (time.perf_counter() - started) * 1000
        sink["calls"] = self.harness.total_calls
        sink["bytes"] = self.harness.bytes_in
        sink["commands"] = list(self.harness.commands)


def _auth_factory() -> Callable[[str, str], dict[str, str]]:
    import jwt

    def auth(sub: str, tier: str = "free") -> dict[str, str]:
        claims = {"sub": sub, "tier": tier, "exp": int(time.time()) + 3600}
        token = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    return auth


@contextmanager
def running_bench(workdir: Path) -> Iterator[Bench]:
    from chalice.test import Client

    from app import app
    from chalicelib.adapters.storage.local import LocalObjectStore
    from chalicelib.adapters.store.client import RedisPyClient
    from chalicelib.adapters.store.embedded import open_embedded_redis
    from chalicelib.adapters.store.redis_store import RedisStateStore
    from chalicelib.adapters.store.upstash import UpstashClient
    from chalicelib.bootstrap import build_container, seed_gallery, set_container
    from chalicelib.config import Settings
    from chalicelib.services.gallery.catalog import GalleryService
    from tests.fakes import RecordingProvider
    from tests.upstash_harness import running_harness

    with ExitStack() as stack:
        redis = open_embedded_redis(workdir / "redis")
        stack.callback(lambda: redis.shutdown(nosave=True))
        harness = stack.enter_context(running_harness(redis.socket_file))
        upstash = UpstashClient(harness.url, harness.token)
        stack.callback(upstash.close)
        from chalicelib.adapters.storage.gallery_store import ObjectGalleryStore

        objects = LocalObjectStore(workdir / "objects", FILES_BASE)
        seed_gallery(GalleryService(ObjectGalleryStore(objects)), objects, 1)
        store = RedisStateStore(upstash, prefix="bench:")
        settings = Settings(
            stage="bench",
            data_dir=workdir,
            files_base_url=FILES_BASE,
            jwt_secret=JWT_SECRET,
            cors_origins="*",
        )
        push = RecordingPush()
        container = build_container(
            settings,
            store=store,
            objects=objects,
            provider=RecordingProvider(),
            start_workers=False,
            push=push,
        )
        set_container(container)
        stack.callback(set_container, None)
        client = stack.enter_context(Client(app, stage_name="local"))
        direct = RedisStateStore(RedisPyClient(redis), prefix="bench:")
        yield Bench(client, harness, store, upstash, _auth_factory(), direct, container, push)
