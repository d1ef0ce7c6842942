"""The stability limit of gradient descent from the full Hessian of the loss at its fixed point.

Full-batch gradient descent is ``θ ← θ − (1/τ) ∇ℓ(θ)`` on all layer weights θ of all modules
(``ℓ`` the per-sample loss of docs/theory/learning-dynamics.md §1, ``τ = 1/(P·lr)``). Near the
fixed point θ* the run approaches, one epoch is the linear map ``δ ← (I − H/τ) δ`` with
``H = ∇²ℓ(θ*)``, so the fixed point attracts exactly when every eigenvalue of ``H/τ`` lies in
``(0, 2)``:

    lr < lr_max = 2 / (P · λ_max(H)).

``H`` couples modes: in a balanced two-layer module with ``W1 = √D Vᵀ``, ``W2 = U √D``
(``D = diag(a_i)``) the perturbations ``(dW2)_{ik}``, ``(dW1)_{ik}`` move the map by
``√a_k dW2_{ik} + √a_i dW1_{ik}`` and cost ``½ λ_k (…)²`` (Σx = diag λ in the mode basis), so
``H`` has the eigenvalue ``λ_k (a_i + a_k)`` for every pair of modes (i, k). The per-mode limit
``1/(P s)`` of :func:`modspec.theory.discrete.stability_limit` is the diagonal ``i = k`` alone
(``λ_k · 2 s_k/λ_k = 2 s_k``); the cross terms ``λ_k s_i/λ_i + s_k`` exceed it when the modes'
input variances differ, which is where the per-mode limit was too permissive.

How θ* is found (:func:`fixed_point`): gradient descent from a small start approaches the
*balanced* global minimum (``W_{i+1}ᵀ W_{i+1} = W_i W_iᵀ`` is conserved by the flow and starts
near zero). Modules that write disjoint outputs learn independently, each its least-squares
map ``M = Σyx Σx⁺`` on its own rows and columns; coupled networks (modules sharing an output
block) reach a start-dependent split of the map, read off the exact matrix flow integrated from
small seeded weights (:func:`modspec.numerics.integrate.converged_weights`). Each module's map
``M = U S Vᵀ`` is then written as balanced layers ``W_1 = S^{1/L} Vᵀ``, ``W_i = S^{1/L}``,
``W_L = U S^{1/L}`` on its ``rank M`` hidden directions: hidden units beyond the rank carry
no weight and add no curvature at a global minimum (the residual vanishes on every module's
block there), and rotations of the hidden units leave the spectrum of H unchanged.

``H`` itself is minus the Jacobian of the flow's right-hand side (at τ = 1), whose
directional derivative is generated from SymPy's matrix calculus
(:meth:`modspec.numerics.integrate.FlowSystem.jac`): exact, no finite differences.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modspec.theory.architectures import Network
from modspec.theory.defaults import HIDDEN
from modspec.theory.errors import bad

from .flow import Layout, check_hidden, covariances, layout, module_maps, training_data

__all__ = ["DENSE", "FixedPoint", "StabilityLimit", "balanced_layers", "check_below_limit",
           "check_stable", "fixed_point", "largest_curvature", "least_squares", "loss_hessian",
           "safe_learning_rate", "stability_limit"]

#: Singular values of a converged module map below this (relative to the largest) are zero.
RANK_TOL = 1e-8


@dataclass(frozen=True, eq=False)
class FixedPoint:
    """Balanced weights at the fixed point gradient descent approaches.

    ``layout``: the network laid out on ``hidden`` units (the largest module rank, ≥ 1);
    ``weights``: per module, per layer, arrays ``(1, out, in)`` (a batch of one);
    ``maps``: each module's converged map; ``method``: how it was found.
    """

    layout: Layout
    weights: list[list[np.ndarray]]
    maps: list[np.ndarray]
    method: str


@dataclass(frozen=True)
class StabilityLimit:
    """``lr_max = 2/(P·λ_max)``: gradient descent converges to the fixed point for
    ``lr < lr_max`` and moves away from it above (``λ_max`` the largest eigenvalue of the
    Hessian of the per-sample loss over all weights; ``P`` training samples)."""

    lr_max: float
    lambda_max: float
    P: int
    method: str


def balanced_layers(M: np.ndarray, depth: int, hidden: int) -> list[np.ndarray]:
    """Balanced layers ``W_L ⋯ W_1 = M`` on ``hidden`` units (≥ rank of M; unused units zero):
    ``W_1 = S^{1/L} Vᵀ``, ``W_i = S^{1/L}``, ``W_L = U S^{1/L}`` from ``M = U S Vᵀ``."""
    M = np.asarray(M, dtype=float)
    if depth == 1:
        return [M.copy()]
    U, S, Vt = np.linalg.svd(M, full_matrices=False)
    r = min(hidden, S.size)
    root = np.zeros(hidden)
    root[:r] = S[:r] ** (1.0 / depth)
    Uh = np.zeros((M.shape[0], hidden))
    Uh[:, :r] = U[:, :r]
    Vh = np.zeros((hidden, M.shape[1]))
    Vh[:r] = Vt[:r]
    return [root[:, None] * Vh] + [np.diag(root) for _ in range(depth - 2)] \
        + [Uh * root[None, :]]


def _rank(M: np.ndarray) -> int:
    S = np.linalg.svd(M, compute_uv=False)
    return int(np.sum(S > RANK_TOL * max(float(S[0]) if S.size else 0.0, 1e-300))) \
        if S.size and S[0] > 0 else 0


def least_squares(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, float]:
    """One module's least-squares map ``M = Σyx Σx⁺ = Y X⁺`` and ``λ_max(Σx)``, from the data
    ``X`` (inputs × P), ``Y`` (outputs × P) of its training objects.

    ``Σx = X Xᵀ/P`` has the non-zero eigenvalues ``σ_i²/P`` of the singular values σ_i of X,
    and ``Σyx Σx⁺ = Y Xᵀ (X Xᵀ)⁺ = Y X⁺``; one thin SVD of X costs ``inputs · P²``, not the
    ``inputs³`` of an eigendecomposition of Σx (thousands of identity inputs, a few objects).
    Directions with ``σ_i² ≤ 10⁻¹² σ_1²`` are dropped, as a pseudo-inverse of Σx at that
    relative cut-off would."""
    P = max(X.shape[1], 1)
    if not X.size:
        return np.zeros((Y.shape[0], X.shape[0])), 0.0
    U, S, Vt = np.linalg.svd(X, full_matrices=False)
    keep = S > 1e-6 * S[0] if S[0] > 0 else np.zeros(S.shape, dtype=bool)
    M = ((Y @ Vt[keep].T) / S[keep]) @ U[:, keep].T
    return M, float(S[0] ** 2 / P)


def fixed_point(dataset: Any, network: Network, hidden: int = HIDDEN,
                train_objects: Sequence[int] | None = None) -> FixedPoint:
    """The balanced fixed point of gradient descent from a small start (module docstring).

    ``hidden`` is the network's width: a module map is truncated to its ``hidden`` largest
    singular values when its rank exceeds it (the run cannot reach a higher rank)."""
    big = layout(dataset, network, hidden)
    if network.coupled and network.depth > 1:
        from .integrate import converged_weights

        with np.errstate(under="ignore"):      # the integrator's step control underflows
            lay_w, weights = converged_weights(dataset, network, hidden=hidden,
                                               train_objects=train_objects)
        maps = [m[0] for m in module_maps(lay_w, weights)]
        method = ("coupled: module maps at the end of the exact matrix flow from "
                  "N(0, 1e-3^2) weights (seed 0), balanced layers")
    else:
        # shallow modules have a constant Hessian: any map will do for coupled ones
        X, Y, _ = training_data(dataset, train_objects)
        maps = [least_squares(X[ml.inputs], Y[ml.outputs])[0] for ml in big.modules]
        method = "decoupled modules: each its least-squares map Σyx Σx⁺, balanced layers"
    ranks = [min(_rank(M), hidden) for M in maps]
    h = max(1, *ranks) if ranks else 1
    lay = layout(dataset, network, h)
    weights = [[w[None] for w in balanced_layers(M, ml.depth, h)]
               for ml, M in zip(lay.modules, maps, strict=True)]
    return FixedPoint(lay, weights, maps, method)


def _system(dataset: Any, point: FixedPoint, train_objects: Sequence[int] | None
            ) -> tuple[Any, np.ndarray]:
    from .integrate import FlowSystem

    cov = covariances(dataset, train_objects)
    y = np.concatenate([w.ravel() for layers in point.weights for w in layers])
    return FlowSystem(point.layout, 1.0, cov, y.size), y


def loss_hessian(dataset: Any, point: FixedPoint,
                 train_objects: Sequence[int] | None = None) -> np.ndarray:
    """The Hessian of the per-sample loss over all layer weights at ``point`` (dense,
    symmetric, size = number of weights): minus the Jacobian of the exact flow at τ = 1."""
    system, y = _system(dataset, point, train_objects)
    H = -system.jac(0.0, y)
    return (H + H.T) / 2


#: Below this many weights λ_max comes from the dense Hessian; above, from Lanczos iterations
#: on Hessian–vector products (the flow's generated tangent, one direction at a time).
DENSE = 600


def largest_curvature(dataset: Any, point: FixedPoint,
                      train_objects: Sequence[int] | None = None) -> float:
    """``λ_max`` of :func:`loss_hessian` at ``point`` (to about 1e-10 relative)."""
    system, y = _system(dataset, point, train_objects)
    if y.size <= DENSE:
        H = -system.jac(0.0, y)
        return float(np.linalg.eigvalsh((H + H.T) / 2)[-1])
    from scipy.sparse.linalg import LinearOperator, eigsh

    def matvec(v: np.ndarray) -> np.ndarray:
        return -system.jvp(y, np.asarray(v, dtype=float).reshape(1, -1))[0]

    op = LinearOperator((y.size, y.size), matvec=matvec, dtype=float)
    v0 = np.random.default_rng(0).normal(size=y.size)
    return float(eigsh(op, k=1, which="LA", tol=1e-12, v0=v0,
                       return_eigenvectors=False)[0])


def stability_limit(dataset: Any, network: Network, hidden: int = HIDDEN,
                    train_objects: Sequence[int] | None = None) -> StabilityLimit:
    """The largest learning rate at which gradient descent converges to its fixed point:
    ``2/(P λ_max(H))`` with H the full Hessian of :func:`loss_hessian` (cross-mode and
    cross-module curvature included). Remembered per process for hashable datasets (a
    sweep's diverging points ask for the same limit many times)."""
    hidden = check_hidden(hidden)
    objects = None if train_objects is None else tuple(int(j) for j in train_objects)
    try:
        return _remembered(dataset, network, hidden, objects)
    except TypeError:                   # an unhashable dataset: computed each time
        return _stability_limit(dataset, network, hidden, train_objects)


@functools.lru_cache(maxsize=64)
def _remembered(dataset: Any, network: Network, hidden: int,
                train_objects: tuple[int, ...] | None) -> StabilityLimit:
    return _stability_limit(dataset, network, hidden, train_objects)


def _stability_limit(dataset: Any, network: Network, hidden: int,
                     train_objects: Sequence[int] | None) -> StabilityLimit:
    point = fixed_point(dataset, network, hidden, train_objects)
    lam = largest_curvature(dataset, point, train_objects)
    P = len(training_data(dataset, train_objects)[2])
    lr_max = 2.0 / (P * lam) if lam > 0 else float("inf")
    return StabilityLimit(lr_max, lam, P, point.method)


def safe_learning_rate(dataset: Any, network: Network,
                       train_objects: Sequence[int] | None = None) -> float:
    """A learning rate below :func:`stability_limit`, found without the Hessian (0 for
    coupled networks, which have no shortcut).

    Modules that write disjoint outputs have a block-diagonal Hessian (their maps occupy
    different rows), and at a balanced fixed point ``H = Jᵀ (Σx ⊗ I) J`` with
    ``‖J‖² ≤ Σ_i ‖W_L ⋯ W_{i+1}‖² ‖W_{i−1} ⋯ W_1‖² = L a_max^{2 − 2/L}`` (every balanced layer
    has norm ``a_max^{1/L}``, a_max the module map's largest singular value), so
    ``λ_max(H) ≤ max_m λ_max(Σx_m) L a_max^{2−2/L}``."""
    if network.coupled:
        return 0.0
    X, Y, objects = training_data(dataset, train_objects)
    lay = layout(dataset, network, 1)
    bound = 0.0
    for ml in lay.modules:
        Xm, Ym = X[ml.inputs], Y[ml.outputs]
        if not Xm.shape[0] or not Ym.shape[0]:
            continue
        M, lam_x = least_squares(Xm, Ym)
        a_max = float(np.linalg.norm(M, 2)) if M.size else 0.0
        L = ml.depth
        bound = max(bound, lam_x * (1.0 if L == 1 else L * a_max ** (2 - 2 / L)))
    return 2.0 / (len(objects) * bound) if bound > 0 else float("inf")


def check_below_limit(dataset: Any, network: Network, lr: float, hidden: int = HIDDEN,
                      train_objects: Sequence[int] | None = None) -> float | None:
    """``None`` when ``lr`` is below the stability limit, else the limit (the Hessian is
    computed only when :func:`safe_learning_rate` cannot decide)."""
    if lr < safe_learning_rate(dataset, network, train_objects) * (1 - 1e-9):
        return None
    limit = stability_limit(dataset, network, hidden, train_objects).lr_max
    return None if lr < limit else limit


def check_stable(dataset: Any, network: Network, lr: Any, hidden: int = HIDDEN,
                 train_objects: Any = None) -> None:
    """Refuse (one line, before any training) a learning rate at or above the stability limit
    of gradient descent (:func:`stability_limit`, the full Hessian
    at the fixed point): the run cannot converge to the fixed point the theory converges to,
    so no verdict could be backed."""
    try:
        lr = float(lr)
    except (TypeError, ValueError):
        return                      # train() names a malformed lr in its own words
    if not np.isfinite(lr) or lr <= 0 or getattr(dataset, "is_symbolic", False):
        return
    limit = check_below_limit(dataset, network, lr, hidden, train_objects)
    if limit is not None:
        raise bad("lr", lr, f"must be below the stability limit of gradient descent on these "
                            f"data, lr < {limit:.4g} (full Hessian of the loss at the fixed "
                            f"point): above it the run cannot converge to the fixed point the "
                            f"theory converges to")
