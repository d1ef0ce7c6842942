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


@pytest.fixture(autouse=True)
def _session_cache(tmp_path_factory, monkeypatch):
    """Every test derives and compiles into one cache folder of the test session (warm after
    its first use, never the user's own cache); a test that studies the cache sets its own."""
    monkeypatch.setenv("MODSPEC_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "modspec-cache"))


@pytest.fixture
def run_cli():
    """``run_cli(capsys, *argv) -> (exit status, stdout, stderr)`` of the command line."""
    from modspec.cli import main

    def run(capsys, *argv):
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def d0():
    """The reference dataset D0 of theory.md §2."""
    import modspec as ms

    return ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
