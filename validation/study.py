"""The whole study as a resumable pipeline of parts (``modspec reproduce``).

Each part is a function ``part(ctx) -> Part`` that computes numbers, claims (predicted value,
measured value, tolerance, verdict) and figures. Finished parts are written to
``OUT/parts/<name>.json`` as soon as they complete, with a SHA-256 of their content; a rerun
with the same configuration and modspec version loads them instead of recomputing, so an
interrupted run resumes where it stopped (a part file whose checksum does not match is
computed again, never shown). At the end the report files are assembled from all parts:
``results.json``, ``report.md``, ``report.html`` (self-contained) and ``derivation.tex``. Every
file, figures included, is written atomically and never through a symbolic link.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modspec.theory import architectures as arch
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.defaults import D0, HIDDEN, INIT_STD
from modspec.theory.derivation import derive
from modspec.theory.errors import ModspecError
from modspec.theory.matrix_flow import minimum_norm_map
from modspec.theory.observables import QUADRANTS, map_quadrant_norms, quadrant_name
from modspec.theory.spectra import spectrum
from modspec.validation.report import (
    Claim,
    Part,
    atomic_write_text,
    jsonable,
    write_html,
    write_markdown,
    write_results,
)

if TYPE_CHECKING:  # the claims module imports the training code: only when a part runs
    from modspec.validation.claims import ClaimsConfig, ClaimsReport

__all__ = ["Context", "D0", "DECOUPLED", "DYNAMICS", "PARTS", "config_key", "part_checksum",
           "part_claims_linear", "part_claims_relu", "part_cmnist", "part_converged",
           "part_dynamics", "part_learning_rules", "part_options", "part_rank", "part_spectrum",
           "part_torch", "RULES_SIZES", "run_study"]

DECOUPLED = ("dense", "shallow", "split", "segregated")


@dataclass
class Context:
    """What every part sees: output folder, configuration, and progress settings."""

    out: Path
    quick: bool
    seed: int
    quiet: bool
    device: str = "auto"
    source: str = "digits"
    rules: tuple[str, ...] = ()

    @property
    def dataset(self) -> CompositionalDataset:
        return CompositionalDataset(**D0)

    def figure(self, fig: Any, name: str) -> list[str]:
        """Save a matplotlib figure as PNG and PDF; returns the file names."""
        from modspec.validation.figures import save_png_pdf

        return [Path(p).name for p in save_png_pdf(fig, self.out / f"{name}.png", dpi=120,
                                                   bbox_inches="tight")]


def _subplots(figsize: tuple[float, float]) -> tuple[Any, Any]:
    """A new :class:`~matplotlib.figure.Figure` and its axes (no pyplot, no backend switch)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


# --------------------------------------------------------------------------- parts
def part_spectrum(ctx: Context) -> Part:
    """D0 spectrum derived by the projector algebra against numpy.linalg."""
    ds = ctx.dataset
    spec = spectrum(ds)
    X, Y = ds.X, ds.Y
    P = X.shape[1]
    sv = np.linalg.svd(Y @ X.T / P, compute_uv=False)
    ev = np.sort(np.linalg.eigvalsh(X @ X.T / P))[::-1]
    derived_sv = spec.singular_values()
    derived_ev = spec.input_variances()
    part = Part("spectrum", "Spectrum of D0 (docs/theory/spectrum.md)")
    part.numbers = {"modes": spec.as_dict(), "numpy_singular_values": sv[: len(derived_sv)],
                    "numpy_sigma_x_eigenvalues": ev[: len(derived_sv)]}
    err_sv = float(np.max(np.abs(derived_sv - sv[: len(derived_sv)]) / derived_sv))
    err_ev = float(np.max(np.abs(derived_ev - ev)))
    part.claims = [
        Claim("derived singular values of Σyx = numpy SVD", derived_sv.round(6).tolist(),
              sv[: len(derived_sv)].round(6).tolist(), "relative 1e-10", err_sv < 1e-10,
              f"max relative error {err_sv:.2e}"),
        Claim("derived eigenvalues of Σx = numpy eigvalsh", derived_ev[:8].round(6).tolist(),
              ev[:8].round(6).tolist(), "absolute 1e-10", err_ev < 1e-10,
              f"max error {err_ev:.2e}"),
    ]
    for inputs, outputs, label in ((("Ox", "Gx"), ("Oy",), "split module A"),
                                   (("Ox",), ("Oy",), "segregated module A"),
                                   (("Gx",), ("Gy",), "segregated module B")):
        m = spectrum(ds, inputs, outputs)
        part.numbers[label] = m.as_dict()
    fig, ax = _subplots((5, 3))
    ax.bar(range(len(sv)), sv, color="0.7", label="numpy SVD")
    ax.plot(range(len(derived_sv)), derived_sv, "o", color="C3", label="derived")
    ax.set_xlabel("index")
    ax.set_ylabel("singular value of Σyx")
    ax.legend()
    part.figures = ctx.figure(fig, "spectrum_d0")
    return part


def part_converged(ctx: Context) -> Part:
    """Converged maps of the decoupled architectures: derived norms against numpy."""
    ds = ctx.dataset
    part = Part("converged",
                "Converged maps and systematicity (docs/theory/learning-dynamics.md, §6)")
    table = {}
    for name in DECOUPLED:
        net = arch.architecture(name)
        conv = derive(ds, net).converged
        derived = {k: float(v) for k, v in conv["quadrant_norms"].items()}
        measured = map_quadrant_norms(ds, minimum_norm_map(ds, net))
        table[name] = {"derived": derived, "numpy": measured, "systematic": conv["systematic"],
                       "rule_error": float(conv["report"]["rule_error"])}
        err = max(abs(derived[k] - measured[k]) for k in derived)
        part.claims.append(Claim(f"{name}: derived quadrant norms of W* = numpy min-norm map",
                                 [round(derived[k], 4) for k in derived],
                                 [round(measured[k], 4) for k in measured], "absolute 1e-10",
                                 err < 1e-10, f"max error {err:.1e}"))
    systematic = {n: table[n]["systematic"] for n in DECOUPLED}
    part.claims.append(Claim("only the segregated network converges to a systematic map",
                             {"segregated": True, "others": False}, systematic, "exact",
                             systematic == {"dense": False, "shallow": False, "split": False,
                                            "segregated": True}))
    part.numbers = table
    fig, ax = _subplots((6, 3))
    width = 0.2
    for i, name in enumerate(DECOUPLED):
        vals = [table[name]["derived"][quadrant_name(*q)] for q in QUADRANTS]
        ax.bar(np.arange(4) + i * width, vals, width, label=name)
    ax.set_xticks(np.arange(4) + 1.5 * width, [quadrant_name(*q) for q in QUADRANTS])
    ax.set_ylabel("‖W*[quadrant]‖ (Frobenius)")
    ax.legend(fontsize=8)
    part.figures = ctx.figure(fig, "converged_quadrants")
    return part


def _figures(ctx: Context, name: str, draw: Callable[..., Any], *args: Any,
             **kwargs: Any) -> list[str]:
    """Draw a figure of :mod:`modspec.validation.figures` as PNG and PDF."""
    from modspec.validation.figures import save_png_pdf

    fig = draw(*args, **kwargs)
    return [Path(p).name for p in save_png_pdf(fig, ctx.out / f"{name}.png", dpi=110)]


#: Learning rate and epochs of the D0 dynamics runs (τ = 1/(P·lr) epochs).
#: The leaky network is compared with the gradient *flow*, so it runs at a small lr.
DYNAMICS = {"dense": (0.02, 300), "shallow": (0.005, 600), "split": (0.02, 300),
            "segregated": (0.02, 300), "leaky": (0.002, 3000)}


def part_dynamics(ctx: Context) -> Part:
    """The theory of each run — closed forms (continuous), the per-epoch map (discrete), the
    exact matrix flow (coupled networks) — against batched NumPy gradient descent on D0."""
    from modspec.numerics.simulate import simulate
    from modspec.validation import figures
    from modspec.validation.pipeline import assess

    ds = ctx.dataset
    seeds = 3 if ctx.quick else 10
    part = Part("dynamics", "Learning dynamics: theory against NumPy gradient descent (D0)")
    part.text = (f"Hidden width 50, initial weights N(0, (2e-4)²), {seeds} seeds, full-batch "
                 "gradient descent (docs/theory/learning-dynamics.md). Dashed: "
                 "continuous-time closed forms (gradient flow); solid: simulation, mean ± std "
                 "over seeds. The discrete-time prediction iterates the exact per-epoch map of "
                 "each mode; coupled networks (leaky) are compared with the exact matrix "
                 "gradient flow from the same initial weights. Time in epochs.")
    for name, (lr, epochs) in DYNAMICS.items():
        net = arch.architecture(name)
        sim = simulate(ds, net, lr=lr, epochs=epochs, hidden=HIDDEN, init_std=INIT_STD, seeds=seeds,
                       seed=ctx.seed)
        th = derive(ds, net)
        numbers: dict[str, Any] = {"lr": lr, "epochs": epochs, "tau": sim.tau}
        cont = assess(th, sim, time="continuous")
        if net.coupled:
            gx_oy = cont.comparison.quadrant_norms["Gx->Oy"]
            numbers["flow_vs_gd"] = cont.comparison.as_dict()
            rel = abs(gx_oy["simulation"] - gx_oy["theory"]) / gx_oy["theory"]
            part.claims.append(Claim(
                "leaky: exact matrix flow predicts GD's final ‖Gx→Oy‖", gx_oy["theory"],
                gx_oy["simulation"], "relative 0.02", rel < 0.02, f"relative error {rel:.3g}"))
            part.claims.append(Claim(
                "leaky (imperfect segregation) learns a non-zero Gx→Oy map", "> 0.01",
                gx_oy["simulation"], "> 0.01", gx_oy["simulation"] > 0.01))
        else:
            c_cont = cont.comparison
            c_disc = assess(th, sim, time="discrete").comparison
            numbers["continuous"] = c_cont.as_dict()
            numbers["discrete"] = c_disc.as_dict()
            th_half = [c_cont.half_rise[k]["theory"] for k in c_cont.half_rise]
            si_half = [c_cont.half_rise[k]["simulation"] for k in c_cont.half_rise]
            worst_half = max(abs(a - b) for a, b in zip(th_half, si_half, strict=True))
            part.claims.append(Claim(
                f"{name}: half-rise epochs of the closed forms", [round(x, 1) for x in th_half],
                [round(x, 1) for x in si_half], "± 5 epochs", worst_half <= 5,
                f"largest difference {worst_half:.2f} epochs"))
            disc_err = max(v["max_abs"] for v in c_disc.modes.values())
            cont_err = max(v["max_abs"] for v in c_cont.modes.values())
            part.claims.append(Claim(
                f"{name}: discrete-time theory follows GD mode strengths", "≤ 0.05",
                round(disc_err, 4), "absolute 0.05, every mode", disc_err <= 0.05,
                f"continuous closed forms: largest error {cont_err:.3f} (the flow runs ahead "
                "of finite-step GD; see docs/theory/dynamics.md)"))
            conv = cont.expectation.end_point
            end = max(v["abs"] for v in c_cont.quadrant_norms.values())
            part.claims.append(Claim(
                f"{name}: final quadrant norms reach W*",
                [round(conv[k], 4) for k in conv],
                [round(c_cont.quadrant_norms[k]["simulation"], 4) for k in conv],
                "absolute 0.01", end <= 0.01, f"largest difference {end:.2g}"))
        part.numbers[name] = numbers
        shown = cont.theory
        part.figures += _figures(ctx, f"dynamics_{name}_modes", figures.modes_figure, shown,
                                 sim, title=f"{name}: mode strengths (lr {lr})")
        part.figures += _figures(ctx, f"dynamics_{name}_quadrants", figures.quadrants_figure,
                                 shown, sim, title=f"{name}: quadrant norms")
        if name == "dense":
            part.figures += _figures(ctx, "dynamics_dense_losses", figures.losses_figure, shown,
                                     sim, title="dense: block losses")
    return part


def part_torch(ctx: Context) -> Part:
    """PyTorch training equals the NumPy simulator (float64, same initial weights)."""
    from modspec.numerics.simulate import initial_weights, simulate
    from modspec.validation.training import train

    ds = ctx.dataset
    part = Part("torch", f"PyTorch (device {ctx.device}) against the NumPy simulator")
    for name in ("dense", "split", "leaky"):
        net = arch.architecture(name)
        init = initial_weights(ds, net, hidden=HIDDEN, init_std=INIT_STD, seeds=2, seed=ctx.seed)
        sim = simulate(ds, net, lr=0.02, epochs=100, hidden=HIDDEN, seeds=2, init=init)
        tor = train(ds, net, backend="torch", device=ctx.device, dtype="float64", lr=0.02,
                    epochs=100, hidden=HIDDEN, seeds=2, init=init)
        err = max(float(np.max(np.abs(tor.quadrant_norms[q] - sim.quadrant_norms[q])))
                  for q in sim.quadrant_norms)
        err = max(err, *(float(np.max(np.abs(tor.modes[k] - sim.modes[k]))) for k in sim.modes))
        part.numbers[name] = {"max_abs_difference": err}
        part.claims.append(Claim(f"{name}: torch float64 = NumPy GD (100 epochs, 2 seeds)",
                                 0.0, err, "absolute 1e-8", err < 1e-8))
    return part


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
    from modspec.validation.claims import run_claims

    report = run_claims(config=config)
    part = Part(name, title)
    part.text = text
    part.numbers = report.as_dict()
    _claims_rows(part, report, label)
    return part


def part_claims_linear(ctx: Context) -> Part:
    """The four claims of docs/theory/dataset.md by trained linear PyTorch networks."""
    from modspec.validation.claims import ClaimsConfig, quick

    base = ClaimsConfig(device=ctx.device, seed=ctx.seed)
    config = quick(base) if ctx.quick else base
    return _claims_part(
        "claims_linear", "Claims 1–4 with linear networks (PyTorch)", "linear", config,
        f"lr {config.lr}, {config.epochs} epochs, {config.seeds} seeds, objects "
        f"{list(config.heldout)} held out in the held-out runs; theory in {config.time} time.")


def part_claims_relu(ctx: Context) -> Part:
    """The claims for ReLU networks; the linear theory is the reference, not a promise."""
    from dataclasses import replace

    from modspec.validation.claims import RELU, quick

    config = replace(quick(RELU) if ctx.quick else RELU, device=ctx.device, seed=ctx.seed)
    return _claims_part(
        "claims_relu", "ReLU networks (hidden 50, small initialisation)", "ReLU", config,
        "Quadrant norms of ReLU networks are functional: Frobenius norms of the mean "
        "input–output Jacobian blocks. The deviation of their mode trajectories from the "
        "linear theory is reported in results.json; a failing verdict here is a measured "
        "difference between ReLU and linear networks.")


def part_rank(ctx: Context) -> Part:
    """The rank view of systematicity: P(j random objects give a full-rank Ox covariance)."""
    from modspec.theory.rank import rank_table

    rows = rank_table(ctx.dataset.nx, samples=2_000 if ctx.quick else 20_000, seed=ctx.seed)
    part = Part("rank", "Rank view: how many objects identify the compositional rule")
    part.numbers = {"rows": rows}
    worst = max(abs(r["probability"] - r["sampled"]) for r in rows)
    n = 2_000 if ctx.quick else 20_000
    part.claims.append(Claim("sampled full-rank probabilities match exact counting",
                             [r["exact"] for r in rows], [round(r["sampled"], 3) for r in rows],
                             f"absolute {4 / np.sqrt(n):.3f} (4 standard errors)",
                             worst <= 4 / np.sqrt(n) + 1e-12, f"largest difference {worst:.3g}"))
    fig, ax = _subplots((5, 3))
    j = [r["j"] for r in rows]
    ax.plot(j, [r["probability"] for r in rows], "o-", label="exact")
    ax.plot(j, [r["sampled"] for r in rows], "x", label="sampled")
    ax.plot(j, [r["study"] for r in rows], "s--", label="study's det |C| > 0.1")
    ax.set_xlabel("training objects j")
    ax.set_ylabel("P(full-rank Ox covariance)")
    ax.legend()
    part.figures = ctx.figure(fig, "rank_view")
    return part


def part_cmnist(ctx: Context) -> Part:
    """Compositional MNIST: dense vs split CNNs trained to the plateau rule, held-out digit
    combinations; the verdict where training stopped and the claim over time."""
    from modspec.validation import figures
    from modspec.validation.cmnist_presets import QUICK, REFERENCE
    from modspec.validation.cmnist_run import CMNISTConfig, run
    from modspec.validation.cnn import parse_init

    preset = dict(QUICK if ctx.quick else REFERENCE)
    if not ctx.quick:
        preset["holdout"] = 0.1   # the sharper test: whole digit tuples never seen
    preset["init"] = parse_init(str(preset["init"]))
    config = CMNISTConfig(source=ctx.source, seed=ctx.seed, device=ctx.device, **preset)
    from tqdm.auto import tqdm

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
    part.figures = _figures(ctx, "cmnist", figures.cmnist_figure, summary)
    if "holds_from" in over:
        part.figures += _figures(ctx, "cmnist_claim", figures.cmnist_claim_figure, summary)
    return part


#: Sizes of the learning-rules part, quick and full: (seeds, record every … epochs). Both
#: keep the study's learning rates and epochs (the claim is about the end point, which needs
#: them); quick runs fewer seeds and records every 10th epoch.
RULES_SIZES = {True: (3, 10), False: (5, 2)}


def part_learning_rules(ctx: Context) -> Part:
    """The study's four learning rules on D0 (and gradient descent as the reference): mode
    strengths and quadrant norms over time against gradient descent's theory, the end point
    against ``W*`` and whether it is systematic (:mod:`modspec.validation.rules_study`)."""
    from modspec.theory.rules import PRESETS
    from modspec.validation import figures
    from modspec.validation.comparison import compare, systematicity
    from modspec.validation.rules_study import (
        CLAIM_QUADRANTS,
        GD_THEORY,
        SAME_MAP_REL,
        SETTINGS,
        outcome,
        rule_run,
        theories,
    )

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
        part.numbers[name] = {
            "lr": o.lr, "epochs": o.epochs, "seeds": o.seeds, "record_every": every,
            "gamma": PRESETS[name].gamma, "nabla": PRESETS[name].nabla,
            "end_quadrant_norms_mean": o.norms_mean, "end_quadrant_norms_std": o.norms_std,
            "end_quadrant_norms_min": o.norms_min, "w_star_quadrant_norms": o.target,
            "distance_to_w_star_mean": o.distance_mean, "distance_to_w_star_std": o.distance_std,
            "systematicity": systematicity(run, ctx.dataset), "systematic": o.systematic,
            "same_map": o.same_map, "against": against,
            "quadrant_norms_mean": {q: np.mean(v, axis=0) for q, v in run.quadrant_norms.items()},
            "quadrant_norms_std": {q: np.std(v, axis=0) for q, v in run.quadrant_norms.items()},
            "t": run.t}
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
        shifted = [q for q in o.norms_mean if o.shifted(q)]
        lines.append(
            f"{name} (γ {PRESETS[name].gamma:g}, ∇ {PRESETS[name].nabla:g}, lr {o.lr:g}, "
            f"{o.epochs} epochs): ‖Gx→Oy‖ {o.norms_mean['Gx->Oy']:.4f} ± "
            f"{o.norms_std['Gx->Oy']:.1e}, ‖Ox→Oy‖ {o.norms_mean['Ox->Oy']:.4f} ± "
            f"{o.norms_std['Ox->Oy']:.1e}, ‖W − W*‖ {o.distance_mean:.4f} ± "
            f"{o.distance_std:.1e}: "
            + ("reaches the same non-systematic map" if o.reaches else
               "does not reach the same non-systematic map")
            + (f" (measurably shifted from W* in {', '.join(shifted)})" if shifted else ""))
        own = own or any(exp.trajectory.modes for label, exp in curves if label != GD_THEORY)
        part.figures += _figures(ctx, f"rules_{name}", figures.theories_figure,
                                 [(label, exp.trajectory) for label, exp in curves
                                  if exp.trajectory.modes], run,
                                 targets=o.target, title=name)
    t = th.converged["quadrant_norms"]
    part.text = (
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
    return part


def _sem_text(sem: float | None) -> str:
    return "n/a" if sem is None else f"{sem:.4f}"


PARTS: dict[str, Callable[[Context], Part]] = {
    "spectrum": part_spectrum,
    "converged": part_converged,
    "dynamics": part_dynamics,
    "torch": part_torch,
    "claims_linear": part_claims_linear,
    "claims_relu": part_claims_relu,
    "rank": part_rank,
    "cmnist": part_cmnist,
    "learning_rules": part_learning_rules,
}


# ------------------------------------------------------------------------ pipeline
def config_key(config: dict[str, Any]) -> str:
    """Hash of the configuration and the modspec version: a finished part is reused only
    under the same ones (an upgrade computes every part again)."""
    from modspec._version import __version__

    text = json.dumps({"config": config, "modspec": __version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def part_checksum(key: str, options: dict[str, Any], part: Any) -> str:
    """SHA-256 over a part file's content (its configuration key, part options and the part,
    as canonical JSON): a part file whose content does not match it (damaged or edited, e.g.
    verdicts flipped under the same key) is treated as missing and computed again."""
    text = json.dumps([key, options, part], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def part_options(name: str, ctx: Context) -> dict[str, Any]:
    """What a finished part depends on beyond the study's configuration: the rule list of the
    learning-rules part (so choosing other rules recomputes that part only)."""
    return {"rules": list(ctx.rules)} if name == "learning_rules" else {}


def _load_part(path: Path, key: str, options: dict[str, Any] | None) -> Part | None:
    """The finished part saved at ``path`` under the configuration ``key`` and, unless
    ``options`` is None, those part options; None when there is none, it was made under
    another configuration, or the file is damaged (not JSON, not UTF-8, a folder, not the
    expected structure) or its checksum does not match its content (:func:`part_checksum`):
    such a part is recomputed."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("config_key") == key and (
                options is None or saved.get("options", {}) == options) and (
                saved.get("sha256") == part_checksum(key, saved.get("options", {}),
                                                     saved["part"])):
            return Part.from_json(saved["part"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return None


def run_study(out: Path | str, quick: bool = True, seed: int = 0, quiet: bool = False,
              device: str = "auto", parts: Sequence[str] | None = None, source: str = "digits",
              derivation_tex: Callable[[], str] | None = None,
              rules: Sequence[str] | None = None) -> list[Part]:
    """Run (or resume) the parts ``parts`` (default all), then write results.json, report.md
    and report.html with every finished part of this configuration in the folder, in the
    order of :data:`PARTS` (a run of some parts after a run of others reports them all).

    ``derivation_tex`` returns the LaTeX of the D0 derivation; it is written to
    ``derivation.tex``. Parts already finished under the same configuration are loaded; a
    damaged part file is recomputed. ``rules`` lists the learning rules of the
    ``learning_rules`` part (default: the study's four; gradient descent always runs as the
    reference). Returns the reported parts.
    """
    from tqdm.auto import tqdm

    from modspec.validation.rules_study import SETTINGS

    out = Path(out)
    names = list(PARTS) if parts is None else list(parts)
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        raise ModspecError(f"parts={unknown!r} is invalid: must be among {list(PARTS)}")
    rules = tuple(SETTINGS)[1:] if rules is None else tuple(dict.fromkeys(rules))
    wrong = [r for r in rules if r not in SETTINGS]
    if wrong or not rules:
        raise ModspecError(f"rules={list(rules)!r} is invalid: must be one or more of "
                           f"{list(SETTINGS)}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "parts").mkdir(exist_ok=True)
    config = {"quick": quick, "seed": seed, "dataset": dict(D0), "cmnist_source": source}
    key = config_key(config)
    ctx = Context(out, quick, seed, quiet, device, source, rules)
    finished: dict[str, Part] = {}
    bar = tqdm(names, desc="modspec reproduce", disable=quiet, unit="part")
    for name in bar:
        bar.set_postfix_str(name)
        path = out / "parts" / f"{name}.json"
        options = part_options(name, ctx)
        part = _load_part(path, key, options)
        if part is None:
            part = PARTS[name](ctx)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)      # a folder where the part file goes: damaged
            content = json.loads(json.dumps(jsonable(part.to_json())))   # as read back
            saved = {"config_key": key, **({"options": options} if options else {}),
                     "part": content, "sha256": part_checksum(key, options, content)}
            atomic_write_text(path, json.dumps(saved, indent=2))
        finished[name] = part
    for name in PARTS:   # parts finished by earlier runs (any part options) stay in the report
        if name not in finished:
            part = _load_part(out / "parts" / f"{name}.json", key, None)
            if part is not None:
                finished[name] = part
    done = [finished[name] for name in PARTS if name in finished]
    if derivation_tex is not None:
        atomic_write_text(out / "derivation.tex", derivation_tex())
    write_results(out, done, config)
    write_markdown(out, done, config)
    write_html(out, done, config)
    return done
