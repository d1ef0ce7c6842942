"""solve_ivp with generated right-hand sides and Jacobians: modes and the matrix flow."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

import modspec as ms
from modspec.numerics.integrate import (
    _pack,
    converged_map,
    flow_system,
    integrate_flow,
    integrate_modes,
)
from modspec.numerics.simulate import initial_weights
from modspec.theory import architectures as arch
from modspec.theory.dynamics import mode_rhs
from modspec.theory.errors import ModspecError

D0 = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
T = np.linspace(0.0, 300.0, 61)
S, LAM, TAU = 3 * np.sqrt(11) / 8, 11 / 8, 6.25


def _deep(a0, t=T, s=S, lam=LAM, tau=TAU):
    return (s / lam) / (1 + (s / (lam * a0) - 1) * np.exp(-2 * s * t / tau))


@pytest.mark.parametrize("method", ["DOP853", "Radau"])
def test_integrated_modes_agree_with_the_closed_forms(method):
    a0 = np.array([1e-9, 1e-6, 0.3, 2.0])
    deep = integrate_modes(2, T, S, LAM, a0[:, None], TAU, method=method)[:, 0]
    np.testing.assert_allclose(deep, _deep(a0[:, None]), rtol=1e-8)
    shallow = integrate_modes(1, T, S, LAM, a0[:, None], TAU, method=method)[:, 0]
    ref = -(S / LAM) * np.expm1(-LAM * T / TAU) + a0[:, None] * np.exp(-LAM * T / TAU)
    np.testing.assert_allclose(shallow, ref, rtol=1e-8)


def test_depth_three_modes_satisfy_the_separable_solution():
    """No closed form for L = 3: check t(a) = τ ∫_{a0}^{a} da'/f(a') by quadrature."""
    a0 = 1e-3
    a = integrate_modes(3, T, S, LAM, a0, TAU)
    import sympy as sp

    from modspec.theory import symbols as sy

    f = sp.lambdify(sy.a, mode_rhs(3).subs({sy.s: S, sy.lam: LAM}))
    checked = 0
    for t, value in zip(T[1:], a[1:], strict=True):
        if value > 0.9 * S / LAM:        # t(a) is log-singular at the fixed point: stop there
            break
        checked += 1
        elapsed = TAU * quad(lambda x: 1 / f(x), a0, value, epsabs=0, epsrel=1e-12)[0]
        assert elapsed == pytest.approx(t, rel=1e-8)
    assert checked >= 5
    assert a[-1] == pytest.approx(S / LAM, rel=1e-8)


def test_generated_flow_jacobian_matches_finite_differences():
    system = flow_system(D0, arch.leaky(3), lr=0.02, hidden=4)
    init = initial_weights(D0, arch.leaky(3), hidden=4, init_std=0.3, seed=1)
    y = _pack(init)[0]
    J = system.jac(0.0, y)
    eps = 1e-6
    fd = np.stack([(system.rhs(0, y + eps * e) - system.rhs(0, y - eps * e)) / (2 * eps)
                   for e in np.eye(y.size)], axis=1)
    np.testing.assert_allclose(J, fd, atol=1e-8 * np.abs(J).max())


def _aligned_init(a0, hidden=10):
    """Balanced, aligned weights: W1 = Σ √a0 r_k v_kᵀ, W2 = Σ √a0 u_k r_kᵀ."""
    th = ms.derive(D0, arch.dense())
    U = np.hstack([m.U for m in th.modes.values()])
    V = np.hstack([m.V for m in th.modes.values()])
    R = np.linalg.qr(np.random.default_rng(0).normal(size=(hidden, U.shape[1])))[0]
    return [[(np.sqrt(a0) * R @ V.T)[None], (np.sqrt(a0) * U @ R.T)[None]]]


def test_matrix_flow_from_aligned_balanced_weights_is_the_closed_form():
    a0 = 1e-4
    flow = integrate_flow(D0, arch.dense(), T, 0.02, _aligned_init(a0, hidden=8),
                          rtol=1e-12, atol=1e-16)
    th = ms.derive(D0, arch.dense())
    for k, m in th.modes.items():
        ref = _deep(a0, s=float(m.s), lam=float(m.lam))
        np.testing.assert_allclose(flow.modes[k][0], ref, rtol=1e-8)


def test_implicit_integrator_with_generated_jacobian_agrees():
    init = initial_weights(D0, arch.leaky(), hidden=3, init_std=0.2, seed=2)
    t = np.linspace(0.0, 60.0, 7)
    ref = integrate_flow(D0, arch.leaky(), t, 0.02, init, rtol=1e-11)
    imp = integrate_flow(D0, arch.leaky(), t, 0.02, init, method="Radau", rtol=1e-9,
                         atol=1e-12)
    for q in ref.quadrant_norms:
        np.testing.assert_allclose(imp.quadrant_norms[q], ref.quadrant_norms[q], rtol=1e-6,
                                   atol=1e-9)


def test_converged_map_reaches_w_star_and_leaky_is_not_systematic():
    th = ms.derive(D0, arch.dense())
    W = converged_map(D0, arch.dense(), init_std=1e-4, hidden=12)
    np.testing.assert_allclose(W, th.converged_map(), atol=1e-3)
    leak = converged_map(D0, arch.leaky(), hidden=12)
    assert np.linalg.norm(leak[:1, 3:]) > 0.05          # Gx -> Oy learned
    seg = converged_map(D0, arch.segregated(), hidden=12)
    np.testing.assert_allclose(seg[:1, :3], D0.selection, atol=1e-6)
    assert np.abs(seg[:1, 3:]).max() < 1e-6


def test_bad_times_are_rejected():
    with pytest.raises(ModspecError, match="t="):
        integrate_modes(2, [-1.0, 2.0], S, LAM, 1e-3, TAU)
    with pytest.raises(ModspecError, match="a0"):
        integrate_modes(2, T, S, LAM, 0.0, TAU)
