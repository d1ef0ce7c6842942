"""Mode ODEs and their closed forms (theory.md §4.2)."""

from __future__ import annotations

import mpmath
import pytest
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


# ---------------------------------------------------------------- implicit solution t(a)
S0, LAM0, TAU0 = 1.24373, 1.375, 6.25


def _quad_time(depth, a0, a, s=S0, lam=LAM0, tau=TAU0):
    """τ ∫_{a0}^{a} da'/f(a') at 30 digits: the implicit solution's independent oracle."""
    mpmath.mp.dps = 30
    L = depth
    f = lambda x: L * x ** (2 - mpmath.mpf(2) / L) * (s - lam * x)  # noqa: E731
    return tau * mpmath.quad(lambda x: 1 / f(x), [a0, (a0 + a) / 2, a])


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 6])
def test_implicit_solution_passes_its_derivative_check_and_starts_at_zero(depth):
    T = dyn.mode_time(depth)
    assert dyn.check_time(T, depth)
    assert sp.simplify(T.subs(sy.a, a0)) == 0
    assert T.free_symbols == {sy.a, a0, tau, s, lam}


def test_a_wrong_implicit_solution_fails_the_check():
    assert not dyn.check_time(2 * dyn.mode_time(3), 3)
    assert not dyn.check_time(dyn.mode_time(3), 4)


@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("a0_value,a_value", [(1e-6, 0.3), (1e-3, 0.85), (0.5, 0.9), (2.0, 1.0)])
def test_implicit_time_equals_high_precision_quadrature(depth, a0_value, a_value):
    """t(a) at both sides of the fixed point s/λ ≈ 0.9045 (starts above decay to it)."""
    value = float(dyn.mode_time(depth).subs({s: S0, lam: LAM0, tau: TAU0, a0: a0_value,
                                             sy.a: a_value}))
    assert value == pytest.approx(float(_quad_time(depth, a0_value, a_value)), rel=1e-12)


@pytest.mark.parametrize("depth", [1, 2])
def test_implicit_time_inverts_the_closed_form(depth):
    sol, T = dyn.mode_solution(depth), dyn.mode_time(depth)
    vals = {s: S0, lam: LAM0, tau: TAU0, a0: 1e-4}
    for epoch in (0.5, 7.0, 30.0, 60.0):
        a_t = sol.subs(vals).subs(t, epoch)
        assert float(T.subs(vals).subs(sy.a, a_t)) == pytest.approx(epoch, rel=1e-10)


def test_depth_three_antiderivative_is_the_documented_one():
    w = dyn.w
    oracle = (-1 / w - sp.log(sp.Abs(1 - w)) / 3 + sp.log(w**2 + w + 1) / 6
              - sp.atan((2 * w + 1) / sp.sqrt(3)) / sp.sqrt(3))
    G = dyn.scaled_time(3)
    for x in (sp.Rational(1, 7), sp.Rational(1, 2), sp.Rational(3, 2), 4):
        assert sp.N(G.subs(w, x) - oracle.subs(w, x), 30) == pytest.approx(0, abs=1e-25)


def test_cached_antiderivative_is_reused_and_a_corrupt_entry_is_rederived(tmp_path, monkeypatch):
    from modspec.theory import cache as disk

    monkeypatch.setenv(disk.ENV, str(tmp_path))
    G = dyn.scaled_time.__wrapped__(4)                       # derives and stores
    assert sp.simplify(dyn.scaled_time.__wrapped__(4) - G) == 0
    key = {"what": "scaled_time", "depth": 4}
    disk.store_expr(key, G + dyn.w)                          # wrong derivative
    again = dyn.scaled_time.__wrapped__(4)
    assert sp.simplify(again - G) == 0
    assert sp.simplify(disk.load_expr(key) - G) == 0


@pytest.mark.parametrize("depth", [3, 4])
def test_half_rise_time_of_deep_modes_equals_quadrature(depth):
    half = dyn.half_rise_time(depth)
    for a0_value in (1e-6, 1e-2):
        value = float(half.subs({s: S0, lam: LAM0, tau: TAU0, a0: a0_value}))
        ref = float(_quad_time(depth, a0_value, S0 / LAM0 / 2))
        assert value == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("depth", [3, 4, 5, 6])
def test_small_start_half_rise_is_set_by_s_alone_beyond_depth_two(depth):
    """t½ → τ / ((L − 2) s a0^((L−2)/L)) as a0 → 0: λ drops out, depth sets the power."""
    lead = dyn.half_rise_leading(depth)
    assert sp.simplify(lead - tau / ((depth - 2) * s * a0 ** sp.Rational(depth - 2, depth))) == 0
    assert lam not in lead.free_symbols


def test_small_start_half_rise_of_shallow_and_two_layer_modes():
    assert sp.simplify(dyn.half_rise_leading(2) - tau / (2 * s) * sp.log(s / (lam * a0))) == 0
    assert sp.simplify(dyn.half_rise_leading(1) - tau * sp.log(2) / lam) == 0


@pytest.mark.parametrize("depth", [1, 2])
def test_a_stored_solution_is_accepted_only_if_it_solves_the_ode_at_sample_points(depth):
    right = dyn.mode_solution(depth, cache=False)
    assert dyn.solves_at_points(right, depth)
    for wrong in (right * (1 + sp.Rational(1, 10**7)), right + sy.t * sp.Rational(1, 1000),
                  right.subs(sy.s, 2 * sy.s), sp.Symbol("x") * right):
        assert not dyn.solves_at_points(wrong, depth)
