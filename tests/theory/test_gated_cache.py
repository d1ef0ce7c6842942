"""The on-disk cache of gated derivations: round trips, damaged and wrong entries recomputed,
nothing read outside the network's own symbols."""

from __future__ import annotations

import json

import pytest
import sympy as sp

from modspec.theory import cache
from modspec.theory import gated_flow as gf
from modspec.theory.gated import Edge, Gate, GatedNetwork, Layer
from modspec.theory.gated_cache import (
    cached_exprs,
    matrix_from_tree,
    matrix_to_tree,
    network_key,
)


def _network(gate=(1, 0)):
    return GatedNetwork((Layer("x", 2), Layer("h", 3), Layer("y", 2)),
                        (Edge("A", "x", "y"), Edge("W1", "x", "h"), Edge("W2", "h", "y")),
                        (Gate("A", "item", gate),))


@pytest.fixture()
def fresh(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "c"))
    gf._derive.cache_clear()
    yield tmp_path / "c"
    gf._derive.cache_clear()


def _entries(folder):
    return sorted((folder / "derive").glob("*.json"))


def _derived(network):
    gf._derive.cache_clear()
    with cache.disabled():
        return gf.gated_flow(network).rhs


def test_the_flow_round_trips_through_the_disk_cache(fresh):
    net = _network()
    first = gf.gated_flow(net).rhs
    assert len(_entries(fresh)) == 1
    gf._derive.cache_clear()
    again = gf.gated_flow(net).rhs            # read back from disk
    truth = _derived(net)
    for e in truth:
        assert again[e] == truth[e] == first[e]
        assert again[e].shape == truth[e].shape


def test_a_damaged_or_foreign_entry_is_recomputed_and_overwritten(fresh):
    net = _network()
    truth = _derived(net)
    gf._derive.cache_clear()
    gf.gated_flow(net)
    (path,) = _entries(fresh)
    path.write_text(path.read_text()[:-20])          # truncated: not JSON
    gf._derive.cache_clear()
    got = gf.gated_flow(net).rhs
    assert all(got[e] == truth[e] for e in truth)
    assert json.loads(path.read_text())["value"]     # rewritten whole
    # a correctly signed entry naming a symbol the network does not have: a miss
    key = {"gated": "flow", "schema": 1, "network": network_key(net)}
    cache.store(key, {e: ["M", "evil"] for e in ("A", "W1", "W2")})
    gf._derive.cache_clear()
    got = gf.gated_flow(net).rhs
    assert all(got[e] == truth[e] for e in truth)


def test_the_key_holds_the_gates():
    assert network_key(_network((1, 0))) != network_key(_network((0, 1)))
    assert network_key(_network((1, 0)))["gates"] == [["A", "item", ["1", "0"]]]


def test_matrix_trees_refuse_unknown_names_and_tags():
    A = sp.MatrixSymbol("A", 2, 2)
    expr = sp.Rational(-1, 2) * A.T * A + A
    tree = matrix_to_tree(expr)
    assert matrix_from_tree(tree, {"A": A}) == expr
    for bad in (["M", "B"], ["Eval", "1"], "A", ["MatMul"], ["S", ["Symbol"]]):
        with pytest.raises(ValueError):
            matrix_from_tree(bad, {"A": A})


def test_scalar_systems_round_trip_and_a_stray_symbol_is_a_miss(fresh):
    b, c = sp.symbols("b c")
    calls = []

    def compute():
        calls.append(1)
        return [sp.Tuple(b ** 2 - c), sp.Tuple(2 * b)]

    first = cached_exprs("k", compute, {b, c})
    assert cached_exprs("k", compute, {b, c}) == first and len(calls) == 1
    assert cached_exprs("k", compute, {b}) == first and len(calls) == 2   # c not allowed


def test_a_mode_system_read_back_equals_the_derived_one(fresh):
    import numpy as np

    from modspec.numerics import gated_race
    from modspec.theory.gated_data import GatedData, gated_statistics
    from modspec.theory.gated_modes import pathway_modes

    net = GatedNetwork((Layer("x", 1), Layer("h", 1), Layer("y", 1)),
                       (Edge("V", "x", "y"), Edge("W1", "x", "h"), Edge("W2", "h", "y")))
    data = GatedData({"x": [[1]]}, {"y": [[2]]})
    modes = pathway_modes(gf.gated_flow(net), gated_statistics(net, data))
    systems = []
    for _ in range(2):
        gated_race.mode_system.cache_clear()
        systems.append(gated_race.mode_system(modes, 0))
    with cache.disabled():
        gated_race.mode_system.cache_clear()
        systems.append(gated_race.mode_system(modes, 0))
    gated_race.mode_system.cache_clear()
    b = np.array([0.3, -0.2, 0.5])
    for s in systems[:2]:
        assert s.conserved == systems[2].conserved
        np.testing.assert_array_equal(s.jac(*b), systems[2].jac(*b))
        np.testing.assert_array_equal(s.dq(*b), systems[2].dq(*b))
