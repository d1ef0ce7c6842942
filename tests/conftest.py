"""Shared fixtures and hypothesis profiles."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_collection_modifyitems(config, items):
    """Run ``@pytest.mark.slow`` experiments only with MODSPEC_SLOW=1 (their small versions
    always run)."""
    if os.environ.get("MODSPEC_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow experiment: set MODSPEC_SLOW=1 to run the full version")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def d0():
    """The reference dataset D0 of theory.md §2."""
    import modspec as ms

    return ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
