"""Gradient descent never leaves the span of the training inputs: the exact reduced problem.

A module m reads the input rows ``in_m``; on the training objects those rows are
``X_m = X[in_m, objects]`` (``n_m × P``). Its residual block (docs/theory/learning-dynamics.md,
§1) is

    G_m = R[out_m, in_m] = (Y − W X)[out_m] X_mᵀ / P,

so every row of ``G_m`` lies in the column span of ``X_m``. With ``Q_m`` (``n_m × r_m``) an
orthonormal basis of that span (``r_m = rank X_m ≤ min(n_m, P)``), ``G_m = G̃_m Q_mᵀ`` where
``G̃_m = G_m Q_m``. Then, for a module of any depth,

* the first layer's update ``(W_L ⋯ W_2)ᵀ G_m`` has its rows in the span too: ``W_1`` only
  ever changes by ``ΔA Q_mᵀ``, and ``A = W_1 Q_m`` (``hidden × r_m``) moves by ``ΔA``;
* every other layer's update sees ``W_1`` only through ``G_m W_1ᵀ = G̃_m Aᵀ``;
* the network's outputs on the training objects are ``Σ_m E_m M̃_m Z_m`` with
  ``Z_m = Q_mᵀ X_m`` and ``M̃_m = W_L ⋯ W_2 A``.

So gradient descent of the full network is, number for number in exact arithmetic, gradient
descent of the same modules reading the reduced inputs ``Z_m`` (each module its own block of
``r_m`` rows), with the same SymPy-derived layer gradients at the reduced dimensions
``(r_m, hidden, …, n_out_m)``. The full first layer is recovered as
``W_1 = W_1(0) + (A − A(0)) Q_mᵀ``: the part of ``W_1`` that sees no training input is left as it
started. For D0 (27 inputs, 8 objects) the batched products shrink from 27 to at most 8 columns.

Only modules whose inputs have a proper span (``r_m < n_m``) are reduced; a learning rule's
extra terms see the whole first layer, so runs under a rule are not reduced
(:func:`modspec.numerics.simulate.simulate` decides).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .flow import Covariances, Layout, block, module_gradient

__all__ = ["InputSubspace", "expand_weights", "full_maps", "full_residual", "input_subspace",
           "outside_span", "reduce_weights"]


@dataclass(frozen=True, eq=False)
class InputSubspace:
    """The reduced problem: ``layout`` and ``cov`` of the modules reading ``Z_m = Q_mᵀ X_m``.

    ``bases[m]`` is ``Q_m`` (``n_m × r_m``, orthonormal columns), or None for a module that is
    not reduced (its inputs are the full rows ``in_m``). ``sigma_zx = Z Xᵀ / P`` (reduced
    inputs × inputs), ``Z`` the reduced inputs of all modules stacked.
    """

    layout: Layout
    cov: Covariances
    bases: tuple[np.ndarray | None, ...]
    sigma_zx: np.ndarray


def _span(X: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the column span of ``X`` (at least one column)."""
    U, s, _ = np.linalg.svd(X, full_matrices=False)
    tol = (s[0] if s.size else 0.0) * max(X.shape) * np.finfo(float).eps
    return U[:, :max(int(np.sum(s > tol)), 1)]


def input_subspace(lay: Layout, cov: Covariances, X_train: np.ndarray,
                   Y_train: np.ndarray) -> InputSubspace | None:
    """The reduced problem of ``lay`` on the training objects, or None when no module's
    inputs have a proper span (nothing to gain: simulate the full problem).

    ``X_train`` (inputs × P) and ``Y_train`` (outputs × P) are the training objects."""
    bases: list[np.ndarray | None] = []
    for ml in lay.modules:
        X_m = block(X_train, ml.inputs, slice(None))                      # n_m × P
        Q = _span(X_m) if X_m.shape[0] > 0 else None
        bases.append(Q if Q is not None and Q.shape[1] < X_m.shape[0] else None)
    if all(Q is None for Q in bases):
        return None
    modules, rows, start = [], [], 0
    for ml, Q in zip(lay.modules, bases, strict=True):
        X_m = block(X_train, ml.inputs, slice(None))
        Z = X_m if Q is None else Q.T @ X_m
        r = Z.shape[0]
        modules.append(replace(ml, inputs=slice(start, start + r), dims=(r, *ml.dims[1:]),
                               projections={}))
        rows.append(Z)
        start += r
    Z = np.concatenate(rows, axis=0)
    P = cov.P
    reduced = Covariances(Z @ Z.T / P, Y_train @ Z.T / P, cov.trace_y, P, cov.objects)
    return InputSubspace(replace(lay, modules=tuple(modules), n_in=start, quadrants={}),
                         reduced, tuple(bases), Z @ X_train.T / P)


def reduce_weights(sub: InputSubspace, weights: Sequence[Sequence[np.ndarray]]
                   ) -> list[list[np.ndarray]]:
    """The reduced weights: each reduced module's first layer becomes ``A = W_1 Q_m``; the
    other layers are copied. Weights are stacked over a leading batch axis."""
    out = []
    for layers, Q in zip(weights, sub.bases, strict=True):
        first = layers[0].copy() if Q is None else _right(layers[0], Q)
        out.append([first, *(w.copy() for w in layers[1:])])
    return out


def expand_weights(sub: InputSubspace, init: Sequence[Sequence[np.ndarray]],
                   reduced_init: Sequence[Sequence[np.ndarray]],
                   reduced: Sequence[Sequence[np.ndarray]]) -> list[list[np.ndarray]]:
    """The full weights of a reduced state: ``W_1 = W_1(0) + (A − A(0)) Q_mᵀ`` for a reduced
    module's first layer (the change lies in the span, the rest is as it started); every
    other layer is the reduced one itself (not a copy)."""
    out = []
    for layers, full0, reduced0, Q in zip(reduced, init, reduced_init, sub.bases, strict=True):
        first = layers[0] if Q is None else full0[0] + _right(layers[0] - reduced0[0], Q.T)
        out.append([first, *layers[1:]])
    return out


def outside_span(sub: InputSubspace, weights: Sequence[Sequence[np.ndarray]]
                 ) -> list[np.ndarray | None]:
    """The part of each reduced module's first layer that sees no training input,
    ``W_1 (I − Q_m Q_mᵀ)`` (None for a module that is not reduced); it never changes."""
    return [None if Q is None else layers[0] - _right(_right(layers[0], Q), Q.T)
            for layers, Q in zip(weights, sub.bases, strict=True)]


def full_maps(sub: InputSubspace, lay: Layout, reduced_maps: Sequence[np.ndarray],
              reduced: Sequence[Sequence[np.ndarray]], outside: Sequence[np.ndarray | None]
              ) -> list[np.ndarray]:
    """Every module's full map from the reduced state: ``M = M̃ Q_mᵀ + W_L ⋯ W_2 W_1⊥``
    with ``M̃`` the reduced map and ``W_1⊥`` from :func:`outside_span` (the generated product
    of the module's layers with ``W_1⊥`` in place of the first)."""
    out = []
    for ml, M, layers, rest, Q in zip(lay.modules, reduced_maps, reduced, outside, sub.bases,
                                      strict=True):
        if Q is None:
            out.append(M)
        else:
            product, _ = module_gradient(ml.dims)
            out.append(_right(M, Q.T) + product(rest, *layers[1:])[0])
    return out


def full_residual(sub: InputSubspace, reduced_map: np.ndarray, cov: Covariances) -> np.ndarray:
    """The full residual ``R = Σyx − W Σx`` from the reduced total map ``W̃``: the network's
    outputs on the training objects are ``W X = W̃ Z``, so ``W Σx = W̃ Z Xᵀ/P = W̃ Σzx``
    (one matrix product for the whole batch)."""
    return cov.sigma_yx - _right(reduced_map, sub.sigma_zx)


def _right(W: np.ndarray, F: np.ndarray) -> np.ndarray:
    """``W @ F`` for a batch ``W`` (..., rows, k) and one matrix ``F`` (k, cols): a single
    matrix product over all rows of the batch."""
    return (W.reshape(-1, W.shape[-1]) @ F).reshape(*W.shape[:-1], F.shape[-1])
