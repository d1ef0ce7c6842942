"""The on-disk derivation cache: content-hashed, atomic, and never crashes on a bad entry."""

from __future__ import annotations

import json

import sympy as sp

from modspec.theory import cache
from modspec.theory import symbols as sy
from modspec.theory.dynamics import mode_solution

#: The disk route on every call (``mode_solution`` also memoises within the process).
solution = mode_solution.__wrapped__


def test_location_follows_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "c"))
    assert cache.cache_dir() == tmp_path / "c"
    assert cache.store({"k": 1}, [1, 2])
    assert cache.load({"k": 1}) == [1, 2]
    assert cache.path_for({"k": 1}).parent.parent == tmp_path / "c"
    monkeypatch.delenv(cache.ENV)
    assert cache.cache_dir().parts[-2:] == (".cache", "modspec")


def test_keys_are_content_hashes_and_distinct_keys_do_not_collide(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    assert cache.key_hash({"a": 1, "b": 2}) == cache.key_hash({"b": 2, "a": 1})
    assert cache.key_hash({"a": 1}) != cache.key_hash({"a": 2})
    cache.store({"a": 1}, "one")
    cache.store({"a": 2}, "two")
    assert (cache.load({"a": 1}), cache.load({"a": 2}), cache.load({"a": 3})) == \
        ("one", "two", None)
    assert not list(tmp_path.rglob(".tmp-*")), "atomic writes leave no temporary files"


def test_expressions_round_trip_with_their_assumptions(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    expr = sy.a0 * sp.exp(2 * sy.s * sy.t / sy.tau) / (sy.lam + sp.sqrt(sy.kx) * sy.rx)
    cache.store_expr({"e": 1}, expr)
    back = cache.load_expr({"e": 1})
    assert back == expr and back.free_symbols == expr.free_symbols
    assert all(s.is_positive or s.is_nonnegative for s in back.free_symbols)


def test_corrupt_or_wrong_entries_are_recomputed_not_fatal(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    key = {"what": "mode_solution", "depth": 1}
    for bad in ("{truncated", json.dumps({"hash": "x", "value": "1"}), "",
                json.dumps({"hash": cache.key_hash(key), "value": "Symbol('a0') + ("}),
                json.dumps({"hash": cache.key_hash(key), "value": sp.srepr(sy.a0 * 2)})):
        cache.path_for(key).parent.mkdir(parents=True, exist_ok=True)
        cache.path_for(key).write_text(bad)
        got = solution(1)
        assert sp.simplify(got - mode_solution(1, cache=False)) == 0
    # the last store repaired the entry
    assert sp.simplify(cache.load_expr(key) - mode_solution(1, cache=False)) == 0


def test_an_unwritable_cache_directory_is_skipped(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(cache.ENV, str(blocker))
    assert cache.store({"k": 1}, 1) is False
    assert cache.load({"k": 1}) is None
    assert sp.simplify(solution(1) - mode_solution(1, cache=False)) == 0
