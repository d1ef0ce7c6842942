"""SymPy expressions as JSON trees: exact round trips, and a parser that builds nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import assume, example, given
from hypothesis import strategies as st

from modspec.theory import dynamics
from modspec.theory import symbols as sy
from modspec.theory.exprtree import MAX_DEPTH, from_tree, to_tree


def round_trip(expr: sp.Basic) -> sp.Basic:
    return from_tree(json.loads(json.dumps(to_tree(expr))))


@pytest.mark.parametrize("what", ["mode_solution 1", "mode_solution 2", "scaled_time 1",
                                  "scaled_time 2", "scaled_time 3", "scaled_time 4",
                                  "scaled_time 5"])
def test_every_expression_the_project_caches_round_trips_exactly(what):
    name, depth = what.split()
    expr = getattr(dynamics, name)(int(depth))
    back = round_trip(expr)
    assert back == expr and sp.srepr(back) == sp.srepr(expr)
    assert {s: s.assumptions0 for s in back.free_symbols} == \
        {s: s.assumptions0 for s in expr.free_symbols}


x = sp.Symbol("x", positive=True)
y = sp.Symbol("y", real=True)


@pytest.mark.parametrize("expr", [
    sp.Piecewise((x, y < 1), (sp.log(x), True)),
    sp.And(y < 1, sp.Ne(x, 2)) | sp.Eq(y, 0),
    sp.Float("0.1", 30) * x + sp.Float("-2.5e-300"),
    sp.pi * sp.E * sp.I + sp.oo - sp.EulerGamma,
    sp.Tuple(x, sp.Rational(-3, 7), sp.Integer(10) ** 40),
    sp.atan(sp.sqrt(3) * x) + sp.Abs(y - 1) + sp.exp(-x / y),
    sp.Max(x, y) + sp.Min(x, 2),
    sp.Symbol("lambda", positive=True, integer=True),
])
def test_exact_numbers_constants_and_piecewise_round_trip(expr):
    assert round_trip(expr) == expr


# small integers: SymPy decides signs of nested exp/log/Abs of huge numbers by evaluating them
# to high precision, which can take minutes per example (huge exact numbers have their own
# round-trip test above)
_leaves = st.sampled_from([sy.s, sy.lam, sy.t, sy.tau, sy.a0, sp.pi, sp.Rational(1, 3)]) | \
    st.integers(-1000, 1000).map(sp.Integer)


def _combine(children):
    two = st.tuples(children, children)
    return (two.map(lambda ab: ab[0] + ab[1]) | two.map(lambda ab: ab[0] * ab[1])
            | st.tuples(children, st.integers(-3, 3)).map(lambda be: be[0] ** be[1])
            | children.map(sp.exp) | children.map(sp.log) | children.map(sp.atan)
            | children.map(sp.Abs))


@given(st.recursive(_leaves, _combine, max_leaves=12))
@example(sp.Integer(0))
@example(-sy.s / sy.lam)
def test_any_expression_of_the_stored_kinds_round_trips_exactly(expr):
    # SymPy may evaluate a combination into a kind the cache never stores (atan(zoo) is an
    # AccumBounds interval): such an expression is refused at store time, not round-tripped
    assume(not expr.has(sp.AccumBounds))
    assert round_trip(expr) == expr


PAYLOADS = [
    "__import__('os').system('touch PWNED')",                   # text: never parsed as code
    ["__import__", ["Symbol", "os", {}]],                       # a tag outside the whitelist
    ["Function", ["Symbol", "x", {}]],
    ["Symbol", "x", {"__class__": True}],                       # assumptions are known facts
    ["Symbol", "x", {"positive": "__import__('os')"}],
    ["Integer", "__import__('os').system('touch PWNED')"],      # numbers are digit strings
    ["Rational", "1", "0"],
    ["Float", ["1", "ff", 0, 8], 53],
    ["S", "__class__"],
    ["Add", {"x": 1}],                                          # a child that is no node
    ["Pow", ["Integer", "1"]],                                  # wrong arity
    [], None, 3, {"Add": []},
]


@pytest.mark.parametrize("tree", PAYLOADS, ids=range(len(PAYLOADS)))
def test_a_crafted_tree_is_refused_and_runs_nothing(tree, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError):
        from_tree(tree)
    assert not Path("PWNED").exists()


def test_an_over_deep_tree_is_refused_and_a_huge_power_is_not_computed():
    deep: list = ["Symbol", "x", {}]
    for _ in range(MAX_DEPTH + 5):
        deep = ["exp", deep]
    with pytest.raises(ValueError, match="deeper"):
        from_tree(deep)
    huge = from_tree(["Pow", ["Integer", "10"], ["Integer", str(10**9)]])   # instant
    assert isinstance(huge, sp.Pow) and huge.exp == 10**9


def test_expressions_outside_the_tree_form_are_not_stored():
    for expr in (sp.Dummy("d"), sp.Function("f")(x), sp.Integral(x, x), "x + 1"):
        with pytest.raises(TypeError, match="cannot store"):
            to_tree(expr)
