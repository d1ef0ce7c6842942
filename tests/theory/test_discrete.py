"""Discrete-time mode dynamics: the per-epoch map derived from the layer updates of §4.1.

Oracles here (typed in the tests only): the layer map ``c + c^{L−1}(s − λc^L)/τ``, the
depth-1 solution ``s/λ + (a0 − s/λ)(1 − λ/τ)^n``, the limits ``lr < 2/(Pλ)`` (shallow) and
``lr < 1/(Ps)`` (deep), and theory.md §4.2's flow.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st

import modspec as ms
from modspec.theory import discrete as d
from modspec.theory import dynamics
from modspec.theory import symbols as sy

s, lam, tau, a0 = sy.s, sy.lam, sy.tau, sy.a0


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_layer_map_is_the_balanced_gradient_step(depth):
    L = depth
    oracle = d.c + d.c ** (L - 1) * (s - lam * d.c**L) / tau
    assert sp.expand(d.layer_map(L) - oracle) == 0
    cs, updates = d.layer_updates(L)
    assert len(cs) == len(updates) == L


def test_mode_maps_of_depth_one_and_two():
    a = d.a
    assert sp.expand(d.mode_map(1) - (a + (s - lam * a) / tau)) == 0
    assert sp.expand(d.mode_map(2) - a * (1 + (s - lam * a) / tau) ** 2) == 0


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_one_matrix_gd_step_on_aligned_balanced_weights_is_the_layer_map(depth):
    """§4.1 on D0 with W_i = c R_i R_{i−1}ᵀ along π1 (R_0 = v, R_L = u): W_i ← h(c) R_i R_{i−1}ᵀ.

    Deep modules: the other modes sit at the saddle W = 0 along their directions and stay
    there. Shallow: the other modes move too, but the π1 projection is exactly h(c).
    """
    ds = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
    mode = ms.spectrum(ds).modes[0]
    assert mode.label == "pi1"
    u, v = mode.U[:, 0], mode.V[:, 0]
    rng = np.random.default_rng(0)
    hidden = [q[:, 0] for q in (np.linalg.qr(rng.normal(size=(6, 6)))[0]
                                for _ in range(depth - 1))]
    R = [v, *hidden, u]
    c0, lr = 0.7, 0.03
    P = ds.P
    Sx, Syx = ds.X @ ds.X.T / P, ds.Y @ ds.X.T / P
    Ws = [c0 * np.outer(R[i + 1], R[i]) for i in range(depth)]

    def prod(mats):
        out = np.eye(mats[0].shape[1]) if mats else None
        for m in mats:
            out = m @ out
        return out

    W = prod(Ws)
    E = Syx - W @ Sx
    new = []
    for i in range(depth):
        above = prod(Ws[i + 1:]) if i + 1 < depth else np.eye(W.shape[0])
        below = prod(Ws[:i]) if i > 0 else np.eye(W.shape[1])
        new.append(Ws[i] + lr * P * above.T @ E @ below.T)
    h = sp.lambdify((d.c, s, lam, tau), d.layer_map(depth))
    c1 = h(c0, float(mode.s), float(mode.lam), 1 / (P * lr))
    if depth == 1:  # a shallow map also grows the other modes, each on its own (decoupled)
        rest = new[0] - c1 * np.outer(u, v)
        assert u @ new[0] @ v == pytest.approx(c1, rel=1e-13)
        np.testing.assert_allclose(np.concatenate([rest @ v, u @ rest]), 0, atol=1e-13)
        return
    for i in range(depth):
        np.testing.assert_allclose(new[i], c1 * np.outer(R[i + 1], R[i]), atol=1e-13)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_map_is_a_consistent_discretisation_of_the_flow(depth):
    assert sp.simplify(d.flow_limit(depth) - dynamics.mode_rhs(depth, d.a)) == 0


def test_fixed_points_are_the_flows_with_map_stability():
    shallow = d.fixed_points(1)
    assert [f.value for f in shallow] == [s / lam]
    assert sp.simplify(shallow[0].slope - (1 - lam / tau)) == 0
    zero, star = d.fixed_points(2)
    assert zero.value == 0 and zero.stable == sp.false
    assert sp.simplify(star.value - s / lam) == 0
    assert sp.simplify(star.slope - (1 - 2 * s / tau)) == 0
    assert star.stable == (tau > s)
    zero3 = d.fixed_points(3)[0]
    assert zero3.value == 0 and zero3.slope == 1 and zero3.stable == sp.false


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_learning_rate_limit_is_derived(depth):
    lim = d.stability_limit(depth)
    L = depth
    if L == 1:
        assert sp.simplify(lim.lr_max - 2 / (d.P * lam)) == 0
    if L == 2:
        assert sp.simplify(lim.lr_max - 1 / (d.P * s)) == 0
    general = 2 / (d.P * L * lam * (s / lam) ** (2 - sp.Rational(2, L)))
    assert sp.simplify(lim.lr_max - general) == 0
    assert sp.simplify(lim.tau_monotone - 2 * lim.tau_min) == 0


def test_depth_one_rsolve_solution_is_the_oracle():
    sol = d.discrete_solution(1)
    oracle = s / lam + (a0 - s / lam) * (1 - lam / tau) ** d.n
    assert sp.simplify(sol - oracle) == 0


@given(s_=st.floats(0.05, 3), lam_=st.floats(0.05, 3), a0_=st.floats(1e-8, 2),
       tau_=st.floats(0.6, 50))
@example(s_=1.2437, lam_=1.375, a0_=7e-7, tau_=6.25)     # D0 π1 at lr 0.02
@example(s_=1.0, lam_=1.0, a0_=1.0, tau_=1.0)            # one step lands on s/λ
def test_rsolve_closed_form_equals_the_iterated_map(s_, lam_, a0_, tau_):
    if tau_ <= lam_ / 2:     # stay inside the stability region (tested separately)
        tau_ = lam_
    closed = _closed_depth1()
    g = _map_depth1()
    a = a0_
    for k in range(60):
        ref = closed(k, s_, lam_, a0_, tau_)
        assert a == pytest.approx(ref, rel=1e-9, abs=1e-12 * (s_ / lam_))
        a = g(a, s_, lam_, tau_)


def test_closed_form_symbolically_equals_the_first_iterates():
    sol, g = d.discrete_solution(1), d.mode_map(1)
    a = a0
    for k in range(5):
        assert sp.simplify(sol.subs(d.n, k) - a) == 0
        a = g.subs(d.a, a)


def test_continuous_closed_form_is_the_limit_of_small_learning_rate():
    """n = t epochs, τ → ∞ at fixed t/τ: the rsolve solution tends to the flow's closed form."""
    lim = d.continuous_limit(1)
    assert sp.simplify(lim - dynamics.mode_solution(1)) == 0
    assert d.continuous_limit(2) is None


@pytest.mark.parametrize("depth", [2, 3])
def test_no_closed_form_for_depth_two_and_more(depth):
    assert d.discrete_solution(depth) is None


def test_lag_per_epoch_of_the_deep_map():
    """Early on (a → 0) the deep map grows by (1 + s/τ)² instead of e^{2s/τ}: lag −a s²/τ²."""
    lag = d.lag_order(2)
    lead = sp.limit(lag / d.a, d.a, 0)
    assert sp.simplify(lead + s**2 / tau**2) == 0
    assert sp.simplify(d.lag_order(1) - lam * (s - lam * d.a) / (2 * tau**2)) == 0


def _closed_depth1():
    return sp.lambdify((d.n, s, lam, a0, tau), d.discrete_solution(1))


def _map_depth1():
    return sp.lambdify((d.a, s, lam, tau), d.mode_map(1))
