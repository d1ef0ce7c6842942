"""The study's parts (``modspec reproduce``) and their registry :data:`PARTS`.

Each part is a function ``part(ctx) -> Part`` that computes numbers, claims (predicted value,
measured value, tolerance, verdict) and figures. The parts here check the theory against
NumPy: the spectrum, the converged maps, the learning dynamics, PyTorch against the NumPy
simulator and the rank view; the parts that train networks for the claims, Compositional
MNIST and the learning rules are :mod:`.experiments`. :data:`PARTS` names them all, in the
report's order; :func:`~.run.run_study` runs (or resumes) them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from modspec.theory import architectures as arch
from modspec.theory.defaults import D0, HIDDEN, INIT_STD
from modspec.theory.derivation import derive
from modspec.theory.matrix_flow import minimum_norm_map
from modspec.theory.observables import QUADRANTS, map_quadrant_norms, quadrant_name
from modspec.theory.spectra import spectrum
from modspec.validation.study.context import Context, subplots
from modspec.validation.study.experiments import (
    part_claims_linear,
    part_claims_relu,
    part_cmnist,
    part_learning_rules,
)
from modspec.validation.study.relu import part_relu_gating
from modspec.validation.study.report import Claim, Part

__all__ = ["D0", "DECOUPLED", "DYNAMICS", "PARTS", "part_converged", "part_dynamics",
           "part_rank", "part_spectrum", "part_torch"]

DECOUPLED = ("dense", "shallow", "split", "segregated")


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
    fig, ax = subplots((5, 3))
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
    fig, ax = subplots((6, 3))
    width = 0.2
    for i, name in enumerate(DECOUPLED):
        vals = [table[name]["derived"][quadrant_name(*q)] for q in QUADRANTS]
        ax.bar(np.arange(4) + i * width, vals, width, label=name)
    ax.set_xticks(np.arange(4) + 1.5 * width, [quadrant_name(*q) for q in QUADRANTS])
    ax.set_ylabel("‖W*[quadrant]‖ (Frobenius)")
    ax.legend(fontsize=8)
    part.figures = ctx.figure(fig, "converged_quadrants")
    return part


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
            numbers.update(_coupled_claims(part, cont))
        else:
            numbers.update(_decoupled_claims(part, name, cont, assess(th, sim, time="discrete")))
        part.numbers[name] = numbers
        shown = cont.theory
        part.figures += ctx.draw(f"dynamics_{name}_modes", figures.modes_figure, shown,
                                 sim, title=f"{name}: mode strengths (lr {lr})")
        part.figures += ctx.draw(f"dynamics_{name}_quadrants", figures.quadrants_figure,
                                 shown, sim, title=f"{name}: quadrant norms")
        if name == "dense":
            part.figures += ctx.draw("dynamics_dense_losses", figures.losses_figure, shown,
                                     sim, title="dense: block losses")
    return part


def _coupled_claims(part: Part, cont: Any) -> dict[str, Any]:
    """A coupled network's run against the exact matrix flow (``cont``, an assessment in
    continuous time): its final ‖Gx→Oy‖, and that the map is non-zero."""
    gx_oy = cont.comparison.quadrant_norms["Gx->Oy"]
    rel = abs(gx_oy["simulation"] - gx_oy["theory"]) / gx_oy["theory"]
    part.claims.append(Claim(
        "leaky: exact matrix flow predicts GD's final ‖Gx→Oy‖", gx_oy["theory"],
        gx_oy["simulation"], "relative 0.02", rel < 0.02, f"relative error {rel:.3g}"))
    part.claims.append(Claim(
        "leaky (imperfect segregation) learns a non-zero Gx→Oy map", "> 0.01",
        gx_oy["simulation"], "> 0.01", gx_oy["simulation"] > 0.01))
    return {"flow_vs_gd": cont.comparison.as_dict()}


def _decoupled_claims(part: Part, name: str, cont: Any, disc: Any) -> dict[str, Any]:
    """A decoupled network's run against the closed forms (``cont``) and the per-epoch map
    (``disc``): half-rise epochs, mode strengths and the end point ``W*``."""
    c_cont, c_disc = cont.comparison, disc.comparison
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
    return {"continuous": c_cont.as_dict(), "discrete": c_disc.as_dict()}


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
    fig, ax = subplots((5, 3))
    j = [r["j"] for r in rows]
    ax.plot(j, [r["probability"] for r in rows], "o-", label="exact")
    ax.plot(j, [r["sampled"] for r in rows], "x", label="sampled")
    ax.plot(j, [r["study"] for r in rows], "s--", label="study's det |C| > 0.1")
    ax.set_xlabel("training objects j")
    ax.set_ylabel("P(full-rank Ox covariance)")
    ax.legend()
    part.figures = ctx.figure(fig, "rank_view")
    return part


#: The parts by name, in the order of the report.
PARTS: dict[str, Callable[[Context], Part]] = {
    "spectrum": part_spectrum,
    "converged": part_converged,
    "dynamics": part_dynamics,
    "torch": part_torch,
    "claims_linear": part_claims_linear,
    "claims_relu": part_claims_relu,
    "relu_gating": part_relu_gating,
    "rank": part_rank,
    "cmnist": part_cmnist,
    "learning_rules": part_learning_rules,
}
