"""Structured JSON logs: one object per line, with the ids that tie a request to its job.

A log context (``bind`` / ``log_context``, on a ``contextvars.ContextVar``) adds fields to every
line logged while it is bound: ``request_id`` and ``identity_kind`` for a request (the HTTP
middleware, ``api.http.caller``), ``job_id`` and ``provider`` for a job (the worker paths). A
record's own ``extra`` fields win over the context's. Bind ids and kinds only, never a secret.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import Any

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
METRICS_LOGGER = (
    "avatarflow.metrics"  # EMF lines in the local and test stages (chalicelib.observability.metrics)
)

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_context: ContextVar[Mapping[str, Any]] = ContextVar("avatarflow_log_context", default=_EMPTY)


def bind(**fields: Any) -> Token[Mapping[str, Any]]:
    """Add ``fields`` to the log context of the current task or thread, until reset (or the end of
    an enclosing ``log_context``)."""
    return _context.set(MappingProxyType({**_context.get(), **fields}))


def reset(token: Token[Mapping[str, Any]]) -> None:
    """Undo a ``bind``."""
    _context.reset(token)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Every line logged inside the block carries ``fields`` (and whatever is bound within it is
    dropped on the way out)."""
    token = bind(**fields)
    try:
        yield
    finally:
        reset(token)


def current_context() -> dict[str, Any]:
    """The fields bound now."""
    return dict(_context.get())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def configure_logging() -> None:
    """JSON logs on stderr for the avatarflow loggers (CloudWatch reads stdout/stderr)."""
    logger = logging.getLogger("avatarflow")
    if getattr(logger, "_avatarflow_configured", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("avatarflow", "chalicelib"):
        target = logging.getLogger(name)
        target.addHandler(handler)
        target.setLevel(os.environ.get("AVATARFLOW_LOG_LEVEL", "INFO"))
        target.propagate = False
    # Metric lines outside Lambda (local and test stages): the raw EMF JSON, one per line.
    metrics = logging.getLogger(METRICS_LOGGER)
    raw = logging.StreamHandler(sys.stderr)
    raw.setFormatter(logging.Formatter("%(message)s"))
    metrics.addHandler(raw)
    metrics.setLevel(logging.INFO)
    metrics.propagate = False
    logger._avatarflow_configured = True  # type: ignore[attr-defined]
