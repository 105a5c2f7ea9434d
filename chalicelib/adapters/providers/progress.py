"""Reading a provider job's progress from what its queue API says while it runs.

- fal: ``GET {status_url}?logs=1`` answers ``{"status": "IN_QUEUE", "queue_position": n}`` or
  ``{"status": "IN_PROGRESS", "logs": [{"message": ...}, ...]}`` (fal's Queue API reference);
- Replicate: a prediction's ``logs`` is the model's output so far, where diffusion models print a
  tqdm bar per step (`` 50%|█████     | 2/4 [00:01<00:01, ...]``);
- RunPod: ``/status`` of a job in progress carries the worker's latest
  ``runpod.serverless.progress_update`` in ``output`` (a number, a "NN%" text or an object).

The last percentage (or ``step/total`` count) printed wins; anything else is no figure at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from chalicelib.domain.progress import clamp_percent

_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s?%")
_STEPS = re.compile(r"\b(\d{1,5})\s?/\s?(\d{1,5})\b")
MAX_LOG_CHARS = 4096  # the tail is enough: the last figure is the one that counts


def percent_in_text(text: str) -> float | None:
    """The last percentage (or ``step/total``) in a log text, 0..100."""
    tail = text[-MAX_LOG_CHARS:]
    found: float | None = None
    for line in tail.splitlines():
        percents = _PERCENT.findall(line)
        if percents:
            found = clamp_percent(percents[-1])
            continue
        steps = _STEPS.findall(line)
        if steps:
            done, total = (int(n) for n in steps[-1])
            if total > 0 and done <= total:
                found = 100.0 * done / total
    return found


def percent_in_logs(logs: Any) -> float | None:
    """fal's ``logs`` (a list of ``{"message"}``) or Replicate's (one text), as a percentage."""
    if isinstance(logs, str):
        return percent_in_text(logs)
    if isinstance(logs, list):
        return percent_in_text("\n".join(_messages(logs[-50:])))
    return None


def runpod_percent(output: Any) -> float | None:
    """A RunPod ``progress_update``: a number (0..1 as a share, else a percentage), a text, or an
    object with ``progress`` / ``percent``."""
    if isinstance(output, dict):
        for name in ("percent", "progress"):
            if name in output:
                return runpod_percent(output[name])
        return None
    if isinstance(output, bool):
        return None
    if isinstance(output, int | float):
        return clamp_percent(output * 100 if 0 <= output <= 1 else output)
    if isinstance(output, str):
        return percent_in_text(output)
    return None


def queue_position(doc: Any) -> int | None:
    value = doc.get("queue_position") if isinstance(doc, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _messages(entries: Iterable[Any]) -> Iterable[str]:
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("message"), str):
            yield entry["message"]
        elif isinstance(entry, str):
            yield entry
