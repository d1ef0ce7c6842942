"""The early phase of deep modes from a random start: each direction's effective start.

docs/theory/dynamics.md ("Deep modes from random starts"). The mode solutions of a module
of depth L assume balanced, aligned layers, ``W_l = R_l diag(c) R_{l−1}ᵀ`` with one ``c``
for every layer. Small random weights are neither: for L = 2 the early phase is linear and
gives the effective start in closed form (:func:`~.starts.effective_a0`), but for L > 2 the
random middle layers take part in it, and the balanced start ``((|W_1 v|² + |W_Lᵀ u|²)/2)^{L/2}``
makes the theory run 15–20 % ahead of gradient descent (D0, depth 3, init std 1e-2).

While a mode is still far below its fixed point (``λ a ≪ s``), the residual is ``Σyx`` alone.
Restricted to one mode's block (singular value ``s``, directions ``U_b``, ``V_b`` of
multiplicity m) and in the time ``u = s t/τ``, the matrix flow is then the *free flow*

    dW_l/du = ∂/∂W_l tr(W_L ⋯ W_1 V_b U_bᵀ)

— the derived gradient of every layer (:func:`~.flow.module_gradient`) with the block
``U_b V_bᵀ`` as residual. It is homogeneous of degree L − 1 and blows up in finite time. A
balanced aligned direction obeys the same equation, ``dc/du = c^{L−1}``, whose solution
``c(u)^{−(L−2)} = c0^{−(L−2)} − (L−2) u`` blows up at ``u* = c0^{−(L−2)}/(L−2)``. So once the
directions of the block have aligned and grow with strengths ``a_j(u)`` (the singular values
of ``U_bᵀ W_L ⋯ W_1 V_b``), each has the *effective start*

    c0_j = (a_j(u)^{−(L−2)/L} + (L − 2) u)^{−1/(L−2)},        a0_j = c0_j^L,

the start of the balanced solution that blows up when it does (which start a caller uses
is decided in :mod:`.starts`). :func:`free_starts`
integrates the free flow from a run's own initial weights until the block's largest
strength has grown by :data:`GROWTH` per layer over the balanced start and reads every
direction's effective start there (the result does not depend on that choice once the
directions have aligned: 10, 30 and 100 agree to 0.1 % on D0). Interactions between
different blocks (they share the hidden layers) are left out: the block's own directions
compete through the free flow; the weights other modes have grown by then slow a late mode
by a few per cent at 50 hidden units (about 1 % at 100).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.integrate import solve_ivp

from .flow import Layout, module_gradient

__all__ = ["GROWTH", "free_starts"]

#: Growth per layer of the block's largest strength, over its balanced start, at which the
#: effective starts are read.
GROWTH = 30.0


def free_starts(lay: Layout, weights: Sequence[Sequence[np.ndarray]]) -> dict[str, np.ndarray]:
    """Effective starts ``a0_j`` of every direction of every mode of the modules of depth
    L > 2, for each seed: ``{mode key: array (seeds, multiplicity)}`` (see the module
    docstring). ``weights``: a list over modules of lists over layers, arrays
    ``(seeds, rows, cols)``."""
    out: dict[str, np.ndarray] = {}
    for ml, layers in zip(lay.modules, weights, strict=True):
        if ml.depth <= 2:
            continue
        generated = module_gradient(ml.dims)
        for mode in ml.spectrum.modes:
            key = ml.keys[mode.label]
            U, V = np.asarray(mode.U, dtype=float), np.asarray(mode.V, dtype=float)
            out[key] = np.stack([
                _free_start(generated, [np.asarray(w[i], dtype=float) for w in layers], U, V)
                for i in range(layers[0].shape[0])])
    return out


def _free_start(generated, layers: list[np.ndarray], U: np.ndarray, V: np.ndarray) -> np.ndarray:
    """The effective starts of one block's directions for one seed's layers."""
    product, grad = generated
    L = len(layers)
    shapes = [w.shape for w in layers]
    sizes = np.cumsum([0] + [w.size for w in layers])
    G = (U @ V.T)[None]

    def unpack(y: np.ndarray) -> list[np.ndarray]:
        return [y[a:b].reshape(1, *s) for a, b, s in zip(sizes[:-1], sizes[1:], shapes,
                                                         strict=True)]

    def strengths(y: np.ndarray) -> np.ndarray:
        M = product(*unpack(y))[0][0]
        return np.linalg.svd(U.T @ M @ V, compute_uv=False)

    def rhs(_u: float, y: np.ndarray) -> np.ndarray:
        return np.concatenate([d.ravel() for d in grad(*unpack(y), G)])

    # the balanced start of the block: the mean squared size of its first and last layers
    c_init = np.sqrt((np.sum((layers[0] @ V) ** 2) + np.sum((layers[-1].T @ U) ** 2))
                     / (2 * V.shape[1]))
    if not np.isfinite(c_init) or c_init <= 0:
        return np.zeros(V.shape[1])
    a_end = (GROWTH * c_init) ** L

    def grown(_u: float, y: np.ndarray) -> float:
        return float(strengths(y)[0] - a_end)

    grown.terminal, grown.direction = True, 1
    y0 = np.concatenate([w.ravel() for w in layers])
    # the balanced free solution from c_init blows up at u = c_init^{−(L−2)}/(L−2); a block
    # whose layers are far from balanced takes longer, never orders of magnitude longer
    horizon = 1e3 * c_init ** (2 - L)
    sol = solve_ivp(rhs, (0.0, horizon), y0, events=grown, rtol=1e-8, atol=1e-14 * c_init)
    if sol.status != 1:                  # never grew: the block starts from nothing
        return np.zeros(V.shape[1])
    u_end = float(sol.t_events[0][0])
    a = np.maximum(strengths(sol.y_events[0][0]), np.finfo(float).tiny)
    c0 = (a ** (-(L - 2) / L) + (L - 2) * u_end) ** (-1.0 / (L - 2))
    return c0 ** L



def __getattr__(name: str):
    """``seeded_starts``, the earlier name of :func:`modspec.numerics.starts.seeded` (kept for
    callers not yet moved to :mod:`.starts`)."""
    if name == "seeded_starts":
        from .starts import seeded

        return seeded
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
