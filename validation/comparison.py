"""Theory against simulation: mode-aligned errors, half-rise times, end points, verdicts.

``compare(theory, measured)`` takes two :class:`~modspec.numerics.record.Trajectory` records
and pairs each mode key of the theory with the same key of a simulated or trained network
(mode strengths are projections on the *analytic* singular
vectors, so keys pair without any matching) and reports, with time in epochs:

* ``modes[key]``: ``max_abs`` = max over t of |mean-over-seeds simulation − theory|,
  ``rel`` = ``max_abs`` divided by the mode's theoretical end value (its fixed point when the
  horizon reaches it), ``final_abs`` at the last time;
* ``half_rise[key]``: the first time a mode reaches half its theoretical end value (linear
  interpolation between epochs), in theory and in simulation, and their relative difference;
* ``quadrant_norms[q]``: final values and absolute error;
* ``systematicity``: the simulation's final ``‖Gx→Oy‖``, ``‖Ox→Oy − S‖`` (when the dataset
  and the final map are known) and ``‖Ox→Gy‖``;
* ``verdicts``: one per check, each ``{"passed", "value", "tolerance", "what"}`` with the
  tolerance it was judged by (defaults in :data:`TOLERANCES`, overridable).

The theory's arrays are (T,) (a batch of predictions is not compared); when its times
differ from the measurement's, it is interpolated onto them. Which theory a run is compared
with is decided by :func:`modspec.numerics.expectation.expect`; :mod:`.pipeline` chains
them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modspec.numerics.record import Trajectory, measured_half_rise
from modspec.theory.dataset import CompositionalDataset, Dataset
from modspec.theory.observables import rule_error

#: ``measured_half_rise`` is :mod:`modspec.numerics.record`'s, under the path it had.
__all__ = ["TOLERANCES", "Comparison", "check", "compare", "measured_half_rise",
           "systematicity"]

#: Default tolerances and what they bound.
TOLERANCES = {
    # max over time of |simulation − theory| / fixed point, per mode. Against the exact
    # per-epoch map (discrete time, the default) what is left is the random start: small
    # random weights are not balanced and aligned, which shifts each sigmoid by a little
    # (up to a few per cent of a* on D0). Against the gradient flow (continuous time) the
    # finite step adds a lag: near the steepest point, slope a*·s/(2τ), a delay δt shows as
    # an amplitude error a*·s·δt/(2τ), about 7 % of a* for π1 of D0 at lr 0.005. Hence 10 %.
    "mode_rel": 0.10,
    # |t½(simulation) − t½(theory)| / t½(theory), per mode
    "half_rise_rel": 0.05,
    # |final quadrant norm, simulation − theory|
    "quadrant_abs": 5e-3,
    # a quantity the theory says is exactly zero (e.g. ‖Gx→Oy‖ of a segregated network)
    "zero": 1e-6,
}


@dataclass(frozen=True, eq=False)
class Comparison:
    """The report of :func:`compare`; ``passed`` is true when every verdict passed."""

    modes: dict[str, dict[str, float]]
    half_rise: dict[str, dict[str, float]]
    quadrant_norms: dict[str, dict[str, float]]
    systematicity: dict[str, float]
    verdicts: dict[str, dict[str, Any]]
    tolerances: dict[str, float] = field(default_factory=dict)
    outside: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(v["passed"] for v in self.verdicts.values())

    def as_dict(self) -> dict[str, Any]:
        return {"modes": self.modes, "half_rise": self.half_rise,
                "quadrant_norms": self.quadrant_norms, "systematicity": self.systematicity,
                "verdicts": self.verdicts, "tolerances": self.tolerances,
                "passed": self.passed, "outside_domain": self.outside}


def compare(theory: Trajectory, measured: Trajectory, *,
            dataset: CompositionalDataset | Dataset | None = None,
            fixed_points: Mapping[str, float] | None = None,
            converged: Mapping[str, float] | None = None,
            tolerances: Mapping[str, float] | None = None,
            check_trajectories: bool = True, own_end: bool = False,
            judge_end_points: bool = True,
            outside: Mapping[str, str] | None = None,
            steep: Mapping[str, str] | None = None) -> Comparison:
    """Compare the theory of a run with its measurement (see the module docstring).

    ``fixed_points`` {key: a*} gives each mode's end value (default: the theory's last
    value); ``converged`` {quadrant: norm} the theory's end point (default: the theory's
    last quadrant norms). ``check_trajectories=False`` keeps the trajectory numbers but judges
    only end points (e.g. for a non-linear network, whose trajectories the linear theory does
    not claim to describe). ``own_end=True`` measures the simulation's half-rise time against
    half of its *own* final value (for non-linear networks, whose end point differs);
    ``judge_end_points=False`` reports the final quadrant norms without verdicts.
    ``outside`` {mode key: why}: modes outside the theory's domain
    (:mod:`modspec.numerics.domain`), whose trajectory and half-rise are reported, never
    judged (``Comparison.outside``); ``steep`` {mode key: why}: modes whose half-rise is
    judged but whose trajectory is not (a rise so steep that the delay the theory allows
    moves it by more than the tolerance), also listed in ``Comparison.outside``.
    """
    tol = {**TOLERANCES, **(tolerances or {})}
    outside, steep = dict(outside or {}), dict(steep or {})
    t_sim, t_theory = np.asarray(measured.t, dtype=float), np.asarray(theory.t, dtype=float)
    sim = measured.averaged()

    def on_sim_times(values: Any) -> np.ndarray:
        return _on_times(values, t_theory, t_sim)

    modes, rises = _mode_errors(theory, sim, t_sim, on_sim_times, fixed_points, own_end)
    verdicts = _mode_verdicts(modes, rises, tol, outside, steep) if check_trajectories else {}
    target = dict(converged) if converged else {
        q: float(on_sim_times(v)[-1]) for q, v in theory.quadrant_norms.items()}
    quads = {q: {"theory": float(value), "simulation": float(sim.quadrant_norms[q][-1]),
                 "abs": abs(float(sim.quadrant_norms[q][-1]) - float(value))}
             for q, value in target.items() if q in sim.quadrant_norms}
    if judge_end_points:
        verdicts |= {f"end point {q}": check(v["abs"], tol["quadrant_abs"],
                                             f"|final ‖{q}‖ sim − theory|")
                     for q, v in quads.items()}
    system = systematicity(measured, dataset)
    skipped = {k: str(v) for k, v in {**steep, **outside}.items() if k in modes}
    return Comparison(modes, rises, quads, system, verdicts, tol,
                      skipped if check_trajectories else {})


def _on_times(values: Any, t_theory: np.ndarray, t_sim: np.ndarray) -> np.ndarray:
    """A theory's curve (T,) at the measurement's times (interpolated where they differ)."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 1:
        raise ValueError("compare() needs one prediction: arrays of shape (T,)")
    if t_theory.shape == t_sim.shape and np.allclose(t_theory, t_sim):
        return v
    return np.interp(t_sim, t_theory, v)


def _mode_errors(theory: Trajectory, sim: Trajectory, t_sim: np.ndarray,
                 on_sim_times: Any, fixed_points: Mapping[str, float] | None,
                 own_end: bool) -> tuple[dict[str, dict], dict[str, dict]]:
    """Per mode key of both records: the trajectory errors against the mode's end value
    (``fixed_points``, else the theory's last value) and the half-rise times."""
    modes, rises = {}, {}
    for key, pred in theory.modes.items():
        if key not in sim.modes:
            continue
        p = on_sim_times(pred)
        s = np.asarray(sim.modes[key], dtype=float)
        end = float(fixed_points[key]) if fixed_points and key in fixed_points else float(p[-1])
        err = np.abs(s - p)
        scale = abs(end) if end else 1.0
        modes[key] = {"max_abs": float(err.max()), "rel": float(err.max() / scale),
                      "final_abs": float(err[-1]), "end": end}
        t_th = measured_half_rise(t_sim, p, end)
        t_si = measured_half_rise(t_sim, s, float(s[-1]) if own_end else end)
        rises[key] = {"theory": t_th, "simulation": t_si,
                      "rel": float(abs(t_si - t_th) / t_th) if t_th > 0 else float("nan")}
    return modes, rises


def _mode_verdicts(modes: dict[str, dict], rises: dict[str, dict], tol: Mapping[str, float],
                   outside: Mapping[str, str], steep: Mapping[str, str]) -> dict[str, Any]:
    """The trajectory (not of a ``steep`` mode) and half-rise verdicts of every mode inside
    the theory's domain (not ``outside``)."""
    verdicts = {}
    for key in modes:
        if key in outside:
            continue
        if key not in steep:
            verdicts[f"trajectory {key}"] = check(
                modes[key]["rel"], tol["mode_rel"],
                f"max_t |a_sim − a_theory| / a* for mode {key}")
        t_th = rises[key]["theory"]
        if np.isfinite(t_th) and t_th > 0:
            verdicts[f"half-rise {key}"] = check(
                rises[key]["rel"], tol["half_rise_rel"],
                f"|t½ sim − t½ theory| / t½ theory for mode {key}")
    return verdicts


def systematicity(measured: Trajectory, dataset: CompositionalDataset | Dataset | None = None
                  ) -> dict[str, float]:
    """Final ``‖Gx→Oy‖``, ``‖Ox→Gy‖`` (mean over seeds), ``‖Ox→Oy − S‖`` when the dataset
    and the final map are known, and the final held-out compositional error when recorded."""
    out = {q: measured.final("quadrant_norms", q)
           for q in ("Gx->Oy", "Ox->Gy") if q in measured.quadrant_norms}
    if dataset is not None and getattr(dataset, "selection", None) is not None \
            and measured.final_map is not None:
        out["rule_error"] = float(np.mean(rule_error(dataset, measured.final_map)))
    held = measured.final_heldout()
    if held is not None:
        out["heldout_compositional_error"] = held
    return out


def check(value: float, tolerance: float, what: str, below: bool = True) -> dict[str, Any]:
    """One check of a comparison: passes when ``value ≤ tolerance`` (or ``> tolerance`` when
    not ``below``); ``{"passed", "value", "tolerance", "test", "what"}``."""
    ok = bool(value <= tolerance) if below else bool(value > tolerance)
    return {"passed": ok, "value": float(value), "tolerance": float(tolerance),
            "test": "≤" if below else ">", "what": what}
