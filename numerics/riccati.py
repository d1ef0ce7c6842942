"""Exact gradient flow of a two-layer linear network from any λ-balanced start (matrix Riccati).

Network ``W2 W1`` (``W1``: Nh×Ni, ``W2``: No×Nh), whitened inputs (Σx = I), the gradient flow of
docs/theory/learning-dynamics.md §1 in epochs (``τ = 1/(P·lr)``)::

    τ Ẇ1 = W2ᵀ (Σyx − W2 W1),        τ Ẇ2 = (Σyx − W2 W1) W1ᵀ.

The imbalance ``W2ᵀW2 − W1W1ᵀ`` is conserved. When it is ``λ I`` (a *λ-balanced* start, any λ,
aligned with Σyx or not) the stacked weights ``Q = [W1ᵀ; W2]`` obey, with
``QᵀQ = W1W1ᵀ + W2ᵀW2 = 2 W1W1ᵀ + λ I = 2 W2ᵀW2 − λ I``,

    τ Q̇ = F Q − ½ Q QᵀQ,        F = [[−λ/2 I_Ni, Σyxᵀ], [Σyx, λ/2 I_No]],

so ``P = QQᵀ = [[W1ᵀW1, (W2W1)ᵀ], [W2W1, W2W2ᵀ]]`` obeys the Riccati equation
``τ Ṗ = F P + P F − P²``. It is solved in closed form: with ``E(t) = e^{F t/τ}`` and
``D(t) = (1/τ)∫₀ᵗ e^{2F u/τ} du``,

    P(t) = E P(0) (I + D P(0))⁻¹ E

(check: ``Z = E Q0``, ``M = I + Q0ᵀ D Q0`` give ``τŻ = F Z``, ``τṀ = ZᵀZ``, so
``P = Z M⁻¹ Zᵀ`` satisfies the equation; ``Q0 M⁻¹ Q0ᵀ = P0 (I + D P0)⁻¹``). In the eigenbasis of
the symmetric F both E and D are diagonal (``D = (e^{2fΔ/τ} − 1)/(2f)``, ``Δ/τ`` at f = 0).
The solution is a semigroup, so times are reached in exact steps short enough that no
exponential overflows (``2 |f| Δ/τ ≤`` :data:`MAX_EXPONENT`): the result is the closed form,
evaluated stably at any t.

From P: the network map ``W2 W1``, the input-side Gram matrix ``W1ᵀW1`` (the hidden
representations' kernel, ``h(x)ᵀh(x') = xᵀ W1ᵀW1 x'``), the output-side ``W2W2ᵀ`` and the
neural tangent kernel ``K(x, x') = (xᵀ W1ᵀW1 x') I + (xᵀx') W2W2ᵀ`` (:func:`ntk`).
The per-mode version (aligned starts) is :mod:`modspec.theory.balanced`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modspec.theory.errors import bad

__all__ = ["BALANCE_TOL", "MAX_EXPONENT", "BalancedSolution", "balanced_start", "check_balanced",
           "ntk", "riccati_matrix", "solve_balanced"]

#: Relative tolerance of the λ-balance check ``‖W2ᵀW2 − W1W1ᵀ − λI‖ ≤ tol·(1 + ‖W2ᵀW2‖ +
#: ‖W1W1ᵀ‖)``.
BALANCE_TOL = 1e-9
#: Largest exponent ``2 |f| Δ/τ`` in one exact step.
MAX_EXPONENT = 30.0


@dataclass(frozen=True, eq=False)
class BalancedSolution:
    """The exact flow at times ``t`` (T,): ``maps`` (T, No, Ni) = W2W1, ``gram_in`` (T, Ni, Ni)
    = W1ᵀW1, ``gram_out`` (T, No, No) = W2W2ᵀ; ``lam`` the balance, ``tau`` in epochs,
    ``sigma_yx`` the task. The lazy–rich measures: :meth:`kernel_distance`,
    :meth:`kernel_movement`, :meth:`alignment`."""

    t: np.ndarray
    maps: np.ndarray
    gram_in: np.ndarray
    gram_out: np.ndarray
    lam: float
    tau: float
    sigma_yx: np.ndarray

    def kernel_distance(self) -> np.ndarray:
        """How far the tangent kernel has moved from its start, (T,): ``1 − ⟨K0, Kt⟩/(‖K0‖
        ‖Kt‖)`` (Frobenius, on the map space: ``K = W2W2ᵀ ⊕ W1ᵀW1``, the Kronecker sum; for
        whitened inputs it is the kernel on any data up to the inputs' rotation). ≈ 0 in the
        lazy regime, of order 1 in the rich one."""
        G2, G1 = self.gram_out, self.gram_in
        no, ni = G2.shape[-1], G1.shape[-1]

        def inner(A, B, C, D):           # ⟨A ⊕ B, C ⊕ D⟩ for A, C (no×no), B, D (ni×ni)
            return (ni * np.einsum("...ij,...ji->...", A, C)
                    + np.trace(A, axis1=-2, axis2=-1) * np.trace(D, axis1=-2, axis2=-1)
                    + np.trace(B, axis1=-2, axis2=-1) * np.trace(C, axis1=-2, axis2=-1)
                    + no * np.einsum("...ij,...ji->...", B, D))

        cross = inner(G2[0], G1[0], G2, G1)
        norms = np.sqrt(inner(G2[0], G1[0], G2[0], G1[0]) * inner(G2, G1, G2, G1))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(norms > 0, 1.0 - cross / np.where(norms > 0, norms, 1.0), 0.0)

    def kernel_movement(self) -> np.ndarray:
        """The tangent kernel's relative change, (T,): ``‖K(t) − K(0)‖/‖K(0)‖`` (Frobenius, on
        the map space as in :meth:`kernel_distance`): ≪ 1 lazy, ≫ 1 rich (from small
        weights the kernel grows from almost nothing)."""
        G2, G1 = self.gram_out, self.gram_in
        no, ni = G2.shape[-1], G1.shape[-1]
        dG2, dG1 = G2 - G2[0], G1 - G1[0]

        def sq(A: np.ndarray, B: np.ndarray) -> np.ndarray:     # ‖A ⊕ B‖²
            return (ni * np.sum(A * A, axis=(-2, -1)) + no * np.sum(B * B, axis=(-2, -1))
                    + 2 * np.trace(A, axis1=-2, axis2=-1) * np.trace(B, axis1=-2, axis2=-1))

        base = np.sqrt(sq(G2[0], G1[0]))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt(np.maximum(sq(dG2, dG1), 0.0)) / base

    def alignment(self) -> np.ndarray:
        """Alignment of the hidden representations with the task, (T,): the cosine between
        the input-side Gram matrix ``W1ᵀW1`` and ``(ΣyxᵀΣyx)^{1/2}``, which is where the rich
        (λ = 0) flow puts it."""
        S = np.asarray(self.sigma_yx, dtype=float)
        w, V = np.linalg.eigh(S.T @ S)
        target = (V * np.sqrt(np.maximum(w, 0.0))) @ V.T
        num = np.einsum("tij,ij->t", self.gram_in, target)
        den = np.linalg.norm(self.gram_in, axis=(1, 2)) * np.linalg.norm(target)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)

    def ntk(self, X: Any) -> np.ndarray:
        """The tangent kernel on inputs ``X`` (Ni, n) at every time: (T, n·No, n·No)."""
        return np.stack([ntk(g1, g2, X) for g1, g2 in zip(self.gram_in, self.gram_out,
                                                          strict=True)])


def check_balanced(W1: Any, W2: Any, lam: float | None = None) -> float:
    """The balance λ of a start with ``W2ᵀW2 − W1W1ᵀ = λ I`` (given, or read off the trace);
    a start that is not λ-balanced is refused in one line saying how far it is."""
    W1, W2 = np.asarray(W1, dtype=float), np.asarray(W2, dtype=float)
    if W1.ndim != 2 or W2.ndim != 2 or W2.shape[1] != W1.shape[0]:
        raise bad("start", f"W1 {W1.shape}, W2 {W2.shape}",
                  "must be matrices W1 (Nh, Ni) and W2 (No, Nh)")
    if not (np.all(np.isfinite(W1)) and np.all(np.isfinite(W2))):
        raise bad("start", "non-finite weights", "must be finite")
    A, B = W2.T @ W2, W1 @ W1.T
    imbalance = A - B
    nh = W1.shape[0]
    if lam is None:
        lam = float(np.trace(imbalance) / nh)
    elif not np.isfinite(lam):
        raise bad("lam", lam, "must be a finite number")
    dist = float(np.linalg.norm(imbalance - lam * np.eye(nh)))
    scale = 1.0 + float(np.linalg.norm(A) + np.linalg.norm(B))
    if dist > BALANCE_TOL * scale:
        raise bad("start", f"‖W2ᵀW2 − W1W1ᵀ − λI‖ = {dist:.3g} at λ = {lam:.6g}",
                  "must be λ-balanced (W2ᵀW2 − W1W1ᵀ = λ I) for the exact solution")
    return float(lam)


def riccati_matrix(sigma_yx: Any, lam: float) -> np.ndarray:
    """``F = [[−λ/2 I, Σyxᵀ], [Σyx, λ/2 I]]`` of ``τ Ṗ = F P + P F − P²``."""
    S = np.asarray(sigma_yx, dtype=float)
    no, ni = S.shape
    F = np.zeros((ni + no, ni + no))
    F[:ni, :ni] = -lam / 2 * np.eye(ni)
    F[ni:, ni:] = lam / 2 * np.eye(no)
    F[ni:, :ni] = S
    F[:ni, ni:] = S.T
    return F


def _step(Q: np.ndarray, f: np.ndarray, u: float) -> np.ndarray:
    """A factor of ``P`` after ``u = Δ/τ`` (``Q`` a factor of P, both in the eigenbasis of F):
    ``E Q L⁻ᵀ`` with ``L Lᵀ = I + Qᵀ D Q``, so that ``Q' Q'ᵀ = E P (I + D P)⁻¹ E``. Stepping
    the factor keeps the rank of P (at most Nh) exact: stepping P itself would let round-off
    in its null space grow like ``e^{2 f t}``."""
    if u == 0:
        return Q
    e = np.exp(f * u)
    x = 2 * f * u
    d = np.where(np.abs(x) > 1e-12, np.expm1(x) / np.where(f == 0, 1.0, 2 * f), u)
    L = np.linalg.cholesky(np.eye(Q.shape[1]) + Q.T @ (d[:, None] * Q))
    return np.linalg.solve(L, (e[:, None] * Q).T).T


def solve_balanced(sigma_yx: Any, W1: Any, W2: Any, t: Any, tau: float = 1.0,
                   lam: float | None = None) -> BalancedSolution:
    """The exact flow from the λ-balanced start ``(W1, W2)`` at times ``t`` ≥ 0 (any order)
    with whitened inputs and input–output covariance ``sigma_yx`` (No, Ni)."""
    S = np.asarray(sigma_yx, dtype=float)
    W1, W2 = np.asarray(W1, dtype=float), np.asarray(W2, dtype=float)
    if S.ndim != 2 or S.shape != (W2.shape[0], W1.shape[1]):
        raise bad("sigma_yx", S.shape, f"must be (No, Ni) = {(W2.shape[0], W1.shape[1])}")
    lam = check_balanced(W1, W2, lam)
    if not (np.isfinite(tau) and tau > 0):
        raise bad("tau", tau, "must be > 0 (epochs)")
    times = np.atleast_1d(np.asarray(t, dtype=float))
    if not np.all(np.isfinite(times)) or np.any(times < 0):
        raise bad("t", t, "must be finite times ≥ 0")
    no, ni = S.shape
    f, O = np.linalg.eigh(riccati_matrix(S, lam))
    Q = O.T @ np.concatenate([W1.T, W2])
    umax = MAX_EXPONENT / (2 * max(float(np.max(np.abs(f))), 1e-300))
    order = np.argsort(times, kind="stable")
    out = np.empty((times.size, ni + no, ni + no))
    now = 0.0
    for j in order:
        u = times[j] / tau - now
        while u > umax:
            Q = _step(Q, f, umax)
            u -= umax
        Q = _step(Q, f, u)
        now = times[j] / tau
        Z = O @ Q
        out[j] = Z @ Z.T
    return BalancedSolution(times, out[:, ni:, :ni], out[:, :ni, :ni], out[:, ni:, ni:],
                            lam, float(tau), S)


def ntk(gram_in: Any, gram_out: Any, X: Any) -> np.ndarray:
    """``K[(p, o), (q, o')] = (x_pᵀ W1ᵀW1 x_q) δ_oo' + (x_pᵀ x_q) (W2W2ᵀ)_oo'``, the tangent
    kernel of ``x ↦ W2 W1 x`` (inputs ``X`` (Ni, n); index ``p·No + o``)."""
    X = np.asarray(X, dtype=float)
    G1, G2 = np.asarray(gram_in, dtype=float), np.asarray(gram_out, dtype=float)
    return np.kron(X.T @ G1 @ X, np.eye(G2.shape[0])) + np.kron(X.T @ X, G2)


def balanced_start(n_in: int, hidden: int, n_out: int, lam: float, scale: float = 1.0,
                   seed: int = 0, aligned_to: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """A random λ-balanced start ``(W1, W2)``: one layer Gaussian of std ``scale``, the other
    completed so that ``W2ᵀW2 − W1W1ᵀ = λ I`` exactly (λ > 0 needs ``hidden ≤ n_out``,
    λ < 0 ``hidden ≤ n_in``). ``aligned_to``: a Σyx (No, Ni) whose singular vectors the
    start shares (diagonal layer strengths), else random orientations."""
    rng = np.random.default_rng(seed)
    if (lam > 0 and hidden > n_out) or (lam < 0 and hidden > n_in):
        raise bad("hidden", hidden, f"must be ≤ {'n_out' if lam > 0 else 'n_in'} = "
                                    f"{n_out if lam > 0 else n_in} for a start balanced at "
                                    f"λ = {lam:g}")
    if lam == 0 and aligned_to is None and min(hidden, n_in) > n_out:
        # W2ᵀW2 = W1W1ᵀ: a Gaussian W1 has rank min(hidden, n_in), W2ᵀW2 at most n_out
        raise bad("hidden", hidden, f"must be ≤ n_out = {n_out} (or n_in ≤ n_out) for a "
                                    "random start balanced at λ = 0")

    def frame(n: int, k: int) -> np.ndarray:      # n×k with orthonormal columns
        return np.linalg.qr(rng.normal(size=(n, k)))[0][:, :k]

    if aligned_to is not None:
        U, _, Vt = np.linalg.svd(np.asarray(aligned_to, dtype=float))
        k = min(hidden, U.shape[1], Vt.shape[0])
        b1 = np.zeros(hidden)
        b1[:k] = scale * rng.uniform(0.5, 1.5, size=k)
        b1sq = np.maximum(b1**2, max(-lam, 0.0)) if lam < 0 else b1**2
        b2 = np.sqrt(b1sq + lam)
        b1 = np.sqrt(b1sq)
        W1 = np.zeros((hidden, n_in))
        W2 = np.zeros((n_out, hidden))
        W1[:min(hidden, n_in), :] = (b1[:min(hidden, n_in), None] * Vt[:min(hidden, n_in)])
        W2[:, :min(hidden, n_out)] = U[:, :min(hidden, n_out)] * b2[None, :min(hidden, n_out)]
        return W1, W2
    if lam >= 0:
        W1 = scale * rng.normal(size=(hidden, n_in))
        w, V = np.linalg.eigh(_finite_gram(W1 @ W1.T + lam * np.eye(hidden), scale, lam))
        root = V @ np.diag(np.sqrt(np.maximum(w, 0))) @ V.T
        return W1, frame(n_out, hidden) @ root
    W2 = scale * rng.normal(size=(n_out, hidden))
    w, V = np.linalg.eigh(_finite_gram(W2.T @ W2 - lam * np.eye(hidden), scale, lam))
    root = V @ np.diag(np.sqrt(np.maximum(w, 0))) @ V.T
    return (frame(n_in, hidden) @ root).T, W2


def _finite_gram(G: np.ndarray, scale: float, lam: float) -> np.ndarray:
    """``G`` when every entry is finite, else a one-line refusal naming the start's size."""
    if not np.all(np.isfinite(G)):
        raise bad("init_scale", scale, f"with lam={lam:g} the start's Gram matrix overflows "
                  "float64; use a smaller scale or |lam|")
    return G
