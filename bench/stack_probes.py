"""What the stack benches read from ``make stack`` and send to it: one generation request from a burst's
client thread, and afterwards the stack's call counters, its queues' depths and the quota ledger
checked against the store (bench/stack_spike.py and bench/stack_faults.py share them).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any


def identities(state: dict[str, Any], count: int, prefix: str) -> tuple[list[str], list[str]]:
    """``count`` signed-in users ``<prefix>-<n>`` of the stack: their tiers (every fifth premium,
    the rest free) and their bearer tokens, signed with the stack's JWT secret for an hour."""
    import jwt

    tiers = ["premium" if who % 5 == 0 else "free" for who in range(count)]
    exp = int(time.time()) + 3600
    tokens = [
        jwt.encode(
            {"sub": f"{prefix}-{who}", "tier": tiers[who], "exp": exp}, state["jwt_secret"], algorithm="HS256"
        )
        for who in range(count)
    ]
    return tiers, tokens


def get_json(url: str) -> dict[str, Any]:
    import httpx

    return dict(httpx.get(url, timeout=10).json())


def stack_counts(state: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {
        "upstash": get_json(state["upstash"]["url"] + "/_stack/stats")["calls"],
        "aws": get_json(state["aws"]["endpoint"] + "/_stack/stats")["requests"],
    }


def post_generation(
    local: threading.local, front: str, token: str, body: dict[str, Any], respond_async: bool
) -> tuple[int, dict[str, Any]]:
    """One ``POST /v1/generations`` from a burst's thread (its own keep-alive client in ``local``):
    the status and the JSON body, or ``(0, {})`` where no answer came (a timeout, a reset)."""
    import httpx

    client = getattr(local, "client", None)
    if client is None:
        client = local.client = httpx.Client(base_url=front, timeout=60)
    headers = {"Authorization": f"Bearer {token}"}
    if respond_async:
        headers["Prefer"] = "respond-async"
    try:
        response = client.post("/v1/generations", headers=headers, json=body)
        payload = response.json()
    except (httpx.HTTPError, ValueError):
        return 0, {}
    return response.status_code, payload if isinstance(payload, dict) else {}


def dlq_depths(state: dict[str, Any]) -> dict[str, int]:
    """Each lane's DLQ: messages waiting plus in flight."""
    return queue_depths(state, "dlq_url")


def queue_depths(state: dict[str, Any], url_field: str = "url") -> dict[str, int]:
    """Each lane's queue (``url``) or DLQ (``dlq_url``): messages waiting plus in flight."""
    import boto3

    from stack.aws import ACCESS_KEY, SECRET_KEY

    sqs = boto3.client(
        "sqs",
        endpoint_url=state["aws"]["endpoint"],
        region_name=state["aws"]["region"],
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    depths = {}
    for lane, queue in state["aws"]["queues"].items():
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue[url_field],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        depths[lane] = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
    return depths


def ledger(
    store: Any, tiers: list[str], identities: int, prefix: str = "spike"
) -> tuple[list[str], list[str], list[str]]:
    """Each identity's quota counters against its quota, and against the jobs that hold a charge
    on them (a succeeded or still open job keeps its charge; a failed one was refunded)."""
    from chalicelib.config import Settings
    from chalicelib.domain.identity import Identity
    from chalicelib.domain.periods import window_period
    from chalicelib.domain.tiers import load_tiers

    tier_table = load_tiers(Settings().tiers_json)
    now = time.time()
    over, double, under = [], [], []
    for who in range(identities):
        identity = Identity("user", f"{prefix}-{who}", tiers[who])
        windows = tier_table[tiers[who]].windows
        keys = [f"q:{identity.key}:{window_period(window, now)[0]}" for window in windows]
        counts = store.counters.quota_counts(keys)
        history, _ = store.generations.history(identity.key, 1000, None)
        held = Counter(key for g in history if not g.refunded for key in g.charged)
        for key, window, used in zip(keys, windows, counts, strict=True):
            holders = sum(n for charged_key, n in held.items() if charged_key.endswith(key))
            if used > window.limit:
                over.append(identity.key)
            if used > holders:
                double.append(f"{key}: counter {used}, jobs holding a charge {holders}")
            elif used < holders:
                under.append(f"{key}: counter {used}, jobs holding a charge {holders}")
    return over, double, under
