"""Kunin's single neuron y = a·wᵀx from any start (issue 22): the flow derived from the loss
conserves δ = a² − ‖w‖², the closed form equals an ODE solver of the full flow (1e-10) for
δ < 0, = 0, > 0, whitened and non-whitened inputs, fixed points, half-rise times, and the
lazy (|δ| → ∞) and rich (δ → 0) limits."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from modspec.numerics.neuron import neuron_half_rise, solve_neuron
from modspec.theory import balanced as bal
from modspec.theory import neuron as nr
from modspec.theory import symbols as sy
from modspec.theory.errors import ModspecError


def _flow(sigma_x, b, a0, w0, ts, tau=1.0):
    def rhs(_, y):
        r = b - y[0] * sigma_x @ y[1:]
        return np.concatenate([[y[1:] @ r], y[0] * r]) / tau

    sol = solve_ivp(rhs, (0, ts[-1]), np.concatenate([[a0], w0]), t_eval=ts,
                    method="DOP853", rtol=1e-13, atol=1e-15)
    return sol.y[0], sol.y[1:].T


def test_flow_from_the_loss_conserves_the_imbalance_and_is_the_riccati_form():
    rates = nr.flow()
    assert sp.expand(rates[2] - nr.v * (sy.s * nr.w1 - nr.a * (nr.w1**2 + nr.w2**2))) == 0
    assert nr.riccati_form() is True
    sol = nr.solution()                       # checked against the flow when derived
    assert set(sol) == {"w1", "w2", "a", "beta_par", "beta_perp"}


@pytest.mark.parametrize("imbalance", [-0.7, 0.0, 0.7])
@pytest.mark.parametrize("whitened", [True, False])
def test_closed_form_equals_the_integrated_flow(imbalance, whitened):
    rng = np.random.default_rng(3)
    d = 4
    if whitened:
        sigma_x = np.eye(d)
        b, w0 = rng.normal(size=d), 0.5 * rng.normal(size=d)
    else:                                     # b and w0 in the 2-D eigenspace of variance 2.5
        sigma_x = np.diag([2.5, 2.5, 0.4, 1.3])
        b = np.array([0.8, -1.1, 0.0, 0.0])
        w0 = np.array([0.6, 0.9, 0.0, 0.0])
    a0 = np.sqrt(w0 @ w0 + imbalance)
    ts = np.linspace(0, 6, 13)
    sol = solve_neuron(sigma_x, b, a0, w0, ts, tau=1.5)
    a, w = _flow(sigma_x, b, a0, w0, ts, tau=1.5)
    assert sol.delta == pytest.approx(imbalance, abs=1e-14)
    np.testing.assert_allclose(sol.a, a, atol=1e-10)
    np.testing.assert_allclose(sol.w, w, atol=1e-10)
    np.testing.assert_allclose(sol.a**2 - np.sum(sol.w**2, axis=1), imbalance, atol=1e-12)


def test_a_start_outside_one_eigenspace_of_sigma_x_is_refused():
    with pytest.raises(ModspecError, match="eigenspace"):
        solve_neuron(np.diag([1.0, 2.0]), np.array([1.0, 1.0]), 0.1, np.array([0.1, 0.0]), [1])


def test_single_neuron_is_the_one_unit_riccati_solution_and_ends_at_its_fixed_point():
    from modspec.numerics.riccati import solve_balanced

    b = np.array([1.2, -0.4, 0.3])
    w0, a0 = np.array([0.1, 0.5, -0.2]), -0.3
    sol = solve_neuron(np.eye(3), b, a0, w0, [0.0, 2.0, 400.0])
    ric = solve_balanced(b[None, :], w0[None, :], np.array([[a0]]), [0.0, 2.0, 400.0])
    np.testing.assert_allclose(sol.beta, ric.maps[:, 0, :], atol=1e-12)
    s, delta = np.linalg.norm(b), sol.delta
    fixed = [fp for fp in nr.fixed_points() if fp[nr.w2] == 0]
    a_end = [float(fp[nr.a].subs({nr.delta: delta, sy.s: s})) for fp in fixed]
    assert sol.a[-1] == pytest.approx(min(a_end, key=lambda x: abs(x - sol.a[-1])), rel=1e-10)
    assert sol.a[-1]**2 == pytest.approx((np.sqrt(delta**2 + 4 * s**2) + delta) / 2, rel=1e-10)
    np.testing.assert_allclose(sol.beta[-1], b, atol=1e-10)


def test_fixed_points_are_the_published_ones_with_saddles_only_for_negative_imbalance():
    root = sp.sqrt(nr.delta**2 + 4 * sy.s**2)
    a_sq = {sp.simplify(fp[nr.a]**2) for fp in nr.fixed_points()}
    assert any(sp.simplify(x - (root + nr.delta) / 2) == 0 for x in a_sq)
    saddles = [fp for fp in nr.fixed_points() if fp[nr.a] == 0]
    assert saddles and all(sp.simplify(fp[nr.w2]**2 + nr.delta) == 0 for fp in saddles)
    for fp in nr.fixed_points():               # real for some δ, never both signs of a² < 0
        assert all(sp.simplify(r.subs({nr.w1: fp[nr.w1], nr.w2: fp[nr.w2], nr.a: fp[nr.a]}))
                   == 0 for r in nr.flow())


@settings(max_examples=15, deadline=None)
@given(imbalance=st.floats(-4, 4), s=st.floats(0.3, 3), frac=st.floats(1e-3, 0.3),
       tau=st.floats(0.5, 3))
@example(imbalance=0.0, s=1.0, frac=1e-3, tau=1.0)
@example(imbalance=-4.0, s=0.3, frac=0.3, tau=2.0)
def test_half_rise_time_is_when_the_aligned_flow_reaches_half(imbalance, s, frac, tau):
    # aligned start with β0 = a0 w10 = frac·s/2 and a0² − w10² = δ
    beta0 = frac * s / 2
    w10 = np.sqrt((np.sqrt(imbalance**2 + 4 * beta0**2) - imbalance) / 2)
    a0 = beta0 / w10
    t_half = neuron_half_rise(s, a0, w10, tau)
    sol = solve_neuron(np.eye(2), np.array([s, 0.0]), a0, np.array([w10, 0.0]), [t_half], tau)
    assert sol.beta[0, 0] == pytest.approx(s / 2, rel=1e-9)
    per_mode = bal.half_rise_time(0 if imbalance == 0 else imbalance)
    want = float(per_mode.subs({sy.s: s, sy.a0: beta0, sy.tau: tau}).evalf(30))
    assert t_half == pytest.approx(want, rel=1e-8)


def test_lazy_limit_relaxes_exponentially_and_rich_limit_is_the_logistic():
    s, beta0, tau = 1.5, 0.2, 1.0
    for imbalance in (-1e4, 1e4):             # lazy: β = s + (β0 − s) e^{−|δ| t/τ}
        w10 = np.sqrt((np.sqrt(imbalance**2 + 4 * beta0**2) - imbalance) / 2)
        ts = np.array([0.0, 1e-4, 3e-4])
        sol = solve_neuron(np.eye(2), np.array([s, 0.0]), beta0 / w10, np.array([w10, 0.0]),
                           ts, tau)
        lazy = s + (beta0 - s) * np.exp(-abs(imbalance) * ts / tau)
        np.testing.assert_allclose(sol.beta[:, 0], lazy, rtol=1e-3)
    a0 = 1e-3                                 # rich: δ = 0, β0 = a0²
    ts = np.linspace(0, 5, 6)
    sol = solve_neuron(np.eye(2), np.array([s, 0.0]), a0, np.array([a0, 0.0]), ts, tau)
    logistic = s / (1 + (s / a0**2 - 1) * np.exp(-2 * s * ts / tau))
    np.testing.assert_allclose(sol.beta[:, 0], logistic, rtol=1e-10)
