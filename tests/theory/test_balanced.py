"""Per-mode dynamics from a λ-balanced start (issue 22): the SymPy-derived ODE, layer strengths
and t(a) against the issue's formulas (oracles), an ODE solver and the matrix solution."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from modspec.theory import balanced as bal
from modspec.theory import symbols as sy


def test_mode_ode_and_fixed_layer_strengths_are_the_published_ones():
    assert sp.simplify(bal.mode_ode() - sp.sqrt(bal.ell**2 + 4 * sy.a**2) * (sy.s - sy.a)) == 0
    b1sq, b2sq = bal.layer_strengths()
    root = sp.sqrt(bal.ell**2 + 4 * sy.s**2)
    assert sp.simplify(b1sq - (root - bal.ell) / 2) == 0
    assert sp.simplify(b2sq - (root + bal.ell) / 2) == 0
    assert sp.simplify(b2sq - b1sq - bal.ell) == 0
    assert sp.simplify(b1sq * b2sq - sy.s**2) == 0


_t = sp.lambdify((sy.a, sy.a0, sy.s, bal.ell, sy.tau), bal.time_to_reach(), "numpy")


@settings(max_examples=25, deadline=None)
@given(lam=st.floats(-20, 20).filter(lambda v: abs(v) > 1e-3), s=st.floats(0.2, 5),
       a0_frac=st.floats(1e-3, 0.9), tau=st.floats(0.5, 4))
@example(lam=1.0, s=2.0, a0_frac=1e-3, tau=1.0)
@example(lam=-10.0, s=0.5, a0_frac=0.5, tau=2.0)
def test_time_to_reach_inverts_the_integrated_mode_ode(lam, s, a0_frac, tau):
    a0 = a0_frac * s

    def rhs(_, a):
        return np.sqrt(lam**2 + 4 * a**2) * (s - a) / tau

    t_end = float(_t(a0 + 0.95 * (s - a0), a0, s, lam, tau))
    ts = np.linspace(0, t_end, 6)
    sol = solve_ivp(rhs, (0, t_end), [a0], t_eval=ts, method="DOP853", rtol=1e-12, atol=1e-14)
    back = _t(sol.y[0, 1:], a0, s, lam, tau)
    np.testing.assert_allclose(back, ts[1:], rtol=1e-7)


def test_rich_limit_is_the_logistic_and_the_small_lambda_limit_of_t():
    t_rich = bal.time_to_reach_rich()
    vals = {sy.a: 1.0, sy.a0: 1e-3, sy.s: 2.0, sy.tau: 1.5}
    assert float(t_rich.subs(vals)) == pytest.approx(
        1.5 / (2 * 2.0) * np.log(1.0 / 1e-3 * (2.0 - 1e-3) / (2.0 - 1.0)), rel=1e-12)
    small = float(bal.time_to_reach().subs(vals).subs(bal.ell, 1e-7))
    assert small == pytest.approx(float(t_rich.subs(vals)), rel=1e-6)
    assert float(bal.half_rise_time(0).subs(vals)) == pytest.approx(
        float(t_rich.subs(vals).subs(sy.a, 1.0)), rel=1e-12)


def test_lazy_limit_is_the_exponential_relaxation_at_large_lambda():
    lazy = sp.lambdify((sy.t, sy.a0, sy.s, bal.ell, sy.tau), bal.lazy_limit(), "numpy")
    lam, s, a0 = 1e4, 1.5, 0.2
    for a in (0.5, 1.0, 1.4):
        t = float(_t(a, a0, s, lam, 1.0))
        assert lazy(t, a0, s, lam, 1.0) == pytest.approx(a, rel=1e-7)


@pytest.mark.parametrize("lam", [-1.0, 0.5, 3.0])
def test_aligned_matrix_solution_follows_the_mode_solution(lam):
    from modspec.numerics.riccati import solve_balanced

    s = np.array([2.0, 0.7])
    b1 = np.array([0.1, 0.05]) if lam >= 0 else np.sqrt(np.array([0.1, 0.05]) ** 2 - lam)
    b2 = np.sqrt(b1**2 + lam)
    sol = solve_balanced(np.diag(s), np.diag(b1), np.diag(b2), np.linspace(0, 3, 7), tau=1.0)
    for i in range(2):
        a = sol.maps[:, i, i]
        a0 = b1[i] * b2[i]
        np.testing.assert_allclose(_t(a[1:], a0, s[i], lam, 1.0), sol.t[1:], rtol=1e-8)
    late = solve_balanced(np.diag(s), np.diag(b1), np.diag(b2), [200.0], tau=1.0)
    b1sq, _ = bal.layer_strengths()
    for i in range(2):
        want = float(b1sq.subs({sy.s: s[i], bal.ell: lam}))
        assert late.gram_in[0][i, i] == pytest.approx(want, rel=1e-9)


_half = sp.lambdify((sy.a0, sy.s, bal.ell, sy.tau), bal.half_rise_time(), "numpy")
_half_rich = sp.lambdify((sy.a0, sy.s, sy.tau), bal.half_rise_time(0), "numpy")


@pytest.mark.parametrize("lam", [-5.0, -0.3, 0.0, 0.5, 10.0])
def test_half_rise_time_is_when_the_integrated_mode_reaches_half(lam):
    s, a0, tau = 1.7, 0.01, 1.3
    t_half = float(_half_rich(a0, s, tau) if lam == 0 else _half(a0, s, lam, tau))

    def rhs(_, a):
        return np.sqrt(lam**2 + 4 * a**2) * (s - a) / tau

    sol = solve_ivp(rhs, (0, t_half), [a0], method="DOP853", rtol=1e-12, atol=1e-14)
    assert sol.y[0, -1] == pytest.approx(s / 2, rel=1e-9)


@pytest.mark.parametrize("lam", [-2.0, 0.0, 0.7, 6.0])
def test_layers_of_the_mode_flow_converge_to_the_derived_fixed_strengths(lam):
    s = 1.4
    b1_0 = np.sqrt(0.01 + max(-lam, 0.0))
    y0 = [b1_0, np.sqrt(b1_0**2 + lam)]

    def rhs(_, b):
        return [b[1] * (s - b[0] * b[1]), b[0] * (s - b[0] * b[1])]

    end = solve_ivp(rhs, (0, 60), y0, method="DOP853", rtol=1e-12, atol=1e-14).y[:, -1]
    b1sq, b2sq = (float(e.subs({sy.s: s, bal.ell: lam})) for e in bal.layer_strengths())
    assert end[0]**2 == pytest.approx(b1sq, rel=1e-9, abs=1e-12)
    assert end[1]**2 == pytest.approx(b2sq, rel=1e-9)


def test_half_rise_time_tends_to_the_lazy_and_rich_limits():
    s, a0, tau = 2.0, 0.05, 1.0
    for lam in (1e4, -1e4):                  # lazy: a = s + (a0 − s) e^{−|λ| t/τ}
        lazy = tau / abs(lam) * np.log((s - a0) / (s / 2))
        assert float(_half(a0, s, lam, tau)) == pytest.approx(lazy, rel=1e-3)
    rich = float(_half_rich(a0, s, tau))      # rich: the logistic's half-rise
    assert rich == pytest.approx(tau / (2 * s) * np.log((s - a0) / a0), rel=1e-12)
    assert float(_half(a0, s, 1e-6, tau)) == pytest.approx(rich, rel=1e-6)
