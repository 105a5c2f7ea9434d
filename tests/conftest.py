"""Shared fixtures: one embedded Redis per session, a seeded gallery, a wired app per test."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from chalicelib.adapters.storage.gallery_store import ObjectGalleryStore
from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.store.client import RedisPyClient
from chalicelib.adapters.store.embedded import open_embedded_redis
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import Container, build_container, seed_gallery, set_container
from chalicelib.config import Settings
from chalicelib.services.gallery.catalog import GalleryService
from tests.fakes import RecordingProvider

JWT_SECRET = "test-jwt-secret-0123456789abcdef0123456789"
FILES_BASE = "http://testserver/v1/files"
SEED_PER_STYLE = 3

# Vendor keys in the developer's environment must never reach a test.
for _name in list(os.environ):
    if _name.endswith(("_API_KEY", "_API_TOKEN", "_KEY", "_ACCESS_KEY")) or _name.startswith(
        ("UPSTASH_", "R2_", "AVATARFLOW_")
    ):
        os.environ.pop(_name)

_prefixes = itertools.count()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real embedded Redis for the whole run; each test gets its own key prefix."""
    client = open_embedded_redis(tmp_path_factory.mktemp("redis"))
    yield client
    client.shutdown(nosave=True) if hasattr(client, "shutdown") else None


@pytest.fixture(scope="session")
def gallery_objects_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local object store with a procedural gallery, seeded once per run."""
    root = tmp_path_factory.mktemp("objects")
    seeded = LocalObjectStore(root, FILES_BASE)
    seed_gallery(GalleryService(ObjectGalleryStore(seeded)), seeded, SEED_PER_STYLE)
    return root


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "stage": "test",
        "data_dir": data_dir,
        "files_base_url": FILES_BASE,
        "jwt_secret": JWT_SECRET,
        "gallery_seed_per_style": SEED_PER_STYLE,
        "cors_origins": "*",
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def store(redis_server: Any) -> RedisStateStore:
    return RedisStateStore(RedisPyClient(redis_server), prefix=f"t{next(_prefixes)}:")


@pytest.fixture
def objects(gallery_objects_dir: Path) -> LocalObjectStore:
    return LocalObjectStore(gallery_objects_dir, FILES_BASE)


@pytest.fixture
def provider() -> RecordingProvider:
    return RecordingProvider()


@pytest.fixture
def container(
    tmp_path: Path, store: RedisStateStore, objects: LocalObjectStore, provider: RecordingProvider
) -> Iterator[Container]:
    built = build_container(make_settings(tmp_path), store=store, objects=objects, provider=provider)
    set_container(built)
    yield built
    set_container(None)


@pytest.fixture
def client(container: Container) -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as test_client:
        yield test_client


def token(sub: str = "user-1", tier: str | None = "free", expires_in: int = 3600, **claims: Any) -> str:
    payload: dict[str, Any] = {"sub": sub, "exp": int(time.time()) + expires_in, **claims}
    if tier is not None:
        payload["tier"] = tier
    return jwt.encode(payload, JWT_SECRET, algorithm="HS256")


def auth(sub: str = "user-1", tier: str = "free") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, tier)}", "Content-Type": "application/json"}
