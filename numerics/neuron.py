"""Kunin's single neuron ``y = a·wᵀx`` from any start, evaluated (docs/theory/any-start.md).

:func:`solve_neuron` evaluates the closed form of :mod:`modspec.theory.neuron` (derived in
SymPy from the loss) for inputs with second moments ``sigma_x`` (d×d) and ``E[xy] = sigma_xy``
(d,), a start ``(a0, w0)`` and times ``t`` (epochs, τ). The closed form holds where the flow
stays in one eigenspace of ``Σx``: ``Σx b = v b`` and ``Σx w0 = v w0`` with one variance ``v``
(whitened inputs, ``Σx = I``, always; otherwise a start in the eigenspace of ``b``); anything
else is refused in one line. It is evaluated as ``q = z̃/√m̃`` with ``z̃ = e^{−ωu} z`` and
``m̃ = e^{−2ωu} m``, in which every exponential decays (rates ``≤ ω`` in z, ``≤ 2ω`` in m), so
no time overflows.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from modspec.theory.errors import bad
from modspec.theory.names import checked_lambdify

__all__ = ["EIGEN_TOL", "NeuronSolution", "neuron_half_rise", "solve_neuron"]

#: Relative tolerance of ``‖Σx b − v b‖`` and ``‖Σx w0 − v w0‖``.
EIGEN_TOL = 1e-10


@dataclass(frozen=True, eq=False)
class NeuronSolution:
    """At times ``t`` (T,): output weight ``a`` (T,), input weights ``w`` (T, d), the map
    ``beta = a w`` (T, d); ``delta`` the conserved imbalance ``a² − ‖w‖²``, ``s`` = ‖β*‖."""

    t: np.ndarray
    a: np.ndarray
    w: np.ndarray
    beta: np.ndarray
    delta: float
    s: float


@functools.cache
def _compiled() -> tuple[Any, Any, Any]:

    from modspec.theory import neuron as nr
    from modspec.theory import symbols as sy

    z_terms, m_terms = nr.forms()
    args = (nr.a0, nr.w10, nr.w20, sy.s, nr.delta)
    flat = [e for terms in (*z_terms, m_terms) for pair in terms for e in pair]
    f = checked_lambdify(args, flat, "numpy")
    shape = [len(t) for t in (*z_terms, m_terms)]
    return f, shape, checked_lambdify(args, nr.omega, "numpy")


def _integral_scaled(r: float, c: float, u: np.ndarray) -> np.ndarray:
    """``e^{−c u} ∫₀ᵘ e^{r x} dx`` for ``r ≤ c`` without overflow."""
    if r > 0:
        return np.exp((r - c) * u) * -np.expm1(-r * u) / r
    if r < 0:
        return np.exp(-c * u) * np.expm1(r * u) / r
    return np.exp(-c * u) * u


def _plane(sigma_x: Any, sigma_xy: Any, w0: Any) -> tuple[float, np.ndarray, np.ndarray]:
    """The variance v of the eigenspace and the frame ``e1 = b/‖b‖``, ``e2`` (w0's rest)."""
    S, b, w = (np.asarray(x, dtype=float) for x in (sigma_x, sigma_xy, w0))
    d = b.shape[0] if b.ndim == 1 else -1
    if b.ndim != 1 or S.shape != (d, d) or w.shape != (d,):
        raise bad("sigma_x/sigma_xy/w0", (S.shape, b.shape, w.shape),
                  "must be (d, d), (d,) and (d,)")
    nb = float(np.linalg.norm(b))
    if nb == 0 or not np.all(np.isfinite(S)) or not np.all(np.isfinite(w)):
        raise bad("sigma_xy", "0 or non-finite", "must be finite with E[xy] ≠ 0")
    v = float(b @ S @ b) / nb**2
    scale = EIGEN_TOL * max(1.0, float(np.linalg.norm(S)))
    off = max(float(np.linalg.norm(S @ b / nb - v * b / nb)),
              float(np.linalg.norm(S @ w - v * w)) / max(float(np.linalg.norm(w)), 1e-300))
    if not v > 0 or off > scale:
        raise bad("sigma_x", f"‖Σx x − v x‖ = {off:.3g} for b or w0 (v = {v:.6g})",
                  "the closed form needs E[xy] and w0 in one eigenspace of Σx (e.g. Σx = I)")
    e1 = b / nb
    rest = w - (w @ e1) * e1
    nr = float(np.linalg.norm(rest))
    e2 = rest / nr if nr > 0 else np.zeros_like(e1)
    return v, e1, e2


def solve_neuron(sigma_x: Any, sigma_xy: Any, a0: float, w0: Any, t: Any,
                 tau: float = 1.0) -> NeuronSolution:
    """The exact gradient flow of ``y = a·wᵀx`` from ``(a0, w0)`` at times ``t`` ≥ 0 (module
    docstring); ``τ ȧ = wᵀ(b − a Σx w)``, ``τ ẇ = a (b − a Σx w)``."""
    v, e1, e2 = _plane(sigma_x, sigma_xy, w0)
    if not (np.isfinite(a0) and np.isfinite(tau) and tau > 0):
        raise bad("a0/tau", (a0, tau), "must be finite, with tau > 0 (epochs)")
    times = np.atleast_1d(np.asarray(t, dtype=float))
    if not np.all(np.isfinite(times)) or np.any(times < 0):
        raise bad("t", t, "must be finite times ≥ 0")
    w = np.asarray(w0, dtype=float)
    s = float(np.linalg.norm(sigma_xy)) / v
    start = (float(a0), float(w @ e1), float(np.linalg.norm(w - (w @ e1) * e1)))
    delta = start[0]**2 - start[1]**2 - start[2]**2
    f, shape, om = _compiled()
    flat = iter(f(*start, s, delta))
    u = v * times / tau
    omega = float(om(*start, s, delta))
    z = [_zsum([(next(flat), next(flat)) for _ in range(n)], omega, u) for n in shape[:3]]
    m = np.exp(-2 * omega * u) + sum(float(c) * _integral_scaled(float(r), 2 * omega, u)
                                     for c, r in [(next(flat), next(flat))
                                                  for _ in range(shape[3])])
    q = [zi / np.sqrt(m) for zi in z]
    wt = q[0][:, None] * e1 + q[1][:, None] * e2
    return NeuronSolution(times, q[2], wt, q[2][:, None] * wt, float(delta), s)


def _zsum(terms: list[tuple[Any, Any]], omega: float, u: np.ndarray) -> np.ndarray:
    return sum((float(c) * np.exp((float(r) - omega) * u) for c, r in terms),
               np.zeros_like(u))


def neuron_half_rise(s: float, a0: float, w10: float, tau: float = 1.0, v: float = 1.0
                     ) -> float:
    """The closed-form half-rise time (epochs) of an aligned neuron (``w0 = w10·β*/s``,
    ``0 < a0 w10 < s/2``): :func:`modspec.theory.neuron.half_rise_time`."""
    return float(_half_rise()(a0, w10, s, a0**2 - w10**2, tau, v))


@functools.cache
def _half_rise() -> Any:

    from modspec.theory import neuron as nr
    from modspec.theory import symbols as sy

    return checked_lambdify((nr.a0, nr.w10, sy.s, nr.delta, sy.tau, nr.v), nr.half_rise_time(),
                       "numpy")
