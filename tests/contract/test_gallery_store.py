"""The GalleryStore port's contract, on the one adapter over each object store it runs on: the
local directory (embedded) and R2 (production, under moto). The format itself is tested in
tests/unit/test_gallery_shards.py; here, that a stage's store keeps the same promises."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.adapters.storage.gallery_store import ObjectGalleryStore
from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.domain.gallery import GalleryEntry
from chalicelib.ports.gallery import GalleryStore
from tests.contract.test_object_store import (  # noqa: F401 (aws_env, r2_mock: R2's fixtures, moto)
    PUBLIC_BASE,
    aws_env,
    new_r2_store,
    r2_mock,
)

STYLES = ("anime", "pixel", "oil")


def entries(n: int, *, prefix: str = "g") -> list[GalleryEntry]:
    return [
        GalleryEntry(
            id=f"{prefix}{i:04d}",
            style=STYLES[i % len(STYLES)],
            tags=("smile",) if i % 2 else ("hat",),
            source="procedural" if i % 4 == 0 else "pexels",
            image_keys={"512": f"gallery/{prefix}{i:04d}-512.webp"},
        )
        for i in range(n)
    ]


@pytest.fixture(params=["local", "r2"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GalleryStore]:
    if request.param == "local":
        yield ObjectGalleryStore(LocalObjectStore(tmp_path, PUBLIC_BASE), inline_items=2)
        return
    request.getfixturevalue("r2_mock")
    yield ObjectGalleryStore(new_r2_store(), inline_items=2)


def test_nothing_stored_is_the_empty_version(store: GalleryStore) -> None:
    version, index = store.read_index()
    assert version == "empty" and index is not None and index.count == 0 and dict(index.styles) == {}
    assert not store.has_index() and store.unconverted() is None
    assert store.published().total == 0


def test_a_published_gallery_reads_back_by_version_shard_and_locator(store: GalleryStore) -> None:
    version, index = store.publish(entries(30))
    assert store.has_index()
    assert store.read_index(known=version) == (version, None)  # unchanged: no index handed out
    again, read = store.read_index()
    assert again == version and read is not None and read.count == 30 == index.count
    assert sorted(read.styles) == sorted(STYLES)
    anime = read.styles["anime"]
    assert store.inline_shard(anime) is None  # 10 items, more than inline_items=2: its own object
    shard = store.shard(anime.key)
    assert shard is not None and list(shard.ids) == [e.id for e in entries(30) if e.style == "anime"]
    assert read.locator is not None
    locator = store.locator(read.locator)
    assert locator is not None and list(locator.styles_of("g0001")) == ["pixel"]
    assert store.shard("gallery/shard-missing-0.jsonl") is None
    assert store.locator("gallery/locator-missing.bin") is None


def test_add_rewrites_a_version_and_knows_the_published_items(store: GalleryStore) -> None:
    first, _ = store.publish(entries(6))
    assert store.add([]) is None
    added = store.add(entries(1, prefix="new"))
    assert added is not None
    version, index = added
    assert version != first and index.count == 7
    published = store.published()
    assert published.total == 7 and published.has_id("new0000") and not published.has_id("nope")
    assert published.has_picture("gallery/new0000-512.webp") and not published.has_picture("gallery/x.webp")


def test_a_small_style_lives_inside_the_index(store: GalleryStore) -> None:
    _, index = store.publish(entries(3))  # one item per style, at most inline_items=2
    summary = index.styles["oil"]
    shard = store.inline_shard(summary)
    assert shard is not None and [e.id for e in shard.entries()] == ["g0002"]
    assert store.public_url("gallery/g0002-512.webp") == f"{PUBLIC_BASE}/gallery/g0002-512.webp"
