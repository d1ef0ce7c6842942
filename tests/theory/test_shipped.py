"""Cache entries shipped with modspec: what the derivations give, read like disk entries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from modspec.theory import cache, shipped
from modspec.theory import symbols as sy
from modspec.theory.dynamics import half_rise_time, mode_solution, reaches_half, solves_at_points
from modspec.theory.exprtree import from_tree

KEY = {"what": "mode_solution", "depth": 2}


@pytest.fixture
def private(tmp_path, monkeypatch):
    """A fresh, empty cache folder for one test."""
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def damaged(tmp_path, monkeypatch):
    """The shipped file copied to ``tmp_path`` (edit it, then read it through ``shipped``)."""
    path = tmp_path / "shipped_cache.json"
    path.write_text(shipped.SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(shipped, "SHIPPED", path)
    shipped.entries.cache_clear()
    yield path
    shipped.entries.cache_clear()


def _fail():
    raise AssertionError("derived although a shipped entry was available")


def test_shipped_entries_are_what_the_derivations_give_in_a_fresh_process(tmp_path):
    run = subprocess.run([sys.executable, "-m", "modspec.theory.ship", "--check"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert {json.dumps(k, sort_keys=True, separators=(",", ":")) for k in shipped.KEYS} \
        == set(shipped.entries())


def test_every_shipped_entry_passes_the_check_of_a_stored_expression():
    for L in (1, 2):
        sol = from_tree(shipped.lookup({"what": "mode_solution", "depth": L}))
        assert solves_at_points(sol, L)
        half = from_tree(shipped.lookup({"what": "half_rise_time", "depth": L}))
        assert reaches_half(half, sol)
        assert sol == mode_solution(L) and half == half_rise_time(L)


def test_an_empty_cache_takes_the_shipped_entry_and_stores_it_signed(private):
    assert cache.load(KEY) is None
    got = cache.cached_expr(KEY, _fail, lambda e: solves_at_points(e, 2))
    assert got == from_tree(shipped.lookup(KEY))
    assert cache.load_expr(KEY) == got                 # now an ordinary entry of the user's


def test_a_shipped_entry_failing_its_check_is_derived_instead(private):
    derived = sp.Symbol("derived")
    assert cache.cached_expr(KEY, lambda: derived, lambda e: False) == derived


def test_no_shipped_entry_is_read_with_the_cache_off(private):
    derived = sp.Symbol("derived")
    with cache.disabled():
        assert cache.cached_expr(KEY, lambda: derived, lambda e: True) == derived
    assert cache.cached_expr(KEY, lambda: derived, lambda e: True, use_cache=False) == derived


def test_an_edited_shipped_value_is_ignored(private, damaged):
    data = json.loads(damaged.read_text(encoding="utf-8"))
    entry = next(e for e in data["entries"] if e["key"] == KEY)
    entry["value"] = ["Symbol", "forged", {}]            # the checksum no longer matches
    damaged.write_text(json.dumps(data), encoding="utf-8")
    assert shipped.lookup(KEY) is None
    assert shipped.lookup({"what": "mode_solution", "depth": 1}) is not None
    derived = sp.Symbol("derived")
    assert cache.cached_expr(KEY, lambda: derived, lambda e: True) == derived


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"entries": 3}',
                                  '{"entries": [{"key": 1}]}'])
def test_an_unreadable_shipped_file_ships_nothing(damaged, text):
    damaged.write_text(text, encoding="utf-8")
    assert shipped.entries() == {} and shipped.lookup(KEY) is None
    shipped.entries.cache_clear()


@settings(max_examples=20, deadline=None)
@given(st.floats(0.5, 2.0).filter(lambda f: f == 1.0 or abs(f - 1.0) > 1e-6))
@example(1.0)
@example(0.999)
def test_a_stored_half_rise_time_is_accepted_only_where_it_reaches_half(factor):
    sol = mode_solution(2)
    half = half_rise_time(2)
    assert reaches_half(factor * half, sol) == (factor == 1.0)
    assert not reaches_half(half + sy.t, sol)          # a symbol the time cannot hold
