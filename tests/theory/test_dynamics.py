"""Mode ODEs and their closed forms (theory.md §4.2)."""

from __future__ import annotations

import sympy as sp

from modspec.theory import dynamics as dyn
from modspec.theory import symbols as sy

t, tau, a0, s, lam = sy.t, sy.tau, sy.a0, sy.s, sy.lam


def test_deep_closed_form_equals_the_theory_sigmoid():
    oracle = (s / lam) / (1 - (1 - s / (lam * a0)) * sp.exp(-2 * s * t / tau))
    assert sp.simplify(dyn.mode_solution(2) - oracle) == 0


def test_shallow_closed_form_equals_the_theory_exponential():
    oracle = (s / lam) * (1 - sp.exp(-lam * t / tau)) + a0 * sp.exp(-lam * t / tau)
    assert sp.simplify(dyn.mode_solution(1) - oracle) == 0


def test_closed_forms_start_at_a0_and_converge_to_the_fixed_point():
    for depth in (1, 2):
        sol = dyn.mode_solution(depth)
        assert dyn.check_solution(sol, depth)
        assert sp.simplify(sol.subs(t, 0) - a0) == 0
        assert sp.simplify(sp.limit(sol, t, sp.oo) - s / lam) == 0


def test_deeper_modules_have_no_elementary_closed_form():
    assert dyn.mode_solution(3) is None
    assert dyn.mode_ode(3).rhs.has(sp.Rational(4, 3))


def test_fixed_points_and_their_stability():
    deep = dyn.fixed_points(2)
    assert [(fp.value, fp.stable) for fp in deep] == [(0, False), (s / lam, True)]
    shallow = dyn.fixed_points(1)
    assert [(fp.value, fp.stable) for fp in shallow] == [(s / lam, True)]
    assert [fp.stable for fp in dyn.fixed_points(3)] == [False, True]


def test_deep_half_rise_time_is_set_by_s_and_shallow_by_lambda():
    deep = dyn.half_rise_time(2)
    assert sp.simplify(deep - tau / (2 * s) * sp.log(s / (lam * a0) - 1)) == 0
    shallow = dyn.half_rise_time(1)
    assert shallow.free_symbols >= {lam} and sp.limit(shallow, a0, 0) == tau * sp.log(2) / lam
