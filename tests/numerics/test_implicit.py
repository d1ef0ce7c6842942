"""Deep modes from the inverted implicit solution t(a) (numerics/implicit.py)."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

import modspec as ms
from modspec.numerics.implicit import mode_strengths
from modspec.numerics.integrate import integrate_modes
from modspec.theory import architectures as arch
from modspec.theory import dynamics
from modspec.theory.errors import ModspecError

S, LAM, TAU = 1.24373, 1.375, 6.25
T = np.linspace(0.0, 400.0, 81)


def _exact(depth, t, tau, a0, s, lam, dps=50):
    """a(t) at ``dps`` digits: solve G(w) = G(w0) + t·s/τ·(s/λ)^((L−2)/L) with mpmath."""
    mpmath.mp.dps = dps
    L = depth
    G = sp.lambdify(dynamics.w, dynamics.scaled_time(L), "mpmath")
    s, lam, a0, tau, t = (mpmath.mpf(v) for v in (s, lam, a0, tau, t))
    w0 = (lam * a0 / s) ** (mpmath.mpf(1) / L)
    if w0 == 1 or t == 0:
        return float(a0)
    target = G(w0) + t * s / tau * (s / lam) ** (mpmath.mpf(L - 2) / L)
    if w0 < 1:
        def w_of(x):
            return 1 / (1 + mpmath.exp(-x))
        lo = mpmath.log(w0 / (1 - w0))
    else:
        def w_of(x):
            return 1 + mpmath.exp(-x)
        lo = -mpmath.log(w0 - 1)
    hi = mpmath.mpf(100)                  # 1 − w ≈ e^−100: a = s/λ to 40 digits
    if G(w_of(hi)) <= target:
        return float(s / lam)
    for _ in range(400):                  # bisection: slow, simple and sure
        mid = (lo + hi) / 2
        if G(w_of(mid)) < target:
            lo = mid
        else:
            hi = mid
        if hi - lo < mpmath.mpf(10) ** (-30) * (1 + abs(lo)):
            break
    return float(s / lam * w_of((lo + hi) / 2) ** L)


@settings(max_examples=40, deadline=None)
@given(t=st.floats(0, 1e7), a0=st.floats(1e-300, 10.0), s=st.floats(0.01, 5.0),
       lam=st.floats(0.01, 5.0), tau=st.floats(0.1, 100.0), depth=st.sampled_from([2, 3, 4]))
@example(t=1e7, a0=1e-300, s=S, lam=LAM, tau=TAU, depth=3)
@example(t=5e100, a0=1e-300, s=S, lam=LAM, tau=TAU, depth=3)          # mid-rise from 1e-300
@example(t=0.0, a0=1e-300, s=S, lam=LAM, tau=TAU, depth=4)
@example(t=1e-12, a0=1e-6, s=S, lam=LAM, tau=TAU, depth=3)
@example(t=40.0, a0=1e-3, s=S, lam=LAM, tau=TAU, depth=3)             # steepest part
@example(t=1e7, a0=10.0, s=0.2165, lam=0.375, tau=TAU, depth=3)       # from above a*
@example(t=3.0, a0=S / LAM, s=S, lam=LAM, tau=TAU, depth=3)            # at a*
def test_inverted_implicit_solution_matches_mpmath(t, a0, s, lam, tau, depth):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = float(mode_strengths(depth, t, s, lam, a0, tau))
    want = _exact(depth, t, tau, a0, s, lam)
    assert np.isfinite(got)
    assert abs(got - want) <= 1e-11 * abs(want)


def test_depth_two_inversion_equals_the_closed_form_sigmoid():
    a0 = np.array([1e-9, 7e-7, 0.3, 2.0])
    got = mode_strengths(2, T, S, LAM, a0, TAU)                         # shape (4, 81)
    closed = (S / LAM) / (1 + (S / (LAM * a0[:, None]) - 1) * np.exp(-2 * S * T / TAU))
    np.testing.assert_allclose(got, closed, rtol=1e-13)


@pytest.mark.parametrize("depth", [3, 4, 5])
def test_inversion_agrees_with_the_integrated_mode_ode(depth):
    """Two independent routes for L > 2: inverted t(a) and solve_ivp (relative 1e-8).

    Radau: near the fixed point DOP853's dense output wanders by ~1e-7 at depth 5, where the
    inverted solution agrees with the 50-digit one to round-off."""
    a0 = np.array([1e-4, 1e-2, 0.5, 1.6])
    got = mode_strengths(depth, T, S, LAM, a0[:, None], TAU)[:, 0]
    ode = integrate_modes(depth, T, S, LAM, a0[:, None], TAU, rtol=1e-12, method="Radau")[:, 0]
    np.testing.assert_allclose(got, ode, rtol=1e-8)


def test_shapes_broadcast_and_a_vector_of_times_equals_a_loop():
    lam = np.array([1.0, 1.375, 2.0])
    t = np.array([[0.0, 10.0], [100.0, 1e4]])
    got = mode_strengths(3, t, S, lam, 1e-3, TAU)
    assert got.shape == (3, 2, 2)
    for i, lv in enumerate(lam):
        for j in np.ndindex(t.shape):
            assert got[(i, *j)] == mode_strengths(3, t[j], S, lv, 1e-3, TAU)


def test_trajectories_rise_monotonically_from_a0_to_the_fixed_point():
    t = np.concatenate([[0.0], np.geomspace(1e-6, 1e7, 400)])
    for depth in (3, 4):
        a = mode_strengths(depth, t, S, LAM, np.array([1e-300, 1e-6, 5.0]), TAU)
        assert np.all(np.isfinite(a))
        np.testing.assert_array_equal(a[:, 0], [1e-300, 1e-6, 5.0])
        assert np.all(np.diff(a[:2], axis=1) >= 0) and np.all(np.diff(a[2]) <= 0)
        np.testing.assert_allclose(a[1:, -1], S / LAM, rtol=1e-15)


def test_predicted_half_rise_of_a_depth_three_network_equals_the_derived_time():
    D0 = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
    th = ms.derive(D0, arch.dense(3))
    f = ms.compile(th)
    for key, half in th.half_rise_times.items():
        t_half = float(half.subs({ms.theory.symbols.tau: TAU, ms.theory.symbols.a0: 1e-3}))
        a = f([t_half], lr=0.02, a0=1e-3).modes[key][0]
        assert a == pytest.approx(float(th.modes[key].fixed_point) / 2, rel=1e-12)


def test_bad_input_names_the_parameter():
    with pytest.raises(ModspecError, match="a0"):
        mode_strengths(3, T, S, LAM, 0.0, TAU)
    with pytest.raises(ModspecError, match="t"):
        mode_strengths(3, [-1.0], S, LAM, 1e-3, TAU)
