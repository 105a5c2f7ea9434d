"""The app wired on either state store adapter, for the functional tests that must hold on both:
the embedded Redis, and the Upstash REST adapter through the local REST harness in front of the
same Redis (``stack/upstash.py``). Each wiring gets a key prefix of its own."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from chalicelib.adapters.store.client import RedisPyClient
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.adapters.store.upstash import UpstashClient
from chalicelib.bootstrap import Container, build_container, set_container
from tests.conftest import make_settings
from tests.upstash_harness import running_harness

ADAPTERS = ("embedded", "upstash")


@contextmanager
def wired_app(
    adapter: str, tmp_path: Path, redis_server: Any, objects: Any, provider: Any, **build: Any
) -> Iterator[tuple[Any, Container]]:
    """A chalice test client and its container, on the ``adapter`` store ("embedded" or "upstash");
    ``build`` goes to ``build_container`` (a resolver, ...)."""
    from chalice.test import Client

    from app import app as chalice_app

    prefix = f"{adapter}-{secrets.token_hex(4)}:"
    with ExitStack() as stack:
        if adapter == "embedded":
            store = RedisStateStore(RedisPyClient(redis_server), prefix)
        else:
            harness = stack.enter_context(running_harness(redis_server.socket_file))
            upstash = UpstashClient(harness.url, harness.token)
            stack.callback(upstash.close)
            store = RedisStateStore(upstash, prefix)
        container = build_container(
            make_settings(tmp_path), store=store, objects=objects, provider=provider, **build
        )
        set_container(container)
        stack.callback(set_container, None)
        yield stack.enter_context(Client(chalice_app, stage_name="local")), container
