"""Where the mode theory of a random start holds: its validity domain, per mode.

docs/theory/any-start.md ("Random starts: the theory's domain"). The mode solutions that
``validate`` compares a run with (:func:`modspec.numerics.expectation.expect`) leave out two
things, and each has a size that can be read off the run before any comparison:

* **the start's size and imbalance.** The effective start of a mode (depth 2: the closed
  form of its linear early phase; depth > 2: the free flow of :mod:`modspec.numerics.early`)
  is read while the residual is ``Σyx`` alone, i.e. dropping ``λa`` against ``s`` (relative
  error ``a0/a*``, ``a* = s/λ`` the mode's fixed point), and the balanced solution it starts
  assumes ``W_{l+1}ᵀW_{l+1} = W_l W_lᵀ`` along the mode. Random layers of per-layer size
  ``c0 = a0^{1/L}`` are imbalanced by about ``c0²``, and gradient flow conserves that
  imbalance, while the balanced layers end at ``c*² = a*^{2/L}``. The part of the end
  state the balanced solution misses is then ``ε = (a0/a*)^{2/L}`` (which exceeds ``a0/a*``
  for every L ≥ 2; at depth 2, ``ε = a0/a*``).
* **modes sharing hidden units.** The modes of one module live in the same hidden layers.
  In the balanced aligned solution their hidden directions are orthogonal and they decouple
  exactly; from a random start, a mode that rises late finds the hidden directions of the
  modes that rose before it occupied: its random components along those ``M`` directions
  (``M`` = the summed multiplicities of the module's earlier modes, out of ``h`` hidden units)
  are cross terms the flow learns away instead of growing. Its effective per-layer start
  ``c0`` then loses the fraction ``M/h`` (the components along the occupied directions, on
  both sides of the mode's hidden chain), and the blow-up time of the deep free solution,
  ``u* = c0^{−(L−2)}/(L−2)``, moves by ``(1 − M/h)^{−(L−2)} − 1 ≈ (L−2)·M/h``:

      η = (L − 2) · M / h.

  At depth 2 the same loss of ``c0`` (on both layers, ``a0 → a0 (1 − M/h)²``) moves the
  half-rise time ``t½ ∝ ln(a*/a0)`` of the balanced sigmoid by ``−2 ln(1 − M/h)``, so there

      η = −2 ln(1 − M/h) / ln(a*/a0)

  (measured on the hierarchical family's finer levels, D0 and contrastive-Hebbian runs from
  random starts of 10–50 hidden units: 0.6–1.4× this estimate). The first-risen mode of a
  module has M = 0.
* **the start of a learning rule.** Under gradient descent the effective start of a
  two-layer mode is the closed form of its linear early phase. A learning rule's per-mode
  system starts balanced at ``c1 = c2 = √a0`` instead, which moves ``ln a0`` by an amount of
  order one, hence the half-rise time by ``p = c / ln(a*/a0)`` with ``c =``
  :data:`START_LOG_RULE` (measured ``|Δt½|/t½ · ln(a*/a0)`` of contrastive-Hebbian runs from
  random starts: up to 0.39; issue 22: CHL off 6–17 % in π1). Its analogue at depth > 2 is
  δ0 (:data:`START_PRECISION`).

A mode's **estimated shift** ``δ = ε + η`` estimates the relative delay of its rise that
the theory leaves out. On the cases of issue 22 the measured half-rise errors are 0.2–1.2×
the η estimate (depth 3, 50 hidden units: π2 1.5–2.4 % against 2 %, π3 3.0–3.7 % against
6 %; 20 units: π3 14.9 % against 15 %; depth 4: π3 9.8 % against 12 %), and the largest
trajectory error (max over time of |Δa|/a*) is up to about 5× the half-rise error, since a
delayed sigmoid differs most from the theory's at its steepest point. ``validate`` therefore
judges a mode's trajectory and half-rise only where ``δ <`` :data:`DOMAIN_SHIFT` = 2 %
(5 × 2 % = the 10 % trajectory tolerance) and ``δ + p <`` :data:`TOTAL_SHIFT` = 4 %;
outside, it reports the numbers, says "outside the theory's domain" with ``δ`` and its
parts, and does not judge the end points either (the cross terms the flow learns away decay
on the late mode's own slow time scale).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .record import measured_half_rise

__all__ = ["DOMAIN_SHIFT", "START_LOG_RULE", "START_PRECISION", "TOTAL_SHIFT",
           "TRAJECTORY_SHIFT", "ModeDomain", "mode_domains", "run_domains", "steepness"]

#: Estimated shift ``δ = (a0/a*)^{2/L} + (L−2)·M/h`` from which a mode's trajectory and
#: half-rise time are no longer judged (measured delays reach 1.2× the estimate and more:
#: 2 % keeps them within the half-rise tolerance, 5 %).
DOMAIN_SHIFT = 0.02
#: Largest trajectory error ``κ·(δ + δ0)`` a mode's delay may make for its trajectory to be
#: judged (half the trajectory tolerance, 10 %).
TRAJECTORY_SHIFT = 0.05
#: δ0: how far the free-flow start of a deep mode (:mod:`modspec.numerics.early`) puts its
#: half-rise, where nothing else is left out (measured: up to 3.7 % on random deep starts).
START_PRECISION = 0.04
#: c of the precision ``p = c/ln(a*/a0)`` of a two-layer mode's balanced start under a
#: learning rule (measured up to 0.39).
START_LOG_RULE = 0.4
#: Largest ``δ + p`` (estimated shift and the start's precision) at which a mode is judged.
TOTAL_SHIFT = 0.04


@dataclass(frozen=True)
class ModeDomain:
    """One mode's place in the theory's domain (see the module docstring).

    ``depth`` of its module, ``hidden`` units, ``earlier`` = M (multiplicities of the modes
    of the same module that rise before it, by the theory's half-rise times), ``start`` =
    ε = (a0/a*)^{2/L}, ``interaction`` = η = (L−2)·M/h, ``bound`` the shift from which it is not
    judged."""

    key: str
    depth: int
    hidden: int
    earlier: int
    start: float
    interaction: float
    bound: float = DOMAIN_SHIFT
    steepness: float = 0.0
    trajectory_bound: float = TRAJECTORY_SHIFT
    start_error: float = 0.0

    @property
    def shift(self) -> float:
        """δ = ε + η: the estimated relative delay the theory leaves out."""
        return self.start + self.interaction

    @property
    def inside(self) -> bool:
        """δ below its bound and δ + p below :data:`TOTAL_SHIFT`: the mode's half-rise time
        is judged."""
        return bool(np.isfinite(self.shift) and self.shift < self.bound
                    and self.shift + self.start_error < TOTAL_SHIFT)

    @property
    def precision(self) -> float:
        """The delay the theory makes inside its domain: ``δ`` plus, at depth > 2, the
        precision of the free-flow start (:data:`START_PRECISION`)."""
        return self.shift + (START_PRECISION if self.depth > 2 else self.start_error)

    @property
    def trajectory_inside(self) -> bool:
        """Inside, and the trajectory error that delay makes, ``κ·(δ + δ0)``, within its
        bound (κ: :attr:`steepness`): the mode's trajectory is judged too."""
        return self.inside and self.steepness * self.precision <= self.trajectory_bound

    def reason(self) -> str:
        """One phrase: the estimate and its parts (printed by ``validate``)."""
        share = (f"(L−2)·M/h = ({self.depth}−2)·{self.earlier}/{self.hidden}" if self.depth > 2
                 else f"−2 ln(1 − M/h)/ln(a*/a0) with M/h = {self.earlier}/{self.hidden}")
        parts = (f"start (a0/a*)^(2/L) {100 * self.start:.2g} %, modes sharing hidden units "
                 f"{share} = {100 * self.interaction:.2g} %")
        if self.shift >= self.bound or not np.isfinite(self.shift):
            return f"estimated shift {100 * self.shift:.2g} % ≥ {100 * self.bound:.2g} %: {parts}"
        if self.shift + self.start_error >= TOTAL_SHIFT:
            return (f"estimated shift {100 * self.shift:.2g} % + rule's start c/ln(a*/a0) "
                    f"{100 * self.start_error:.2g} % ≥ {100 * TOTAL_SHIFT:.2g} % ({parts})")
        return (f"steep rise: κ·(δ + δ0) = {self.steepness:.3g} × {100 * self.precision:.2g} % "
                f"> {100 * self.trajectory_bound:.2g} % ({parts})")

    def as_dict(self) -> dict[str, Any]:
        return {"depth": self.depth, "hidden": self.hidden, "earlier": self.earlier,
                "start": self.start, "interaction": self.interaction, "shift": self.shift,
                "bound": self.bound, "steepness": self.steepness,
                "trajectory_bound": self.trajectory_bound, "start_error": self.start_error,
                "inside": self.inside,
                "trajectory_inside": self.trajectory_inside}


def steepness(t: np.ndarray, a: np.ndarray, fixed: float, half_rise: float) -> float:
    """κ = max_t |da/dt| · t½ / a*: a delay ``δ·t½`` of a rise moves it by up to ``κ·δ·a*``
    (``t½`` the theory's half-rise time, or the run's last epoch when it has none)."""
    t, a = np.asarray(t, dtype=float), np.asarray(a, dtype=float)
    if t.size < 2 or not fixed:
        return 0.0
    slope = float(np.max(np.abs(np.diff(a) / np.diff(t))))
    span = half_rise if np.isfinite(half_rise) else float(t[-1])
    return slope * span / abs(fixed)


def mode_domains(th: Any, hidden: int, a0: Mapping[str, float],
                 half_rise: Mapping[str, float], bound: float = DOMAIN_SHIFT,
                 steep: Mapping[str, float] | None = None,
                 trajectory_bound: float = TRAJECTORY_SHIFT, rule: bool = False
                 ) -> dict[str, ModeDomain]:
    """Every mode's :class:`ModeDomain` for a run of ``th.network`` with ``hidden`` units:
    ``a0`` the starts the theory ran from (mean over directions and seeds), ``half_rise`` the
    theory's half-rise time of each mode (NaN: not within the run; such a mode counts as
    rising last); ``steep`` each mode's :func:`steepness`; ``rule``: the run is under a
    learning rule other than gradient descent. Depth-1 modes (no hidden layer) and modes
    without a positive fixed point are left out."""
    out = {}
    for md in th.modules:
        L = int(md.module.depth)
        if L < 2:
            continue
        keys = [(md.keys[m.label], m) for m in md.spectrum.modes]
        rise = {k: half_rise.get(k, float("nan")) for k, _ in keys}
        for key, mode in keys:
            fixed = float(mode.fixed_point)
            if key not in a0 or not fixed > 0:
                continue
            t_k = rise[key]
            earlier = sum(int(m.multiplicity) for k, m in keys if k != key and np.isfinite(
                rise[k]) and (not np.isfinite(t_k) or rise[k] < t_k))
            eps = (abs(float(a0[key])) / fixed) ** (2 / L)
            eta, p = _interaction(L, earlier / hidden, eps), 0.0
            if L == 2 and rule:
                p = START_LOG_RULE / _log_span(eps, L)
            out[key] = ModeDomain(key, L, int(hidden), earlier, float(eps), float(eta),
                                  float(bound), float((steep or {}).get(key, 0.0)),
                                  float(trajectory_bound), float(p))
    return out


def _log_span(eps: float, L: int) -> float:
    """``ln(a*/a0)`` from ``ε = (a0/a*)^{2/L}`` (∞-safe: a start at or above a* gives 0)."""
    return max(-L / 2 * float(np.log(eps)), 0.0) if eps > 0 else float("inf")


def _interaction(L: int, share: float, eps: float) -> float:
    """η of a mode with the fraction ``share = M/h`` of its hidden units occupied (module
    docstring): ``(L−2)·M/h`` at depth > 2, ``−2 ln(1 − M/h)/ln(a*/a0)`` at depth 2."""
    if L > 2:
        return (L - 2) * share
    if share == 0:
        return 0.0
    span = _log_span(eps, L)
    return float("inf") if share >= 1 or span == 0 else -2 * float(np.log1p(-share)) / span


def run_domains(th: Any, run: Any, exp: Any, bound: float = DOMAIN_SHIFT,
                trajectory_bound: float = TRAJECTORY_SHIFT) -> dict[str, ModeDomain]:
    """Every mode's place in the theory's domain (:func:`mode_domains`) for a recorded ``run``
    (a :class:`~modspec.numerics.record.Trajectory`) and the theory of it ``exp`` (an
    :class:`~modspec.numerics.expectation.Expectation`): the run's hidden width, the theory's
    starts, half-rise times and steepness."""

    if run.init is not None:
        hidden = int(np.asarray(run.init[0][0]).shape[-2])
    else:
        hidden = int(run.meta.get("hidden") or 1)
    t = np.asarray(run.t, dtype=float)
    fixed = exp.fixed_points or {}
    rise, steep = {}, {}
    for key, a in exp.trajectory.modes.items():
        a = np.asarray(a, dtype=float)
        if a.ndim != 1 or not fixed.get(key):
            rise[key] = float("nan")
            continue
        a = np.interp(t, exp.trajectory.t, a)
        rise[key] = measured_half_rise(t, a, fixed[key])
        steep[key] = steepness(t, a, fixed[key], rise[key])
    rule = str((run.meta or {}).get("rule", "gradient-descent")) != "gradient-descent"
    return mode_domains(th, hidden, exp.a0, rise, bound, steep, trajectory_bound, rule)

