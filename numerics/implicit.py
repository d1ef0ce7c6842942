"""Mode strengths of any depth from the implicit solution ``t(a)``, inverted numerically.

For depth L > 2 the mode ODE ``τ da/dt = L a^(2−2/L) (s − λ a)`` has no elementary ``a(t)``,
but its time is elementary in the scaled per-layer strength ``w = (λ a/s)^(1/L)``
(:func:`modspec.theory.dynamics.mode_time`)::

    t = (τ/s) (s/λ)^((2−L)/L) · [G_L(w) − G_L(w0)]

:func:`mode_strengths` solves ``G_L(w) = G_L(w0) + t s/τ (s/λ)^((L−2)/L)`` for ``w`` and
returns ``a = (s/λ) w^L``. ``G_L`` and ``G_L'`` are generated NumPy code; ``G_L`` increases
monotonically as ``w`` moves from ``w0`` towards 1 (from below or above), so the root is
unique and is bracketed from the start. The solver is Newton's method safeguarded by
bisection, vectorised over every time and parameter set at once, in a variable that resolves
both ends of the sigmoid: ``x = logit(w)`` for starts below the fixed point and
``x = −ln(w − 1)`` for starts above it. Relative accuracy in ``a`` is near machine precision;
``a`` reaches ``s/λ`` to the last bit once ``1 − w`` falls below ``2^−52``.

Time is in epochs of full-batch gradient descent, ``τ = 1/(P·lr)``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from scipy.special import expit, logit

from modspec.theory import dynamics
from modspec.theory.architectures import check_depth
from modspec.theory.errors import bad

from .codegen import Generated, generate

__all__ = ["MAX_ITER", "X_END", "mode_strengths", "scaled_time_functions"]

#: The end of the search interval: ``1 − w = e^−36 ≈ 2.3e−16`` is still distinct from 1.
X_END = 36.0
#: Newton iterations allowed (bisection alone would need ~60 for full precision).
MAX_ITER = 200


@cache
def scaled_time_functions(depth: int) -> Generated:
    """Generated ``(G_L(w), G_L'(w))`` of :func:`modspec.theory.dynamics.scaled_time`."""
    L = check_depth(depth)
    return generate({"G": dynamics.scaled_time(L), "dG": dynamics.scaled_rate(L)},
                    [dynamics.w], name="scaled_time",
                    description=f"G_{L}(w) = integral of dw / (w^{L - 1} (1 - w^{L})) and its "
                                "derivative; w = (lambda a / s)^(1/L) is dimensionless.")


def mode_strengths(depth: int, t: Any, s: Any, lam: Any, a0: Any, tau: Any) -> np.ndarray:
    """``a(t)`` of the depth-L mode ODE from ``a(0) = a0 > 0``, by inverting ``t(a)``.

    ``s``, ``lam``, ``a0`` and ``tau`` (epochs) broadcast to a batch shape B; ``t`` (epochs,
    any shape, ≥ 0) is appended: the result has shape ``B + t.shape``.
    """
    L = check_depth(depth)
    t = np.asarray(t, dtype=float)
    if np.any(t < 0) or not np.all(np.isfinite(t)):
        raise bad("t", "array", "must hold finite times ≥ 0 (epochs)")
    s, lam, a0, tau = np.broadcast_arrays(*[np.asarray(v, dtype=float)
                                            for v in (s, lam, a0, tau)])
    if np.any(a0 <= 0) or not np.all(np.isfinite(a0)):
        raise bad("a0", float(a0.min()), "must be finite and > 0 (a = 0 is a fixed point)")
    lift = (..., *(None,) * t.ndim)
    fixed = (s / lam)[lift]
    w0 = ((lam * a0 / s) ** (1.0 / L))[lift]
    rate = (s / tau * (s / lam) ** ((L - 2.0) / L))[lift]
    shape = np.broadcast_shapes(w0.shape, t.shape)
    w0, rate, fixed, t = (np.broadcast_to(v, shape) for v in (w0, rate, fixed, t))
    fn = scaled_time_functions(L)
    w = np.ones(shape)                                   # w0 = 1: a stays at s/λ
    for side, below in ((w0 < 1, True), (w0 > 1, False)):
        if np.any(side):
            w[side] = _solve(fn, w0[side], rate[side] * t[side], below, L)
    a = np.asarray(fixed * w ** L)
    a[t == 0] = np.broadcast_to(a0[lift], shape)[t == 0]
    return a


def _solve(fn: Generated, w0: np.ndarray, dG: np.ndarray, below: bool,
           depth: int) -> np.ndarray:
    """Solve ``G(w) = G(w0) + dG`` (``dG ≥ 0``) for ``w`` between ``w0`` and 1.

    In the solver's variable ``x``, ``G`` is increasing; it is concave for starts below the
    fixed point at depth ≥ 2 and convex otherwise (``dG/dx`` is monotone in ``w``). Newton's
    method started from the end of the bracket where ``G − target`` has the sign of the
    curvature's side (the left end for concave, the right end for convex) then approaches the
    root monotonically without overshooting; the bracket is kept as a safeguard against
    round-off. Targets beyond the end of the interval give ``1 − w < 2^−52``.
    """
    if below:
        def w_of(x: np.ndarray) -> np.ndarray:
            return expit(x)

        def dw_dx(x: np.ndarray) -> np.ndarray:
            return expit(x) * expit(-x)

        lo = logit(w0)
    else:
        def w_of(x: np.ndarray) -> np.ndarray:
            return 1.0 + np.exp(-x)

        def dw_dx(x: np.ndarray) -> np.ndarray:
            return -np.exp(-x)

        lo = -np.log(w0 - 1.0)
    lo = np.minimum(lo, X_END)
    hi = np.full_like(lo, X_END)
    target = fn(w0)[0] + dG
    beyond = target >= fn(w_of(hi))[0]
    concave = below and depth >= 2
    x = np.where(beyond, hi, lo if concave else hi)
    active = ~beyond
    for _ in range(MAX_ITER):
        if not active.any():
            break
        xa = x[active]
        G, dG_dw = fn(w_of(xa))
        F = G - target[active]
        lo[active] = np.where(F <= 0, xa, lo[active])
        hi[active] = np.where(F >= 0, xa, hi[active])
        with np.errstate(divide="ignore", invalid="ignore"):
            step = xa - F / (dG_dw * dw_dx(xa))
        outside = ~((step >= lo[active]) & (step <= hi[active]))
        step = np.where(outside, 0.5 * (lo[active] + hi[active]), step)
        done = (np.abs(step - xa) <= 4e-16 * (1.0 + np.abs(xa))) | (F == 0)
        x[active] = step
        active[np.flatnonzero(active)[done]] = False
    return w_of(x)
