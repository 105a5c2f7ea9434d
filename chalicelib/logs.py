"""Structured JSON logs: one object per line, with the ids that tie a request to its job."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
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
    logger._avatarflow_configured = True  # type: ignore[attr-defined]
