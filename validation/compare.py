"""Theory against simulation: mode-aligned errors, half-rise times, end points, verdicts.

``compare(prediction, simulation)`` pairs each mode key of the theory with the same key of a
simulated or trained network (mode strengths are projections on the *analytic* singular
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

The prediction's arrays are (T,) (a batch of predictions is not compared); when its times
differ from the simulation's, it is interpolated onto them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Default tolerances and what they bound.
TOLERANCES = {
    # max over time of |simulation − theory| / fixed point, per mode. The theory is the
    # gradient flow of balanced, aligned weights; gradient descent with steps of 1/τ and random
    # small weights delays each sigmoid by a few per cent of its half-rise time (≈ s/(2τ) from
    # the step alone), and near the steepest point, slope a*·s/(2τ), a delay δt shows as an
    # amplitude error a*·s·δt/(2τ): about 7 % of a* for π1 of D0 at lr 0.005. Hence 10 %.
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

    @property
    def passed(self) -> bool:
        return all(v["passed"] for v in self.verdicts.values())

    def as_dict(self) -> dict[str, Any]:
        return {"modes": self.modes, "half_rise": self.half_rise,
                "quadrant_norms": self.quadrant_norms, "systematicity": self.systematicity,
                "verdicts": self.verdicts, "tolerances": self.tolerances,
                "passed": self.passed}


def seed_mean(values: Any) -> np.ndarray:
    """Mean over seeds of a (seeds, T) array; a (T,) array is returned as is."""
    a = np.asarray(values, dtype=float)
    return a.mean(axis=0) if a.ndim == 2 else a


def half_rise_time(t: np.ndarray, a: np.ndarray, target: float) -> float:
    """First time ``a`` reaches ``target/2`` (linear interpolation), NaN if never.

    Assumes ``a`` starts below ``target/2`` (small initialisation).
    """
    half = target / 2
    above = np.flatnonzero(a >= half)
    if above.size == 0 or target <= 0:
        return float("nan")
    k = int(above[0])
    if k == 0:
        return float(t[0])
    t0, t1, a0, a1 = t[k - 1], t[k], a[k - 1], a[k]
    return float(t0 + (half - a0) * (t1 - t0) / (a1 - a0))


def final_map(simulation: Any) -> np.ndarray | None:
    """The final total map (seeds, outputs, inputs) of a simulation, when it can be rebuilt."""
    full = getattr(simulation, "final_map", None)
    if full is not None:
        return np.asarray(full)
    lay = getattr(simulation, "layout", None)
    if lay is None:
        return None
    from modspec.numerics.flow import module_maps, total_map

    return total_map(lay, module_maps(lay, simulation.weights))


def rule_error(W: np.ndarray, dataset: Any) -> np.ndarray:
    """``‖W[Ox→Oy] − S‖_F`` per seed for the family (``S`` the output-feature selection)."""
    oy, ox = dataset.output_blocks["Oy"], dataset.input_blocks["Ox"]
    return np.sqrt(((W[..., oy[0]:oy[1], ox[0]:ox[1]] - dataset.selection) ** 2)
                   .sum(axis=(-1, -2)))


def compare(prediction: Any, simulation: Any, *, dataset: Any = None,
            fixed_points: Mapping[str, float] | None = None,
            converged: Mapping[str, float] | None = None,
            tolerances: Mapping[str, float] | None = None,
            check_trajectories: bool = True, own_end: bool = False,
            judge_end_points: bool = True) -> Comparison:
    """Compare a theory prediction with a simulation (see the module docstring).

    ``fixed_points`` {key: a*} gives each mode's end value (default: the prediction's last
    value); ``converged`` {quadrant: norm} the theory's end point (default: the prediction's
    last quadrant norms). ``check_trajectories=False`` keeps the trajectory numbers but judges
    only end points (e.g. for a non-linear network, whose trajectories the linear theory does
    not claim to describe). ``own_end=True`` measures the simulation's half-rise time against
    half of its *own* final value (for non-linear networks, whose end point differs);
    ``judge_end_points=False`` reports the final quadrant norms without verdicts.
    """
    tol = {**TOLERANCES, **(tolerances or {})}
    t_sim = np.asarray(simulation.t, dtype=float)

    def on_sim_times(values: Any) -> np.ndarray:
        v = np.asarray(values, dtype=float)
        if v.ndim != 1:
            raise ValueError("compare() needs one prediction: arrays of shape (T,)")
        t_pr = np.asarray(prediction.t, dtype=float)
        if t_pr.shape == t_sim.shape and np.allclose(t_pr, t_sim):
            return v
        return np.interp(t_sim, t_pr, v)

    modes, rises, verdicts = {}, {}, {}
    for key, pred in (prediction.modes or {}).items():
        if key not in simulation.modes:
            continue
        p = on_sim_times(pred)
        s = seed_mean(simulation.modes[key])
        end = float(fixed_points[key]) if fixed_points and key in fixed_points else float(p[-1])
        err = np.abs(s - p)
        scale = abs(end) if end else 1.0
        modes[key] = {"max_abs": float(err.max()), "rel": float(err.max() / scale),
                      "final_abs": float(err[-1]), "end": end}
        t_th = half_rise_time(t_sim, p, end)
        t_si = half_rise_time(t_sim, s, float(s[-1]) if own_end else end)
        rises[key] = {"theory": t_th, "simulation": t_si,
                      "rel": float(abs(t_si - t_th) / t_th) if t_th > 0 else float("nan")}
        if check_trajectories:
            verdicts[f"trajectory {key}"] = _verdict(
                modes[key]["rel"], tol["mode_rel"],
                f"max_t |a_sim − a_theory| / a* for mode {key}")
            if np.isfinite(t_th) and t_th > 0:
                verdicts[f"half-rise {key}"] = _verdict(
                    rises[key]["rel"], tol["half_rise_rel"],
                    f"|t½ sim − t½ theory| / t½ theory for mode {key}")

    quads = {}
    target = dict(converged) if converged else {
        q: float(on_sim_times(v)[-1]) for q, v in (prediction.quadrant_norms or {}).items()}
    for q, value in target.items():
        if q not in simulation.quadrant_norms:
            continue
        s_final = float(seed_mean(simulation.quadrant_norms[q])[-1])
        quads[q] = {"theory": float(value), "simulation": s_final,
                    "abs": abs(s_final - float(value))}
        if judge_end_points:
            verdicts[f"end point {q}"] = _verdict(quads[q]["abs"], tol["quadrant_abs"],
                                                  f"|final ‖{q}‖ sim − theory|")

    system = systematicity(simulation, dataset)
    return Comparison(modes, rises, quads, system, verdicts, tol)


def systematicity(simulation: Any, dataset: Any = None) -> dict[str, float]:
    """Final ``‖Gx→Oy‖``, ``‖Ox→Gy‖`` (mean over seeds) and ``‖Ox→Oy − S‖`` when known."""
    out = {}
    for q in ("Gx->Oy", "Ox->Gy"):
        if q in simulation.quadrant_norms:
            out[q] = float(seed_mean(simulation.quadrant_norms[q])[-1])
    if dataset is not None and hasattr(dataset, "selection"):
        W = final_map(simulation)
        if W is not None:
            out["rule_error"] = float(np.mean(rule_error(W, dataset)))
    held = getattr(simulation, "heldout", None)
    if held is not None:
        out["heldout_compositional_error"] = float(
            np.mean(np.asarray(held["compositional_error"])[..., -1]))
    return out


def flow_prediction(dataset: Any, network: Any, training: Any,
                    time: str = "continuous") -> Any:
    """The exact matrix dynamics from the training's own initial weights.

    The theory of a coupled network (modules sharing an output block) has no mode-wise closed
    form and its end point depends on the initial weights, so it is compared seed by seed with
    the exact dynamics from the same start: the gradient flow
    (:func:`modspec.numerics.integrate.integrate_flow`) for ``time="continuous"``, or matrix
    gradient descent (:func:`modspec.numerics.simulate.simulate`) for ``time="discrete"``.
    Returns a prediction-like object: ``t`` and {key: (T,)} means over seeds.
    """
    from types import SimpleNamespace

    train_objects = getattr(training, "train_objects", None)
    objects = None if train_objects is None else list(train_objects)
    if time == "discrete":
        from modspec.numerics.simulate import simulate

        t = np.asarray(training.t, dtype=float)
        flow = simulate(dataset, network, training.lr, int(t[-1]), init=training.init,
                        train_objects=objects)
        idx = t.astype(int)
        flow = SimpleNamespace(**{name: {k: v[:, idx] for k, v in getattr(flow, name).items()}
                                  for name in ("modes", "quadrant_norms", "loss")})
    else:
        from modspec.numerics.integrate import integrate_flow

        flow = integrate_flow(dataset, network, training.t, training.lr, training.init,
                              objects)
    return SimpleNamespace(
        t=np.asarray(training.t, dtype=float),
        modes={k: v.mean(axis=0) for k, v in flow.modes.items()},
        quadrant_norms={k: v.mean(axis=0) for k, v in flow.quadrant_norms.items()},
        loss={k: v.mean(axis=0) for k, v in flow.loss.items()})


def _verdict(value: float, tolerance: float, what: str, below: bool = True) -> dict[str, Any]:
    ok = bool(value <= tolerance) if below else bool(value > tolerance)
    return {"passed": ok, "value": float(value), "tolerance": float(tolerance),
            "test": "≤" if below else ">", "what": what}


def verdict(value: float, tolerance: float, what: str, below: bool = True) -> dict[str, Any]:
    """A verdict dict: passes when ``value ≤ tolerance`` (or ``> tolerance`` if not below)."""
    return _verdict(value, tolerance, what, below)
