"""The study's parts that train networks: the claims (linear and ReLU, PyTorch), Compositional
MNIST (dense against split CNNs) and the learning rules beyond gradient descent (NumPy).

Each is a function ``part(ctx) -> Part`` registered in :data:`~.parts.PARTS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from modspec.theory import architectures as arch
from modspec.theory.derivation import Derivation, derive
from modspec.theory.rules import PRESETS
from modspec.validation.comparison import compare, systematicity
from modspec.validation.study.context import Context
from modspec.validation.study.report import Claim, Part
from modspec.validation.study.rules import (
    CLAIM_QUADRANTS,
    GD_THEORY,
    SAME_MAP_REL,
    SETTINGS,
    RuleOutcome,
    outcome,
    rule_run,
    theories,
)

if TYPE_CHECKING:  # the claims module imports the training code: only when a part runs
    from modspec.numerics.record import Trajectory
    from modspec.validation.cmnist.config import CMNISTConfig
    from modspec.validation.study.claims import ClaimsConfig, ClaimsReport

__all__ = ["RULES_SIZES", "part_claims_linear", "part_claims_relu", "part_cmnist",
           "part_learning_rules"]


# --------------------------------------------------------------------------- the claims
def _claims_rows(part: Part, report: ClaimsReport, label: str) -> None:
    for n, c in report.claims.items():
        checks = c["checks"]
        failing = [f"{k}: {v['value']:.4g} (needs {v['test']} {v['tolerance']:.3g})"
                   for k, v in checks.items() if not v["passed"]]
        shown = {k: round(float(v["value"]), 4) for k, v in list(checks.items())[:4]}
        part.claims.append(Claim(
            f"{label} claim {n}: {c['title']}", f"{len(checks)} checks within tolerance",
            shown, "per check (see results.json)", bool(c["passed"]),
            "; ".join(failing) if failing else f"all {len(checks)} checks pass"))


def _claims_part(name: str, title: str, label: str, config: ClaimsConfig, text: str) -> Part:
    from modspec.validation.study.claims import run_claims

    report = run_claims(config=config)
    part = Part(name, title)
    part.text = text
    part.numbers = report.as_dict()
    _claims_rows(part, report, label)
    return part


def part_claims_linear(ctx: Context) -> Part:
    """The four claims of docs/theory/dataset.md by trained linear PyTorch networks."""
    from modspec.validation.study.claims import ClaimsConfig, quick

    base = ClaimsConfig.of(device=ctx.device, seed=ctx.seed)
    config = quick(base) if ctx.quick else base
    run = config.run
    return _claims_part(
        "claims_linear", "Claims 1–4 with linear networks (PyTorch)", "linear", config,
        f"lr {run.lr}, {run.epochs} epochs, {run.seeds} seeds, objects "
        f"{list(config.heldout)} held out in the held-out runs; theory in {run.time} time.")


def part_claims_relu(ctx: Context) -> Part:
    """The claims for ReLU networks; the linear theory is the reference, not a promise."""
    from modspec.validation.study.claims import RELU, quick

    config = (quick(RELU) if ctx.quick else RELU).replace(device=ctx.device, seed=ctx.seed)
    return _claims_part(
        "claims_relu", "ReLU networks (hidden 50, small initialisation)", "ReLU", config,
        "Quadrant norms of ReLU networks are functional: Frobenius norms of the mean "
        "input–output Jacobian blocks. The deviation of their mode trajectories from the "
        "linear theory is reported in results.json; a failing verdict here is a measured "
        "difference between ReLU and linear networks.")


# ----------------------------------------------------------------- Compositional MNIST
def part_cmnist(ctx: Context) -> Part:
    """Compositional MNIST: dense vs split CNNs trained to the plateau rule, held-out digit
    combinations; the verdict where training stopped and the claim over time."""
    from tqdm.auto import tqdm

    from modspec.validation import figures
    from modspec.validation.cmnist.run import run

    config = _cmnist_config(ctx)
    say = None if ctx.quiet else (lambda line: tqdm.write(f"  cmnist: {line}"))
    summary = run(config, str(ctx.out / "cmnist"), say)
    what = "bundled 8×8 digits" if ctx.source == "digits" else ctx.source
    part = Part("cmnist", f"Compositional MNIST ({what})")
    v, conv, over = summary["verdict"], summary["convergence"], summary["over_time"]
    stopped = conv["stopped_epoch"]
    converged = ", ".join(f"{a} at epoch {e}" if e is not None else f"{a} not by the cap"
                          for a, e in conv["converged_epoch"].items())
    part.text = (f"{config.positions} positions, {config.n_train} training images, "
                 f"{config.holdout:.0%} of digit tuples held out, init {config.init}, "
                 f"{config.seeds} seeds trained together. Errors normalised so an untrained "
                 "network starts near 1 (compositional /positions, non-compositional /r²). "
                 f"Convergence rule (docs/theory/cmnist.md): {conv['rule']}. Converged: "
                 f"{converged}; stopped at epoch {stopped}. Verdict at epoch {stopped}: "
                 f"{v.get('rule', '')}. The second figure shows the paired difference "
                 "dense − split against epochs with its ± 2 sem band; the claim holds where "
                 "the band lies above zero.")
    part.numbers = {k: summary[k] for k in ("config", "data", "verdict", "convergence",
                                            "over_time")}
    part.numbers["holds_from_epoch"] = over.get("holds_from")
    part.numbers["final"] = {a: {"final": s["final"], "gap": s["gap"],
                                 "converged_epoch_per_seed": s["converged_epoch_per_seed"]}
                             for a, s in summary["archs"].items()}
    _cmnist_claims(part, config, summary)
    part.figures = ctx.draw("cmnist", figures.cmnist_figure, summary)
    if "holds_from" in over:
        part.figures += ctx.draw("cmnist_claim", figures.cmnist_claim_figure, summary)
    return part


def _cmnist_config(ctx: Context) -> CMNISTConfig:
    """The quick or the reference preset; the full study holds out whole digit tuples."""
    from modspec.validation.cmnist.cnn import parse_init
    from modspec.validation.cmnist.config import CMNISTConfig
    from modspec.validation.cmnist.presets import QUICK, REFERENCE

    preset = dict(QUICK if ctx.quick else REFERENCE)
    if not ctx.quick:
        preset["holdout"] = 0.1   # the sharper test: whole digit tuples never seen
    preset["init"] = parse_init(str(preset["init"]))
    return CMNISTConfig(source=ctx.source, seed=ctx.seed, device=ctx.device, **preset)


def _cmnist_claims(part: Part, config: CMNISTConfig, summary: dict[str, Any]) -> None:
    """Every network plateaued before the cap; the verdict where training stopped."""
    v, conv, over = summary["verdict"], summary["convergence"], summary["over_time"]
    stopped = conv["stopped_epoch"]
    part.claims.append(Claim(
        "CMNIST: every network's training error plateaued before the cap",
        f"≤ {config.epochs} epochs", conv["converged_epoch"],
        f"rule: fall < {config.plateau_tol} over {config.plateau_window} epochs, error ≤ half "
        "its start", conv["all_converged"], f"stopped at epoch {stopped}"))
    measured = {name: f"{m['dense_minus_split_mean']:.4f} ± "
                      f"{_sem_text(m['dense_minus_split_sem'])} ({m['status']})"
                for name, m in v.items() if isinstance(m, dict)}
    holds_from = over.get("holds_from")
    part.claims.append(Claim(f"CMNIST: {v['claim']} (at epoch {stopped})",
                             "dense − split > 2 sem on both metrics",
                             measured or v.get("reason", ""), "2 standard errors over seeds",
                             v["status"] == "holds",
                             f"verdict: {v['status']}; holds at every evaluation from epoch "
                             f"{holds_from}" if holds_from is not None else
                             f"verdict: {v['status']}; does not hold at the last evaluation"))


def _sem_text(sem: float | None) -> str:
    return "n/a" if sem is None else f"{sem:.4f}"



# ---------------------------------------------------------------------- learning rules
#: Sizes of the learning-rules part, quick and full: (seeds, record every … epochs). Both
#: keep the study's learning rates and epochs (the claim is about the end point, which needs
#: them); quick runs fewer seeds and records every 10th epoch.
RULES_SIZES = {True: (3, 10), False: (5, 2)}


def part_learning_rules(ctx: Context) -> Part:
    """The study's four learning rules on D0 (and gradient descent as the reference): mode
    strengths and quadrant norms over time against gradient descent's theory, the end point
    against ``W*`` and whether it is systematic (:mod:`modspec.validation.study.rules`)."""
    from modspec.validation import figures

    seeds, every = RULES_SIZES[ctx.quick]
    names = ["gradient-descent", *(r for r in ctx.rules or SETTINGS if r != "gradient-descent")]
    th = derive(ctx.dataset, arch.dense())
    part = Part("learning_rules", "Learning rules beyond gradient descent (D0)")
    lines, own = [], False
    for name in names:
        run = rule_run(name, seeds=seeds, seed=ctx.seed, record_every=every)
        o = outcome(name, run, th)
        curves = theories(th, run, PRESETS[name])
        against = {}
        for label, exp in curves:
            c = compare(exp.trajectory, run, fixed_points=exp.fixed_points,
                        converged=exp.end_point, judge_end_points=False)
            against[label] = {"method": exp.method,
                              "modes_max_abs": {k: v["max_abs"] for k, v in c.modes.items()},
                              "half_rise": c.half_rise}
        part.numbers[name] = _rule_numbers(ctx, o, run, against, every)
        _rule_claims(part, o, against)
        lines.append(_rule_line(o))
        own = own or any(exp.trajectory.modes for label, exp in curves if label != GD_THEORY)
        part.figures += ctx.draw(f"rules_{name}", figures.theories_figure,
                                 [(label, exp.trajectory) for label, exp in curves
                                  if exp.trajectory.modes], run,
                                 targets=o.target, title=name)
    part.text = _rules_text(th, seeds, o, lines, own)
    return part


def _rule_numbers(ctx: Context, o: RuleOutcome, run: Trajectory, against: dict[str, Any],
                  every: int) -> dict[str, Any]:
    """The numbers of one rule's run in ``results.json``."""
    return {
        "lr": o.lr, "epochs": o.epochs, "seeds": o.seeds, "record_every": every,
        "gamma": PRESETS[o.rule].gamma, "nabla": PRESETS[o.rule].nabla,
        "end_quadrant_norms_mean": o.norms_mean, "end_quadrant_norms_std": o.norms_std,
        "end_quadrant_norms_min": o.norms_min, "w_star_quadrant_norms": o.target,
        "distance_to_w_star_mean": o.distance_mean, "distance_to_w_star_std": o.distance_std,
        "systematicity": systematicity(run, ctx.dataset), "systematic": o.systematic,
        "same_map": o.same_map, "against": against,
        "quadrant_norms_mean": {q: np.mean(v, axis=0) for q, v in run.quadrant_norms.items()},
        "quadrant_norms_std": {q: np.std(v, axis=0) for q, v in run.quadrant_norms.items()},
        "t": run.t}


def _rule_claims(part: Part, o: RuleOutcome, against: dict[str, Any]) -> None:
    """One rule's claims: the end point's claim quadrants are W*'s, the map is not
    systematic, and (gradient descent) the discrete-time theory follows its modes."""
    name = o.rule
    for q in CLAIM_QUADRANTS:
        part.claims.append(Claim(
            f"{name}: end-point ‖{q.replace('->', '→')}‖ = W*'s",
            round(o.target[q], 4), f"{o.norms_mean[q]:.4f} ± {o.norms_std[q]:.1e}",
            f"relative {o.rel_tol:g} (|mean − W*| ≤ {o.rel_tol * o.target[q]:.4f})",
            o.within(q), f"mean − W* = {o.deviation(q):+.2e} "
            f"({'beyond' if o.shifted(q) else 'within'} the seeds' spread)"))
    part.claims.append(Claim(
        f"{name}: the map is not systematic", f"every seed ‖Gx→Oy‖ > {o.nonzero:g}",
        f"smallest ‖Gx→Oy‖ {o.norms_min['Gx->Oy']:.4f}; ‖W[Ox→Oy] − S‖ "
        f"{o.rule_error:.4f}", f"> {o.nonzero:g} (non-zero tolerance of the claims)",
        not o.systematic))
    if name == "gradient-descent":
        err = max(against[GD_THEORY]["modes_max_abs"].values())
        part.claims.append(Claim(
            "gradient-descent: discrete-time theory follows the mode strengths", "≤ 0.05",
            round(err, 4), "absolute 0.05, every mode", err <= 0.05,
            f"largest error {err:.4f} (lr {o.lr:g}, {o.seeds} seeds)"))


def _rule_line(o: RuleOutcome) -> str:
    """One rule's measured end point, in the part's text."""
    shifted = [q for q in o.norms_mean if o.shifted(q)]
    return (f"{o.rule} (γ {PRESETS[o.rule].gamma:g}, ∇ {PRESETS[o.rule].nabla:g}, lr {o.lr:g}, "
            f"{o.epochs} epochs): ‖Gx→Oy‖ {o.norms_mean['Gx->Oy']:.4f} ± "
            f"{o.norms_std['Gx->Oy']:.1e}, ‖Ox→Oy‖ {o.norms_mean['Ox->Oy']:.4f} ± "
            f"{o.norms_std['Ox->Oy']:.1e}, ‖W − W*‖ {o.distance_mean:.4f} ± "
            f"{o.distance_std:.1e}: "
            + ("reaches the same non-systematic map" if o.reaches else
               "does not reach the same non-systematic map")
            + (f" (measurably shifted from W* in {', '.join(shifted)})" if shifted else ""))


def _rules_text(th: Derivation, seeds: int, o: RuleOutcome, lines: list[str], own: bool) -> str:
    """The part's text: the protocol, W*, the tolerances, the figures and every rule's line."""
    t = th.converged["quadrant_norms"]
    return (
        f"Dense network, hidden 50, initial weights N(0, (2e-4)²), {seeds} seeds, the study's "
        "learning rates and epochs, batched NumPy simulation (docs/theory/rules-study.md). "
        "W* is gradient descent's converged map: ‖Gx→Oy‖ "
        f"{float(t['Gx->Oy']):.4f}, ‖Ox→Oy‖ {float(t['Ox->Oy']):.4f}; the systematic map has "
        f"‖Gx→Oy‖ = 0. Same map: each Oy-row norm within {SAME_MAP_REL:.0%} of W*'s; not "
        f"systematic: every seed's ‖Gx→Oy‖ above {o.nonzero:g}. Figures: measured mean ± std "
        "solid, gradient descent's theory dashed (its per-epoch map from the run's own "
        "starts)" + ("; each rule's own derived dynamics dash-dotted where they reduce to "
                     "modes (results.json says how, or why not)" if own else "")
        + ", W*'s norms dotted. Measured: " + "; ".join(lines) + ".")
