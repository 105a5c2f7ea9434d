"""CloudWatch metrics in the Embedded Metric Format (EMF): one JSON line per event, on stdout.

Lambda ships stdout to CloudWatch Logs, which extracts the metrics from each line's ``_aws``
block: no API call, no store round trip, nothing on the request path but a ``write``. Not
Powertools' ``Metrics``: it buffers per invocation and needs a flush decorator around the
handler, while our jobs finish in worker threads after the response has gone (a per-invocation
buffer would lose or misattribute their metrics), and it would add a dependency to the cold
start; its ``single_metric`` flushes at once but puts one metric per line and still brings the
dependency, for a format that is a dozen lines of JSON here. Each call writes its own line under
a lock, so any thread may emit at any time.

In the ``local`` and ``test`` stages (``AVATARFLOW_STAGE``) the lines go to the
``avatarflow.metrics`` logger at INFO instead (the raw JSON; tests capture it there), not stdout.
Nothing here raises or blocks: a metric that cannot be written is logged at debug and dropped.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, ParamSpec

from chalicelib.domain.events import GenerationAdmitted, GenerationFinished, ProviderAttempted
from chalicelib.observability.logs import METRICS_LOGGER

NAMESPACE = "avatarflow"
LOCAL_STAGES = frozenset({"local", "test"})
CACHE_HITS = frozenset({"cached", "joined"})  # admit outcomes served without a new job
REJECTIONS = frozenset({"quota_exceeded", "rate_limited", "budget_exhausted"})

Unit = Literal["Milliseconds", "Seconds", "Count", "None"]
Values = Mapping[str, tuple[float, Unit]]

emf_log = logging.getLogger(METRICS_LOGGER)
log = logging.getLogger(__name__)
_write_lock = threading.Lock()
P = ParamSpec("P")


def document(
    values: Values, dimensions: Mapping[str, str] | None = None, *, timestamp_ms: int | None = None
) -> dict[str, Any]:
    """One EMF document: the ``_aws`` block names each metric (with its unit) and the dimension
    set; the dimensions and metric values are top-level members."""
    dims = {str(name): str(value) for name, value in (dimensions or {}).items()}
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [list(dims)],
                    "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in values.items()],
                }
            ],
        },
        **dims,
        **{name: value for name, (value, _) in values.items()},
    }


def _to_stdout() -> bool:
    return (os.environ.get("AVATARFLOW_STAGE") or "local") not in LOCAL_STAGES


def put(values: Values, dimensions: Mapping[str, str] | None = None) -> None:
    """Emit one EMF line now; never raises."""
    try:
        line = json.dumps(document(values, dimensions), separators=(",", ":"), allow_nan=False)
        if not _to_stdout():
            emf_log.info(line)
            return
        with _write_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    except Exception:
        log.debug("metric not emitted", exc_info=True)


def _quiet(emit: Callable[P, None]) -> Callable[P, None]:
    @functools.wraps(emit)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            emit(*args, **kwargs)
        except Exception:
            log.debug("metric not emitted", exc_info=True)

    return wrapper


@_quiet
def generation_completed(provider: str, latency_ms: float, cost_usd: float) -> None:
    """A job ended with an image: its provider's latency and what it cost (USD)."""
    put(
        {"GenerationLatency": (float(latency_ms), "Milliseconds"), "Spend": (float(cost_usd), "None")},
        {"Provider": provider},
    )


@_quiet
def admitted(outcome: str) -> None:
    """An admit outcome: ``CacheHit`` (cached, joined) or ``QuotaRejection`` (by code)."""
    if outcome in CACHE_HITS:
        put({"CacheHit": (1, "Count")})
    elif outcome in REJECTIONS:
        put({"QuotaRejection": (1, "Count")}, {"Code": outcome})


@_quiet
def provider_error(provider: str, kind: str) -> None:
    """One failed call to a provider, by its error kind (retryable, down, auth, ...)."""
    put({"ProviderError": (1, "Count")}, {"Provider": provider, "Kind": kind})


# -- handlers of domain events (wired in bootstrap) -----------------------------------------------


@_quiet
def on_admitted(event: GenerationAdmitted) -> None:
    admitted(event.outcome)


@_quiet
def on_finished(event: GenerationFinished) -> None:
    """A job that made an image: its provider's latency and cost (a cached one made none)."""
    generation = event.generation
    if generation.status == "succeeded" and generation.provider and not generation.cached:
        generation_completed(
            generation.provider, generation.provider_latency_ms or 0.0, generation.cost_usd or 0.0
        )


@_quiet
def on_provider_attempted(event: ProviderAttempted) -> None:
    """A ``ProviderError`` for each failed attempt (a provider skipped for its breaker was not
    called, and is not an error)."""
    if event.error_kind:
        provider_error(event.provider, event.error_kind)
