"""Reading Redis replies the same way whichever client (redis-py or Upstash REST) returned them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any


def text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def pairs(flat: Sequence[Any]) -> dict[str, str]:
    """A flat [field, value, ...] reply as a dict."""
    return {text(flat[i]): text(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


def hash_reply(reply: Any) -> dict[str, str]:
    """An HGETALL reply: a dict (Upstash's formatting) or a flat list (redis-py)."""
    if isinstance(reply, dict):
        return {text(k): text(v) for k, v in reply.items()}
    return pairs(reply or [])


def optional_int(value: Any) -> int | None:
    number = int(value)
    return None if number < 0 else number


def epoch_ms(iso_time: str) -> int:
    try:
        return int(datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


def ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))
