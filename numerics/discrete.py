"""Discrete-time predictions: the exact per-epoch map of each mode, iterated in NumPy.

Gradient descent at a finite learning rate is not the gradient flow: one epoch of a balanced,
aligned mode of depth L is the layer map of :mod:`modspec.theory.discrete`

    c ← h(c) = c + (1/τ) c^{L−1} (s − λ c^L),        a = c^L,      τ = 1/(P·lr),

and the mode strength lags the continuous closed form once ``s/τ`` is not small (D0 dense at
lr 0.02: π1 by about 2.5 epochs, up to 0.26 in ``a``). :func:`iterate_modes` iterates the
generated map (:mod:`modspec.numerics.codegen`; polynomial in ``c``, so no fractional powers
and no sign issues) for a whole batch of parameter sets and modes at once: ``max(t)`` steps,
each one vectorised NumPy call, cost ``O(epochs)``.

:class:`~modspec.numerics.predict.ModeSolutions` serves predictor calls with
``time="discrete"``; for coupled networks (leaky) the exact discrete dynamics is matrix
gradient descent itself (:class:`~modspec.numerics.predict.CoupledDynamics`).

Time is an integer number of epochs of full-batch gradient descent.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from modspec.theory import discrete as theory
from modspec.theory import symbols as sy
from modspec.theory.errors import ModspecError, bad

from .codegen import Generated, generate

__all__ = ["divergence_error", "epochs", "iterate_modes", "layer_map_code",
           "learning_rate_limit"]

_UNITS = {"tau": "epochs, tau = 1/(P*lr)", "c": "layer strength along the mode, a = c**L"}


@functools.cache
def layer_map_code(depth: int) -> Generated:
    """Generated ``h(c, s, λ, τ)``: one epoch of a balanced depth-L mode, per layer."""
    h = theory.layer_map(depth)
    return generate({"c_next": h}, [theory.c, sy.s, sy.lam, sy.tau], name="layer_map",
                    units=_UNITS,
                    description=f"One epoch of full-batch GD on a balanced, aligned mode of "
                                f"a depth-{depth} network: c <- {h} (a = c**{depth}).")


def epochs(t: Any) -> np.ndarray:
    """``t`` as a float array of integer epochs ≥ 0 (``ModspecError`` otherwise)."""
    try:
        arr = np.asarray(t, dtype=float)
    except (TypeError, ValueError):
        raise bad("t", t, "must be integer epochs ≥ 0 for discrete time") from None
    if arr.ndim == 0:
        arr = arr[None]
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.round(arr)):
        bad_values = arr[~(np.isfinite(arr) & (arr >= 0) & (arr == np.round(arr)))]
        raise bad("t", float(bad_values.flat[0]),
                  "must be integer epochs ≥ 0 for discrete time (time='discrete')")
    return arr


#: Every this many epochs :func:`iterate_modes` asks whether the iteration has come to rest
#: in floating point (a fixed point or a two-cycle of the float map), and if so jumps to the
#: end: the discrete theory then costs O(epochs to rest), not O(epochs).
REST_CHECK = 64


def iterate_modes(depth: int, t: Any, s: Any, lam: Any, a0: Any, tau: Any) -> np.ndarray:
    """Mode strengths ``a_n`` after ``n = t`` epochs of the exact discrete map.

    ``t``: integer epochs ≥ 0 (any shape, any order); ``s``, ``lam``, ``a0`` (> 0) and
    ``tau`` (epochs) broadcast to a batch shape B (put modes on an axis of B to iterate many
    at once). Returns ``a`` of shape ``B + t.shape``. Starts from the balanced layer strength
    ``c0 = a0^{1/L}``. Above the learning-rate limit of
    :func:`modspec.theory.discrete.stability_limit` the iteration may diverge (``inf``/``nan``,
    no warning) or settle on a cycle: that is what gradient descent does too. Cost: ``max(t)``
    vectorised steps (about 1e5 steps per second on this machine for small batches), or the
    steps until the float iteration repeats itself (a fixed point or a two-cycle, checked every
    :data:`REST_CHECK` steps), after which every later epoch is known exactly.
    """
    t = epochs(t)
    s, lam, a0, tau = np.broadcast_arrays(*[np.asarray(v, dtype=float)
                                            for v in (s, lam, a0, tau)])
    L = int(depth)
    # depth 1: the map is affine in a, any finite start works; deeper maps start from the
    # balanced layer strength c0 = a0^(1/L), which needs a0 > 0
    if (L > 1 and np.any(~(a0 > 0))) or not np.all(np.isfinite(a0)):
        raise bad("a0", float(np.min(a0)), "must be > 0 (the initial mode strength)"
                  if L > 1 else "must be finite")
    if np.any(~(tau > 0)):
        raise bad("tau", float(np.min(tau)), "must be > 0 (epochs)")
    batch = s.shape
    if t.size == 0:
        return np.empty((*batch, *t.shape))
    steps, inverse = np.unique(t.astype(np.int64), return_inverse=True)
    h = layer_map_code(depth).func
    c = a0 if L == 1 else a0 ** (1.0 / L)
    out = np.empty((steps.size, *batch))
    j = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(int(steps[-1]) + 1):
            if step == steps[j]:
                out[j] = c**L
                j += 1
                if j == steps.size:
                    break
            after = h(c, s, lam, tau)[0]
            if step % REST_CHECK == REST_CHECK - 1 and np.array_equal(
                    h(after, s, lam, tau)[0], c, equal_nan=True):
                # at rest in floating point: c_{n+2} = c_n for every element, so the map
                # (elementwise, deterministic) repeats c, after, c, … exactly from here on
                later = steps[j:] - step
                out[j:] = np.where((later % 2 == 0).reshape(-1, *[1] * c.ndim), c, after)**L
                break
            c = after
    res = out[inverse.reshape(t.shape)]                    # t.shape + B
    return np.moveaxis(res, tuple(range(t.ndim)), tuple(range(len(batch), res.ndim)))


def learning_rate_limit(modes: Any, P: int) -> float:
    """The largest learning rate at which every mode's fixed point is stable under gradient
    descent: the minimum over ``modes`` (pairs ``(depth, s, λ)``) of the derived limit
    :func:`modspec.theory.discrete.stability_limit` (L = 2: ``lr < 1/(P s)``), with P the
    number of training samples."""
    limits = [float(theory.stability_limit(depth).lr_max.subs(
        {theory.P: P, sy.s: float(s), sy.lam: float(lam)})) for depth, s, lam in modes]
    return min(limits) if limits else float("inf")


#: Gradient descent counts as diverged once the largest entry of its residual ``Σyx − W Σx``
#: grows past this multiple of its start (or of the data's own scale, when larger): a run
#: below the stability limit never comes near it, one beyond it reaches it within a few
#: epochs of leaving the data's scale, long before its numbers overflow.
DIVERGENCE_GROWTH = 1e6


def divergence_error(lr: float, epoch: int, limit: float,
                     start: tuple[str, Any] | None = None) -> ModspecError:
    """The one-line error of gradient descent that diverged at ``epoch``.

    ``start = (name, value)`` (``init_std``, ``a0``) when the start is to blame: it overflows
    before the first epoch, or lies so far beyond the data's scale that any step from it
    overshoots; the error then names the start's parameter, not ``lr``.
    """
    if start is not None:
        name, value = start
        if epoch == 0:
            return bad(name, value, "the start overflows (non-finite values before the first "
                       "epoch): use a smaller start")
        return bad(name, value, f"the start is far beyond the data's scale and gradient "
                   f"descent from it diverged by epoch {epoch} at lr={lr:g}: use a smaller "
                   f"start (the stability limit near the learned map is lr < {limit:.4g})")
    return bad("lr", lr, f"gradient descent diverged (its values grew without bound by "
               f"epoch {epoch}); the derived stability limit of this network on these data "
               f"is lr < {limit:.4g}")


def converged_scale(dataset: Any) -> float:
    """The largest strength the learned map can reach on a numeric dataset: the spectral norm
    of the least-squares map ``Σyx Σx⁺`` (the largest converged mode strength ``s/λ`` of a
    dense network; no modular network learns more)."""
    X = np.asarray(dataset.X, dtype=float)
    Y = np.asarray(dataset.Y, dtype=float)
    W = np.linalg.lstsq(X.T, Y.T, rcond=None)[0]
    return float(np.linalg.norm(W, 2)) if W.size else 0.0


def check_start(name: str, value: Any, start: Any, a_star: float) -> None:
    """Refuse a start whose effective mode strength ``start`` lies beyond
    ``DIVERGENCE_GROWTH · max(1, a*)``, with ``a*`` the largest converged mode strength: no
    trajectory from there stays within floating point (its squares overflow), so the
    parameter ``name`` that set it (``a0``, ``init_std``) is named before any work."""
    limit = DIVERGENCE_GROWTH * max(1.0, a_star)
    starts = np.abs(np.asarray(start, dtype=float))
    if not np.all(starts <= limit):                                  # also NaN
        raise bad(name, value, f"gives a start beyond {limit:.3g} ({DIVERGENCE_GROWTH:.0e} "
                  f"times the largest converged mode strength {a_star:.3g}, or 1): from "
                  "there the dynamics leaves floating point; use a smaller start")


def diverged_epoch(t: Any, losses: dict[str, Any]) -> int | None:
    """The first recorded epoch of ``t`` at which a run's training loss (the sum over its
    blocks, per seed) is non-finite or past ``DIVERGENCE_GROWTH²`` times its start (the loss
    is quadratic in the residual), or None when the run stayed bounded."""
    t = np.asarray(t, dtype=float).ravel()
    total = sum(np.asarray(v, dtype=float).reshape(-1, t.size) for v in losses.values())
    if isinstance(total, int):                                       # no output block
        return None
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.maximum(np.abs(total[:, :1]), np.finfo(float).tiny)
        bounded = np.abs(total) <= DIVERGENCE_GROWTH**2 * scale
    bad_at = np.flatnonzero(~bounded.all(axis=0))
    return int(t[bad_at[0]]) if bad_at.size else None
