"""The on-disk derivation cache: checksummed, never evaluated, private, and switchable off."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import sympy as sp

from modspec.theory import cache
from modspec.theory import symbols as sy
from modspec.theory.dynamics import mode_solution
from modspec.theory.errors import ModspecError
from modspec.theory.exprtree import to_tree

#: The disk route on every call (``mode_solution`` also memoises within the process).
solution = mode_solution.__wrapped__
KEY = {"what": "mode_solution", "depth": 1}


@pytest.fixture
def private(tmp_path, monkeypatch):
    """A fresh cache folder for one test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV, str(folder))
    return folder


def _entry(key) -> Path:
    return cache.path_for(key)


def _forge(key, value) -> None:
    """Write ``value`` under ``key`` with a *valid* checksum, as someone able to write the
    folder could."""
    assert cache.store(key, value)


def test_location_is_modspec_cache_dir_then_xdg_cache_home_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "c"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "c"
    assert cache.store({"k": 1}, [1, 2]) and cache.load({"k": 1}) == [1, 2]
    assert cache.path_for({"k": 1}).parent.parent == tmp_path / "c"
    monkeypatch.delenv(cache.ENV)
    assert cache.cache_dir() == tmp_path / "xdg" / "modspec"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")     # invalid per the XDG spec
    assert cache.cache_dir() == Path.home() / ".cache" / "modspec"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.cache_dir() == Path.home() / ".cache" / "modspec"


def test_keys_are_content_hashes_and_distinct_keys_do_not_collide(private):
    assert cache.key_hash({"a": 1, "b": 2}) == cache.key_hash({"b": 2, "a": 1})
    assert cache.key_hash({"a": 1}) != cache.key_hash({"a": 2})
    cache.store({"a": 1}, "one")
    cache.store({"a": 2}, "two")
    assert (cache.load({"a": 1}), cache.load({"a": 2}), cache.load({"a": 3})) == \
        ("one", "two", None)
    assert not list(private.rglob("*.tmp")), "atomic writes leave no temporary files"


def test_expressions_round_trip_with_their_assumptions(private):
    expr = sy.a0 * sp.exp(2 * sy.s * sy.t / sy.tau) / (sy.lam + sp.sqrt(sy.kx) * sy.rx)
    cache.store_expr({"e": 1}, expr)
    back = cache.load_expr({"e": 1})
    assert back == expr and back.free_symbols == expr.free_symbols
    assert all(s.is_positive or s.is_nonnegative for s in back.free_symbols)
    assert json.loads(_entry({"e": 1}).read_text())["value"] == to_tree(expr)


def test_an_edited_value_fails_its_checksum_and_is_regenerated(private):
    right = solution(1)
    entry = json.loads(_entry(KEY).read_text())
    assert entry["sha256"] and entry["key"] == cache.key_hash(KEY)
    wrong = to_tree(2 * sy.a0)
    for edit in ({"value": wrong}, {"key": cache.key_hash({"other": 1})}, {"sha256": "0" * 64},
                 {"sha256": "é"}, {"sha256": None}):
        _entry(KEY).write_text(json.dumps(entry | edit))
        assert cache.load(KEY) is None                       # a miss, not the edited value
        assert solution(1) == right                          # regenerated ...
        assert cache.load_expr(KEY) == right                 # ... and overwritten
    _entry(KEY).write_text(json.dumps({"sha256": entry["sha256"]} | {"value": entry["value"]}))
    assert cache.load(KEY) is None                           # no schema, no key: a miss


def test_a_malicious_entry_is_never_executed_and_the_value_is_regenerated(private, tmp_path):
    pwned = tmp_path / "PWNED"
    payload = f"__import__('os').system('touch {pwned}')"
    right = mode_solution(1, cache=False)
    for value in (payload,                                   # text where a tree belongs
                  ["Add", ["Symbol", "a0", {}], payload],    # text inside a tree
                  ["__import__", ["Symbol", "os", {}]],      # a class outside the whitelist
                  ["Integer", payload]):
        _forge(KEY, value)                                   # valid checksum, hostile value
        assert solution(1) == right
        assert not pwned.exists()
        assert cache.load_expr(KEY) == right                 # overwritten with the true form
    # the layout of earlier versions (an srepr string read by sympify) is simply a miss
    _entry(KEY).write_text(json.dumps({"hash": cache.key_hash(KEY), "value": payload}))
    assert solution(1) == right and not pwned.exists()


def test_corrupt_entries_are_recomputed_not_fatal(private):
    right = mode_solution(1, cache=False)
    for damage in ("{truncated", "", "[]", "\x00\xff", json.dumps({"value": None})):
        _entry(KEY).parent.mkdir(parents=True, exist_ok=True)
        _entry(KEY).write_text(damage)
        assert solution(1) == right
    assert cache.load_expr(KEY) == right


@pytest.mark.parametrize("where", ["", "derive"])
def test_a_cache_folder_others_can_write_is_refused_with_one_line(private, where):
    cache.store({"k": 1}, 1)
    (private / where).chmod(0o775)
    with pytest.raises(ModspecError) as err:
        cache.load({"k": 1})
    message = str(err.value)
    assert str(private / where).rstrip("/") in message and "chmod go-w" in message
    assert "0775" in message and "\n" not in message
    with pytest.raises(ModspecError):
        cache.store({"k": 2}, 2)
    (private / where).chmod(0o755)
    assert cache.load({"k": 1}) == 1                         # readable (0755) is fine


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a folder to another user needs root")
def test_a_cache_folder_of_another_user_is_refused(private):
    private.mkdir(mode=0o700)
    os.chown(private, 4242, -1)
    with pytest.raises(ModspecError, match="must belong to you .*user id 4242"):
        cache.load({"k": 1})


def test_disabled_cache_neither_reads_nor_writes_nor_checks_the_folder(private):
    cache.store({"k": 1}, "stored")
    with cache.disabled():
        assert not cache.enabled()
        assert cache.load({"k": 1}) is None
        assert cache.store({"k": 2}, "new") is False
        private.chmod(0o777)                                 # not even looked at
        assert cache.load({"k": 1}) is None
        assert solution(1) == mode_solution(1, cache=False)
    private.chmod(0o700)
    assert cache.enabled() and cache.load({"k": 2}) is None
    assert sorted(p.name for p in (private / "derive").iterdir()) == \
        [f"{cache.key_hash({'k': 1})}.json"]


def test_cache_folders_are_private_and_files_follow_the_umask(private, tmp_path):
    cache.store({"k": 1}, 1)
    for folder in (private, private / "derive"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    old = os.umask(0o022)
    try:
        for umask, mode in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
            os.umask(umask)
            out = tmp_path / f"report-{umask:o}.md"
            cache.atomic_write_text(out, "report\n")
            assert stat.S_IMODE(out.stat().st_mode) == mode   # as open(out, "w") would
            assert out.read_text() == "report\n"
    finally:
        os.umask(old)


def test_an_unwritable_cache_location_is_skipped(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(cache.ENV, str(blocker))
    assert cache.store({"k": 1}, 1) is False
    assert cache.load({"k": 1}) is None
    assert solution(1) == mode_solution(1, cache=False)
