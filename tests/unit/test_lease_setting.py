"""The job lease (``AVATARFLOW_JOB_LEASE_SECONDS``) must outlast one provider call: a lease that
lapses while its worker still waits on the provider lets another claim run the job again (a
second provider job, paid twice)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.config import Settings


def test_a_lease_shorter_than_the_provider_deadline_is_refused_naming_both_settings() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings.from_env(
            {"AVATARFLOW_JOB_LEASE_SECONDS": "10", "AVATARFLOW_PROVIDER_DEADLINE_SECONDS": "25"}
        )
    assert "AVATARFLOW_JOB_LEASE_SECONDS" in str(refused.value)
    assert "AVATARFLOW_PROVIDER_DEADLINE_SECONDS" in str(refused.value)


def test_the_default_lease_and_a_longer_one_are_accepted() -> None:
    assert Settings.from_env({}).job_lease_seconds > Settings.from_env({}).provider_deadline_seconds
    assert Settings.from_env({"AVATARFLOW_JOB_LEASE_SECONDS": "60"}).job_lease_seconds == 60.0
