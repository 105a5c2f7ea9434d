"""Errors every store port raises."""

from __future__ import annotations


class StoreError(Exception):
    """The state store is unreachable, too slow, or refused the call."""
