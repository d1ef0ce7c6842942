"""Exact two-layer flow from λ-balanced starts (issue 22): the closed-form Riccati solution
equals an ODE solver of the full weight flow, its kernel equals the one of the integrated
weights, and its lazy and rich limits are the known ones."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from modspec.numerics.riccati import (
    balanced_start,
    check_balanced,
    ntk,
    solve_balanced,
)
from modspec.theory.errors import ModspecError

TAU = 2.0
T = np.linspace(0.0, 8.0, 9)


def _flow(S, W1, W2, t, tau=TAU):
    """The weights of τ Ẇ1 = W2ᵀ(Σyx − W2W1), τ Ẇ2 = (Σyx − W2W1)W1ᵀ, integrated."""
    nh, ni = W1.shape
    no = W2.shape[0]

    def rhs(_, y):
        A, B = y[:nh * ni].reshape(nh, ni), y[nh * ni:].reshape(no, nh)
        R = S - B @ A
        return np.concatenate([(B.T @ R).ravel(), (R @ A.T).ravel()]) / tau

    sol = solve_ivp(rhs, (0, t.max()), np.concatenate([W1.ravel(), W2.ravel()]), t_eval=t,
                    method="DOP853", rtol=1e-13, atol=1e-14)
    assert sol.success
    return [(sol.y[:nh * ni, k].reshape(nh, ni), sol.y[nh * ni:, k].reshape(no, nh))
            for k in range(t.size)]


@pytest.mark.parametrize("lam", [0.0, 1.0, -1.0, 10.0])
@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("ni,nh,no", [(4, 2, 3), (3, 3, 5)])
def test_closed_form_equals_the_integrated_weight_flow(lam, aligned, ni, nh, no):
    if (lam > 0 and nh > no) or (lam < 0 and nh > ni):
        pytest.skip("no λ-balanced start of this shape")
    rng = np.random.default_rng(int(10 * abs(lam)) + ni)
    S = rng.normal(size=(no, ni))
    W1, W2 = balanced_start(ni, nh, no, lam, 0.3, seed=3, aligned_to=S if aligned else None)
    assert check_balanced(W1, W2) == pytest.approx(lam, abs=1e-12)
    sol = solve_balanced(S, W1, W2, T, tau=TAU)
    ref = _flow(S, W1, W2, T)
    X = rng.normal(size=(ni, 3))
    for k, (A, B) in enumerate(ref):
        np.testing.assert_allclose(sol.maps[k], B @ A, rtol=0, atol=1e-10)
        np.testing.assert_allclose(sol.gram_in[k], A.T @ A, rtol=0, atol=1e-10)
        np.testing.assert_allclose(sol.gram_out[k], B @ B.T, rtol=0, atol=1e-10)
    # the kernel from the integrated weights: J Jᵀ of x ↦ W2 W1 x over all weights
    A, B = ref[-1]
    J = np.concatenate([np.einsum("oh,ip->poih", B, X).reshape(3 * no, -1),
                        np.einsum("hi,ip,oq->poqh", A, X, np.eye(no)).reshape(3 * no, -1)],
                       axis=1)
    np.testing.assert_allclose(sol.ntk(X)[-1], J @ J.T, rtol=0, atol=1e-9)


def test_an_unbalanced_start_is_refused_saying_how_far_it_is():
    rng = np.random.default_rng(0)
    W1, W2 = rng.normal(size=(2, 3)), rng.normal(size=(4, 2))
    far = np.linalg.norm(W2.T @ W2 - W1 @ W1.T - 1.0 * np.eye(2))
    with pytest.raises(ModspecError, match=rf"‖W2ᵀW2 − W1W1ᵀ − λI‖ = {far:.3g}.*λ-balanced"):
        solve_balanced(rng.normal(size=(4, 3)), W1, W2, [1.0], lam=1.0)
    W1, W2 = balanced_start(3, 2, 4, 1.0, seed=1)
    assert check_balanced(W1, W2, 1.0) == 1.0
    with pytest.raises(ModspecError, match="λ-balanced"):
        check_balanced(W1, W2, 1.5)


def test_times_in_any_order_and_long_times_stay_finite():
    rng = np.random.default_rng(5)
    S = rng.normal(size=(3, 4))
    W1, W2 = balanced_start(4, 3, 3, 0.5, 0.1, seed=2)
    t = np.array([50.0, 0.0, 3.0, 1e4])
    sol = solve_balanced(S, W1, W2, t, tau=1.0)
    again = solve_balanced(S, W1, W2, np.sort(t), tau=1.0)
    np.testing.assert_allclose(sol.maps[[1, 2, 0, 3]], again.maps, atol=1e-12)
    # rank 3 = Nh ≥ rank Σyx: the map converges to Σyx
    np.testing.assert_allclose(sol.maps[3], S, atol=1e-9)
    np.testing.assert_allclose(sol.maps[1], W2 @ W1, atol=1e-14)


def test_lazy_limit_is_the_linear_kernel_flow():
    """λ → ∞ with weights of order √λ: the kernel hardly moves, and the map follows the
    linear flow τ Ẇ = −K(W − Σyx) of the initial tangent kernel (Σx = I)."""
    rng = np.random.default_rng(7)
    S = 0.5 * rng.normal(size=(2, 3))
    lam = 1e4
    W1, W2 = balanced_start(3, 2, 2, lam, 1 / np.sqrt(lam), seed=4)
    t = np.array([0.0, 2.0 / lam, 5.0 / lam])
    sol = solve_balanced(S, W1, W2, t, tau=1.0)
    K = np.kron(np.eye(2), sol.gram_in[0]) + np.kron(sol.gram_out[0], np.eye(3))  # on vec_r(W)
    w, V = np.linalg.eigh(K)
    for k, tk in enumerate(t):
        lin = S.ravel() + V @ (np.exp(-w * tk) * (V.T @ (sol.maps[0] - S).ravel()))
        assert np.max(np.abs(sol.maps[k].ravel() - lin)) < 1e-3 * np.max(np.abs(S))
    drift = np.linalg.norm(sol.gram_out[-1] - sol.gram_out[0]) / np.linalg.norm(sol.gram_out[0])
    assert drift < 1e-3


def test_rich_limit_from_a_small_aligned_start_is_the_sigmoid():
    """λ = 0, aligned, small start: each mode follows the balanced logistic
    a(t) = s e^{2st/τ}/(e^{2st/τ} − 1 + s/a0)."""
    S = np.diag([2.0, 1.0])
    W1 = W2 = np.diag(np.sqrt([1e-4, 1e-4]))
    t = np.linspace(0, 6, 13)
    sol = solve_balanced(S, W1, W2, t, tau=1.0)
    for i, s in enumerate((2.0, 1.0)):
        e = np.exp(2 * s * t)
        np.testing.assert_allclose(sol.maps[:, i, i], s * e / (e - 1 + s / 1e-4), rtol=1e-10)


def test_ntk_is_the_gram_sum():
    X = np.eye(2)
    K = ntk(np.eye(2), 2 * np.eye(3), X)
    assert K.shape == (6, 6)
    np.testing.assert_allclose(np.diag(K), 3.0)


def test_kernel_distance_and_alignment_tell_lazy_from_rich():
    rng = np.random.default_rng(11)
    S = rng.normal(size=(3, 4))
    t = np.array([0.0, 5.0, 20.0, 300.0])
    lazy_start = balanced_start(4, 3, 3, 100.0, 0.1, seed=1)
    rich_start = balanced_start(4, 3, 3, 0.0, 1e-3, seed=1)
    lazy = solve_balanced(S, *lazy_start, t)
    rich = solve_balanced(S, *rich_start, t)
    assert lazy.kernel_distance()[0] == pytest.approx(0.0, abs=1e-12)
    assert lazy.kernel_distance()[-1] < 1e-3 < 0.3 < rich.kernel_distance()[-1]
    assert rich.alignment()[-1] == pytest.approx(1.0, abs=1e-9)     # G1 → (ΣyxᵀΣyx)^½
    assert lazy.alignment()[-1] < rich.alignment()[-1]
    # the Kronecker-sum formula equals the distance of the kernels built explicitly
    K0, Kt = (np.kron(rich.gram_out[k], np.eye(4)) + np.kron(np.eye(3), rich.gram_in[k])
              for k in (0, -1))
    cos = np.sum(K0 * Kt) / (np.linalg.norm(K0) * np.linalg.norm(Kt))
    assert rich.kernel_distance()[-1] == pytest.approx(1 - cos, abs=1e-12)
    move = np.linalg.norm(Kt - K0) / np.linalg.norm(K0)
    assert rich.kernel_movement()[-1] == pytest.approx(move, rel=1e-10)
    assert rich.kernel_movement()[-1] > 1e3 and lazy.kernel_movement()[-1] < 1e-2
