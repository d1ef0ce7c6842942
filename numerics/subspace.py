"""Gradient descent of a modular linear network moves in a small subspace: the exact reduced run.

**Inputs.** A module m reads the input rows ``in_m``; on the training objects those rows are
``X_m = X[in_m, objects]`` (``n_m × P``). Its residual block (docs/theory/learning-dynamics.md,
§1) is

    G_m = R[out_m, in_m] = (Y − W X)[out_m] X_mᵀ / P,

so every row of ``G_m`` lies in the column span of ``X_m``. With ``Q`` (``n_m × r``) an
orthonormal basis of that span (``r = rank X_m ≤ min(n_m, P)``), ``G_m = G̃ Qᵀ`` with
``G̃ = G_m Q``, and for a module of any depth

* the first layer's update ``(W_L ⋯ W_2)ᵀ G_m`` has its rows in the span: ``W_1`` only ever
  changes by ``ΔA Qᵀ``, where ``A = W_1 Q`` (``hidden × r``) changes by ``ΔA``;
* every other layer sees ``W_1`` only through ``G_m W_1ᵀ = G̃ Aᵀ``;
* the outputs on the training objects are ``W X = Σ_m E_m M̃_m Z_m`` with ``Z_m = Qᵀ X_m`` and
  ``M̃_m = W_L ⋯ W_2 A``.

**Hidden units (two-layer modules).** An epoch moves ``A`` by ``W_2ᵀ G̃ / τ`` (its columns
are combinations of the columns of ``W_2ᵀ``) and ``W_2ᵀ`` by ``A G̃ᵀ / τ`` (combinations of the
columns of ``A``), so the span ``S`` of the columns of ``A(0)`` and ``W_2(0)ᵀ``
(``k ≤ r + n_out`` dimensions, one ``S`` a seed) holds both for all time. With ``B``
(``hidden × k``) an orthonormal basis of ``S``, ``Ã = Bᵀ A`` and ``W̃_2 = W_2 B`` carry the
whole run: ``W_2 A = W̃_2 Ã``, ``W_2ᵀ G̃ = B W̃_2ᵀ G̃`` and ``G̃ Aᵀ = G̃ Ãᵀ Bᵀ``.

So gradient descent of the full network is, number for number in exact arithmetic, gradient
descent of the same modules reading the reduced inputs ``Z_m`` (each module its own block of
``r`` rows) with ``k`` hidden units, stepped by the same SymPy-derived layer gradients at the
reduced dimensions. For D0 with 50 hidden units a module shrinks from (27, 50, 9) to
(8, 17, 9). Back in the full problem (the parts that never move stay as they started):

    W_1 = W_1(0) + B (Ã − Ã(0)) Qᵀ,        W_2 = W_2(0) + (W̃_2 − W̃_2(0)) Bᵀ,
    M   = M̃ Qᵀ + W̃_L ⋯ W̃_2 C,             C = Bᵀ W_1(0) (I − Q Qᵀ)

(``B = I`` for a module of another depth or too few hidden units to gain, ``Q = I`` for one
whose inputs span their whole space). A learning rule's extra terms see the whole first layer,
so runs under a rule are not reduced (:func:`modspec.numerics.simulate.simulate` decides).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .flow import Covariances, Layout, block

__all__ = ["ReducedRun", "full_maps", "full_residual", "full_weights", "reduce_run"]

Weights = Sequence[Sequence[np.ndarray]]


@dataclass(frozen=True, eq=False)
class ReducedRun:
    """A run's reduced problem and what maps it back to the full one.

    ``layout`` and ``cov`` are those of the modules reading the reduced inputs ``Z`` (all
    modules' ``Z_m`` stacked); ``sigma_zx = Z Xᵀ / P``. Per module: ``inputs[m]`` is ``Qᵀ``
    (``r × n_m``, contiguous) and ``hidden[m]`` is ``B`` (seeds, hidden, k), each None where
    the module is not reduced on that side; ``outside[m]`` is ``C`` (None when ``Q`` is).
    ``init`` holds the full initial weights and ``start`` the reduced ones (read-only: step a
    copy).
    """

    layout: Layout
    cov: Covariances
    sigma_zx: np.ndarray
    inputs: tuple[np.ndarray | None, ...]
    hidden: tuple[np.ndarray | None, ...]
    outside: tuple[np.ndarray | None, ...]
    init: tuple[tuple[np.ndarray, ...], ...]
    start: tuple[tuple[np.ndarray, ...], ...]


def _span(X: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the column span of ``X`` (at least one column)."""
    U, s, _ = np.linalg.svd(X, full_matrices=False)
    tol = (s[0] if s.size else 0.0) * max(X.shape) * np.finfo(float).eps
    return U[:, :max(int(np.sum(s > tol)), 1)]


def _right(W: np.ndarray, F: np.ndarray) -> np.ndarray:
    """``W @ F`` for a batch ``W`` (..., rows, k) and one matrix ``F`` (k, cols): a single
    matrix product over all rows of the batch."""
    return (W.reshape(-1, W.shape[-1]) @ F).reshape(*W.shape[:-1], F.shape[-1])


def reduce_run(lay: Layout, cov: Covariances, X_train: np.ndarray, Y_train: np.ndarray,
               weights: Weights) -> ReducedRun | None:
    """The reduced run of ``lay`` from ``weights`` (stacked over seeds) on the training
    objects ``X_train`` (inputs × P), ``Y_train`` (outputs × P); None when no module shrinks
    (then simulate the full problem)."""
    inputs, hidden, outside, Zs, start = [], [], [], [], []
    for ml, layers in zip(lay.modules, weights, strict=True):
        X_m = block(X_train, ml.inputs, slice(None))                      # n_m × P
        Q = _span(X_m) if X_m.shape[0] > 0 else None
        if Q is not None and Q.shape[1] == X_m.shape[0]:                 # spans its space
            Q = None
        Z = X_m if Q is None else Q.T @ X_m
        A = layers[0] if Q is None else _right(layers[0], Q)              # (seeds, h, r)
        C = None if Q is None else layers[0] - _right(A, Q.T)             # W_1 (I − Q Qᵀ)
        B = None
        if ml.depth == 2 and Z.shape[0] + ml.dims[-1] < ml.dims[1]:
            B = np.linalg.qr(np.concatenate([A, layers[1].mT], axis=-1))[0]
            reduced = [B.mT @ A, layers[1] @ B]
            C = None if C is None else B.mT @ C
        else:
            reduced = [A if Q is not None else A.copy(), *(w.copy() for w in layers[1:])]
        inputs.append(None if Q is None else np.ascontiguousarray(Q.T))
        hidden.append(B)
        outside.append(C)
        Zs.append(Z)
        start.append(tuple(reduced))
    if all(Q is None and B is None for Q, B in zip(inputs, hidden, strict=True)):
        return None
    modules, at = [], 0
    for ml, Z, layers in zip(lay.modules, Zs, start, strict=True):
        dims = (Z.shape[0], *(w.shape[-2] for w in layers))
        modules.append(replace(ml, inputs=slice(at, at + Z.shape[0]), dims=dims,
                               projections={}))
        at += Z.shape[0]
    Z = np.concatenate(Zs, axis=0)
    P = cov.P
    return ReducedRun(replace(lay, modules=tuple(modules), n_in=at, quadrants={}),
                      Covariances(Z @ Z.T / P, Y_train @ Z.T / P, cov.trace_y, P, cov.objects),
                      Z @ X_train.T / P, tuple(inputs), tuple(hidden), tuple(outside),
                      tuple(tuple(layers) for layers in weights), tuple(start))


def full_weights(run: ReducedRun, state: Weights) -> list[list[np.ndarray]]:
    """The full weights of a reduced state: ``W_1 = W_1(0) + B (Ã − Ã(0)) Qᵀ``,
    ``W_2 = W_2(0) + (W̃_2 − W̃_2(0)) Bᵀ``; a layer reduced on neither side is the state's
    own array."""
    out = []
    for layers, full0, start, QT, B in zip(state, run.init, run.start, run.inputs, run.hidden,
                                           strict=True):
        if QT is None and B is None:
            out.append(list(layers))
            continue
        first = layers[0] - start[0]
        if B is not None:
            first = B @ first
        first = full0[0] + (first if QT is None else _right(first, QT))
        rest = list(layers[1:]) if B is None else \
            [full0[1] + (layers[1] - start[1]) @ B.mT]
        out.append([first, *rest])
    return out


def full_maps(run: ReducedRun, lay: Layout, maps: Sequence[np.ndarray], state: Weights
              ) -> list[np.ndarray]:
    """Every module's full map from the reduced maps ``M̃`` and state:
    ``M = M̃ Qᵀ + W̃_L ⋯ W̃_2 C``. The arrays lead with the seeds and may carry more batch
    axes after them (``(seeds, records, …)``: many records at once); ``W̃_L ⋯ W̃_2 C`` is then
    one matrix product per seed over all of them."""
    out = []
    for M, layers, QT, C in zip(maps, state, run.inputs, run.outside, strict=True):
        if QT is None:
            out.append(M)
            continue
        seeds, lead = C.shape[0], M.shape[:-2]
        if len(layers) == 1:                             # a shallow module: C itself
            out.append(_right(M, QT) + C.reshape(seeds, *(1,) * (len(lead) - 1),
                                                 *C.shape[-2:]))
            continue
        # [M̃, W̃_L ⋯ W̃_2] [Qᵀ; C]: one product per seed
        K = np.concatenate([M, functools.reduce(np.matmul, layers[:0:-1])], axis=-1)
        F = np.concatenate([np.broadcast_to(QT, (seeds, *QT.shape)), C], axis=-2)
        out.append((K.reshape(seeds, -1, K.shape[-1]) @ F).reshape(*K.shape[:-1],
                                                                    F.shape[-1]))
    return out


def full_residual(run: ReducedRun, reduced_map: np.ndarray, cov: Covariances) -> np.ndarray:
    """The full residual ``R = Σyx − W Σx`` from the reduced total map ``W̃``: the outputs on
    the training objects are ``W X = W̃ Z``, so ``W Σx = W̃ Z Xᵀ / P = W̃ Σzx`` (one matrix
    product for the whole batch)."""
    return cov.sigma_yx - _right(reduced_map, run.sigma_zx)
