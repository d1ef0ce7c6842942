"""``modspec validate --network``: the race of a gated network judged against training.

docs/theory/gated.md §4. A gated network is trained (the NumPy simulator,
:func:`~modspec.numerics.gated_simulate.gated_simulate`, or PyTorch,
:func:`~modspec.validation.gated_training.gated_train`) and its record
(:func:`~modspec.numerics.gated_predict.run_record`) compared with the theory's
(:func:`~modspec.numerics.gated_predict.gated_prediction`) by the comparison of today's
wirings (:func:`~modspec.validation.comparison.compare`): pathway strengths per mode keyed
``"<α>:<pathway>"`` (trajectory and half-rise verdicts, relative to the theory's end value),
pathway norms ``‖W_p‖_F`` at the end (end-point verdicts). Beside it:

* **winner** — on every mode, the pathway whose strength rises first in training is the
  theory's winner;
* **zero-shot error** — for every untrained pathway, its error on the data of its two ends
  (:func:`~modspec.numerics.gated_report.pathway_errors`) at the end of training, averaged
  over seeds, against the theory's, ``|measured − theory| ≤ heldout_abs``: the race's end
  from the aligned start; from random starts the derived matrix dynamics from each seed's
  own start (:mod:`modspec.numerics.gated_zero_shot`).

Which start: from the **aligned start** (``start``, every seed the same) the race is exactly
gradient descent, and everything above is judged. From a **random start** (``start=None``:
``init_std``, seeds) the race describes no trajectory: only the end points of the trained
pathways and the zero-shot errors are judged, the rest is reported. Where the
basis condition fails the theory is the exact matrix dynamics derived by SymPy
(:func:`~modspec.theory.gated_flow.gated_flow`, stepped epoch by epoch with the exact gated
statistics) from each seed's own start: the pathway norms are judged at every epoch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from modspec.numerics.gated_predict import (
    GatedTheory,
    aligned_start,
    gated_prediction,
    gated_theory,
    stepped_run,
)
from modspec.numerics.gated_report import pathway_errors
from modspec.numerics.gated_simulate import GatedRun, gated_initial_weights, gated_simulate
from modspec.numerics.gated_zero_shot import derived_run, zero_shot_errors
from modspec.numerics.record import Trajectory
from modspec.theory.errors import bad
from modspec.theory.gated import GatedNetwork
from modspec.theory.gated_data import GatedData, active_pathways, path_label

from .comparison import Comparison, check, compare
from .pipeline import CHECK_TOLERANCES

__all__ = ["GatedAssessment", "validate_network", "gated_payload", "gated_summary",
           "write_gated_outputs"]


@dataclass(frozen=True, eq=False)
class GatedAssessment:
    """The theory, the run, their records and the comparison (with the extra verdicts)."""

    theory: GatedTheory
    run: GatedRun
    predicted: Trajectory
    measured: Trajectory
    comparison: Comparison
    zero_shot: dict[str, dict[str, float]]
    start: float | None

    @property
    def passed(self) -> bool:
        return self.comparison.passed


def _train(network: GatedNetwork, data: GatedData, backend: str, **kw: Any) -> GatedRun:
    if backend == "numpy":
        return gated_simulate(network, data, **kw)
    from .gated_training import gated_train

    return gated_train(network, data, **kw)


def validate_network(network: GatedNetwork, data: GatedData, *, lr: float, epochs: int,
                     start: float | None = None, init_std: float = 1e-2, seeds: int = 1,
                     seed: int = 0, backend: str = "numpy", device: str = "cpu",
                     dtype: str = "float64") -> GatedAssessment:
    """Train and judge (see the module docstring); ``backend`` numpy or torch."""
    if backend not in ("numpy", "torch"):
        raise bad("backend", backend, "must be numpy or torch for a gated network")
    theory = gated_theory(network, data)
    if start is not None and theory.modes is None:
        raise bad("start", start, "needs the basis condition (an aligned start is built on "
                  "the shared singular vectors): " + theory.condition.reason)
    if start is not None:
        init = aligned_start(theory, start, seeds)
    else:
        init = gated_initial_weights(network, init_std, seeds, seed)
    options: dict[str, Any] = {"device": device, "dtype": dtype} if backend == "torch" else {}

    def step(W: dict[str, np.ndarray], n: int) -> GatedRun:
        return _train(network, data, backend, lr=lr, epochs=n, init=W, keep_weights=True,
                      **options)

    run, measured = stepped_run(theory, step, epochs, init,
                                kind="training" if backend == "torch" else "simulation",
                                meta={"backend": backend, "start": start,
                                      "init_std": init_std,
                                      "device": device if backend == "torch" else "cpu"})
    predicted = _prediction(network, data, theory, lr, epochs,
                            start if start is not None else init_std, run)
    aligned = start is not None and theory.modes is not None
    trained = {path_label(p) for p in active_pathways(network, data.P)}
    final = {k: float(v[-1]) for k, v in predicted.quadrant_norms.items()
             if aligned or theory.modes is None or k in trained}
    ends = {k: float(v[-1]) for k, v in predicted.modes.items()}
    comp = compare(predicted, measured, fixed_points=ends, converged=final,
                   tolerances=CHECK_TOLERANCES, check_trajectories=aligned)
    verdicts = dict(comp.verdicts)
    if theory.modes is None:
        sim = measured.averaged()
        for k, v in predicted.quadrant_norms.items():
            gap = float(np.max(np.abs(np.asarray(sim.quadrant_norms[k]) - v)))
            verdicts[f"trajectory {k}"] = check(gap, CHECK_TOLERANCES["quadrant_abs"],
                                                f"max_t |‖W_p‖ sim − theory| for pathway {k}")
    untrained = [path_label(p) for p in network.pathways if path_label(p) not in trained]
    zero_shot = _zero_shot(network, data, theory, predicted, start, run, untrained, verdicts)
    if aligned:
        verdicts.update(_winner_verdicts(predicted, measured))
    comp = Comparison(comp.modes, comp.half_rise, comp.quadrant_norms, comp.systematicity,
                      verdicts, comp.tolerances)
    return GatedAssessment(theory, run, predicted, measured, comp, zero_shot, start)


def _prediction(network: GatedNetwork, data: GatedData, theory: GatedTheory, lr: float, epochs: int,
                strength: float, run: GatedRun) -> Trajectory:
    """The theory's trajectory: with the basis condition, the race from the aligned start of
    ``strength`` (from a random start, its trained pathways end where training ends: only those
    end points are judged); without it, the derived matrix dynamics from each seed's own start,
    averaged over seeds."""
    if theory.modes is not None:
        return gated_prediction(theory, lr, epochs, strength)

    def exact(W: dict[str, np.ndarray], n: int) -> GatedRun:
        return derived_run(network, data, lr, n, W, keep_weights=True)

    _, own = stepped_run(theory, exact, epochs, run.init)
    return Trajectory(own.t, {}, own.mean()["quadrant_norms"], own.mean()["loss"],
                      seed_axis=False, kind="theory", time="discrete", lr=lr,
                      tau=run.tau, meta={"solution": "matrix dynamics",
                                         "basis_condition": theory.condition.reason})


def _zero_shot(network: GatedNetwork, data: GatedData, theory: GatedTheory, predicted: Trajectory,
               start: float | None, run: GatedRun, untrained: list[str],
               verdicts: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The zero-shot error of each untrained pathway, simulated and predicted; adds a verdict
    on their gap to ``verdicts``."""
    zero_shot: dict[str, dict[str, float]] = {}
    if not untrained:
        return zero_shot
    errs = zero_shot_errors(network, data, run.weights)
    theory_errs = _theory_errors(theory, predicted, start, run)
    for k in untrained:
        got = float(np.mean(errs[k]))
        zero_shot[k] = {"simulation": got, "theory": theory_errs[k]}
        verdicts[f"zero-shot {k}"] = check(abs(got - zero_shot[k]["theory"]),
                                           CHECK_TOLERANCES["heldout_abs"],
                                           f"|zero-shot error of {k} sim − theory|")
    return zero_shot


def _winner_verdicts(predicted: Trajectory, measured: Trajectory) -> dict[str, Any]:
    """On every mode, the theory's winner half-rises first in training too (ties allowed)."""
    out = {}
    for a, name in predicted.meta.get("winner", {}).items():
        rises = _rises(measured, a)
        if name is None or name not in rises:
            continue
        first = min(rises.values())
        out[f"winner mode {a}"] = check(
            (rises[name] - first) / first if first > 0 else 0.0,
            CHECK_TOLERANCES["half_rise_rel"],
            f"(t½ of the theory's winner {name} − first t½) / first t½ in training, "
            f"mode {a} (ties allowed)")
    return out


def _theory_errors(theory: GatedTheory, predicted: Trajectory, start: float | None,
                   run: GatedRun) -> dict[str, float]:
    """Every untrained pathway's error at the theory's end weights: the race's from the
    aligned start; otherwise the derived matrix dynamics from each seed's own start
    (:mod:`modspec.numerics.gated_zero_shot`), averaged over seeds."""
    net, data = theory.network, theory.data
    if theory.modes is None or start is None:
        end = derived_run(net, data, float(predicted.lr), int(predicted.t[-1]), run.init)
        return {k: float(np.mean(v)) for k, v in
                zero_shot_errors(net, data, end.weights).items()}
    from modspec.numerics.gated_race import race
    from modspec.theory.gated_modes import aligned_weights

    begin = {a: {e: start for e in es} for a, es in theory.modes.edges.items()}
    result = race(theory.modes, begin, float(predicted.lr), int(predicted.t[-1]))
    ends = {a: {e: float(v[-1]) for e, v in bs.items()}
            for a, bs in result["strengths"].items()}
    return pathway_errors(net, data, aligned_weights(theory.modes, ends))


def _rises(measured: Trajectory, mode: str) -> dict[str, float]:
    """Half-rise epoch (towards its own end) of the mean strength of every pathway of
    ``mode`` that rises."""
    from modspec.numerics.gated_race import half_rise_time

    sim = measured.averaged()
    rises = {}
    for key, v in sim.modes.items():
        a, _, name = key.partition(":")
        if a == mode:
            r = half_rise_time(np.asarray(v))
            if r is not None:
                rises[name] = r
    return rises


# ----------------------------------------------------------------------- outputs
def gated_payload(assessment: GatedAssessment) -> dict[str, Any]:
    """``comparison.json``: the comparison, the network, the solution, the basis
    condition, the zero-shot errors and ``tau_epochs``."""
    out = assessment.comparison.as_dict()
    out["network"] = assessment.theory.network.name
    out["tau_epochs"] = float(assessment.run.tau)
    out["theory"] = {"solution": assessment.predicted.meta.get("solution"),
                     "start": assessment.start,
                     "basis_condition": {"holds": assessment.theory.condition.holds,
                                         "reason": assessment.theory.condition.reason}}
    out["zero_shot"] = assessment.zero_shot
    return out


def write_gated_outputs(assessment: GatedAssessment, out: str, figures: bool = True) -> None:
    """``comparison.json``, ``training.json`` and, with ``figures``, ``modes.png`` (where the
    race applies), ``pathways.png`` (pathway norms) and ``losses.png``, written atomically."""
    from modspec.theory.cache import atomic_write_text

    from .study.report import jsonable

    atomic_write_text(os.path.join(out, "comparison.json"),
                      json.dumps(jsonable(gated_payload(assessment)), indent=2))
    atomic_write_text(os.path.join(out, "training.json"), assessment.measured.to_json())
    if not figures:
        return
    from . import figures as fig

    th, run = assessment.predicted, assessment.measured
    title = f"{assessment.theory.network.name} (gated), lr {run.lr:g}"
    if th.modes:
        fig.modes_figure(th, run, os.path.join(out, "modes.png"), title)
    fig.quadrants_figure(th, run, os.path.join(out, "pathways.png"), title)
    fig.losses_figure(th, run, os.path.join(out, "losses.png"), title)


def gated_summary(assessment: GatedAssessment) -> str:
    """The lines ``modspec validate --network`` prints: the checks by kind (trajectory,
    half-rise, end point, zero-shot, winner) with the worst value and its tolerance, every
    failed check, then the zero-shot errors of the untrained pathways (training, mean)."""
    comp = assessment.comparison
    passed = sum(v["passed"] for v in comp.verdicts.values())
    sol = assessment.predicted.meta.get("solution")
    start = ("aligned start" if assessment.start is not None else "random start")
    lines = [f"{assessment.theory.network.name} (gated, {start}): {passed}/"
             f"{len(comp.verdicts)} checks passed (theory: {sol})"]
    kinds: dict[str, list[dict[str, Any]]] = {}
    for key, v in comp.verdicts.items():
        kinds.setdefault(key.rsplit(" ", 1)[0] if key.startswith("winner") else
                         key.split(" ", 1)[0] if not key.startswith("end point") else
                         "end point", []).append(v)
    for kind, vs in kinds.items():
        worst = max(vs, key=lambda v: v["value"] if v["test"] == "≤" else -v["value"])
        ok = sum(v["passed"] for v in vs)
        lines.append(f"  [{'ok ' if ok == len(vs) else 'BAD'}] {kind}: {ok}/{len(vs)}, "
                     f"worst {worst['value']:.6g} {worst['test']} {worst['tolerance']:.3g}")
    for key, v in comp.verdicts.items():
        if not v["passed"]:
            lines.append(f"    failed {key}: {v['value']:.6g} {v['test']} "
                         f"{v['tolerance']:.3g} ({v['what']})")
    run = assessment.run
    if run.seconds is not None and run.t[-1] > 0:
        per_epoch = run.seconds / float(run.t[-1])
        lines.append(f"  training on {assessment.measured.meta.get('device', 'cpu')}: "
                     f"{run.seconds:.3g} s, {1e3 * per_epoch:.3g} ms per epoch, "
                     f"{1e3 * per_epoch / run.loss.shape[0]:.3g} ms per epoch per seed")
    if assessment.zero_shot:
        lines.append("  zero-shot error of untrained pathways (mean): " + ", ".join(
            f"{k} {v['simulation']:.3g}" for k, v in list(assessment.zero_shot.items())[:6])
            + (" …" if len(assessment.zero_shot) > 6 else ""))
    return "\n".join(lines)
