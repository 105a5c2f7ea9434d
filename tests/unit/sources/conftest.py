"""The sources log through ``chalicelib.*``, which stops propagating once the app configured
logging: let ``caplog`` see those records anyway."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture
def source_logs(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> pytest.LogCaptureFixture:
    monkeypatch.setattr(logging.getLogger("chalicelib"), "propagate", True)
    caplog.set_level(logging.INFO, logger="chalicelib")
    return caplog
