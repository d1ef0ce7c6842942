"""Train → derive → the theory of that run → compare: the validation pipeline, once.

:func:`assess` judges a recorded run (a NumPy simulation or a PyTorch training, a
:class:`~modspec.numerics.record.Trajectory`) against the theory of that very run
(:func:`modspec.numerics.expectation.expect`: which solution, from which start, to which end)
with one comparison policy:

* gradient descent is compared with the theory of gradient descent: ``time="discrete"`` by
  default (the exact per-epoch map); the gradient flow's lag behind it is reported beside the
  comparison (``expectation.flow_lag``), not judged. ``time="continuous"`` compares with the
  flow itself (closed forms), which at a finite learning rate runs ahead of gradient descent
  (docs/theory/dynamics.md);
* trajectories are judged for linear networks trained on every object with a mode-wise
  theory (decoupled) — deeper than 2 layers only when the run's initial weights are known,
  since their modes start from each direction's effective start; otherwise only end points
  (a run on a subset is judged against the converged map of that subset; a coupled network
  against its exact dynamics from the same start);
* end points are judged against ``W*`` only when the theory itself has converged by the run's
  last epoch (every mode within 1 % of its fixed point); otherwise they are reported;
* a non-linear network is measured functionally (mean Jacobians): the linear theory is its
  reference, not a promise — deviations are reported, end points are not judged, half-rise
  times are measured against the network's own end value.

:func:`validate` trains and assesses one network (``modspec validate``, the claims and the
study are each a few calls to it or to :func:`assess`); :func:`theory_checks` adds the
checks ``modspec validate`` reports beyond the comparison: systematicity as the theory says,
and the held-out error of every output block against its theory (any dataset family).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from modspec.numerics.budget import check_training
from modspec.numerics.domain import DOMAIN_SHIFT, TRAJECTORY_SHIFT, ModeDomain, run_domains
from modspec.numerics.expectation import Expectation, expect
from modspec.numerics.record import Trajectory
from modspec.numerics.runspec import accepts_run_spec, check_device
from modspec.numerics.stability import check_stable
from modspec.theory.architectures import Network
from modspec.theory.dataset import CompositionalDataset, Dataset
from modspec.theory.defaults import HIDDEN
from modspec.theory.derivation import Derivation, derive
from modspec.theory.errors import bad

from .comparison import TOLERANCES, Comparison, check, compare

__all__ = ["CHECK_TOLERANCES", "Assessment", "assess", "check_stable", "payload", "summary",
           "theory_checks", "training_options", "unconverged_modes", "validate",
           "with_theory_checks", "write_outputs"]

#: Tolerances of the checks beyond the comparison's (:data:`~.comparison.TOLERANCES`).
#: A mode whose theory ends farther than this (relative) from its fixed point has not
#: converged: the run's end point is then reported, not judged against ``W*``.
UNCONVERGED = 0.01

CHECK_TOLERANCES = {
    **TOLERANCES,
    # a norm the theory says is clearly non-zero must exceed this
    "nonzero": 1e-2,
    # ‖W[Ox→Oy] − S‖ of the segregated network at the end
    "rule_abs": 5e-3,
    # |held-out error of an output block (compositional: Oy), simulation − theory|
    "heldout_abs": 1e-2,
    # a held-out compositional error the theory says is exactly zero
    "heldout_zero": 1e-4,
    # |t½(π1)/t½(π2) − 1| of the shallow network (equal λ ⇒ equal rates)
    "shallow_rate": 0.05,
    # estimated shift (a0/a*)^(2/L) + (L−2)·M/h from which a mode's trajectory is not judged
    # (modspec.numerics.domain)
    "domain_shift": DOMAIN_SHIFT,
    # largest trajectory error κ·δ that shift may make (κ: the theory's steepness)
    "trajectory_shift": TRAJECTORY_SHIFT,
}


@dataclass(frozen=True, eq=False)
class Assessment:
    """A run, the derivation and expectation of its theory, and their comparison."""

    derivation: Derivation
    run: Trajectory
    expectation: Expectation
    comparison: Comparison
    domain: dict[str, ModeDomain] = field(default_factory=dict)

    @property
    def theory(self) -> Trajectory:
        """The theory's trajectory at the run's times."""
        return self.expectation.trajectory

    @property
    def passed(self) -> bool:
        return self.comparison.passed

    @property
    def unconverged(self) -> dict[str, float]:
        """Modes the theory itself has not brought within 1 % of their fixed points by the
        run's last epoch: ``{mode: a(T)/a*}`` (empty when the theory has converged, or has no
        trajectory). Such a run's end point is reported, not judged against ``W*``."""
        return unconverged_modes(self.expectation)


def assess(th: Derivation, run: Trajectory, *, time: str = "discrete", linear: bool = True,
           tolerances: Mapping[str, float] | None = None, rule: Any = None) -> Assessment:
    """Compare ``run`` with the theory of that run (see the module docstring). A run under a
    learning rule is compared with the rule's own derived per-mode dynamics where the rule
    reduces to modes (``rule``: its definition, default the run's own rule; see
    :func:`modspec.numerics.expectation.expect`), and only measured where it does not."""
    exp = expect(th, run, time, linear, rule=rule)
    tol = {**CHECK_TOLERANCES, **(tolerances or {})}
    converged = not unconverged_modes(exp)
    judge_trajectories = (linear and exp.full_data and not th.coupled
                          and (max(m.depth for m in th.network.modules) <= 2
                               or run.init is not None))
    domain = (run_domains(th, run, exp, tol["domain_shift"], tol["trajectory_shift"])
              if judge_trajectories else {})
    # a mode outside the domain takes the end points with it: its omitted cross terms decay
    # on its own slow time scale
    converged = converged and all(d.inside for d in domain.values())
    comp = compare(exp.trajectory, run, dataset=th.dataset, fixed_points=exp.fixed_points,
                   converged=exp.end_point, tolerances=tol,
                   check_trajectories=judge_trajectories, own_end=not linear,
                   judge_end_points=linear and converged,
                   outside={k: d.reason() for k, d in domain.items() if not d.inside},
                   steep={k: d.reason() for k, d in domain.items()
                          if d.inside and not d.trajectory_inside})
    return Assessment(th, run, exp, comp, domain)


def unconverged_modes(exp: Expectation) -> dict[str, float]:
    """``{mode: a(T)/a*}`` of the modes the theory ``exp`` has not brought within
    :data:`UNCONVERGED` of their fixed points by its last time (see
    :attr:`Assessment.unconverged`)."""
    modes, fixed = exp.trajectory.modes, exp.fixed_points or {}
    out = {}
    for key, a in modes.items():
        target = fixed.get(key)
        if target:
            ratio = float(np.mean(np.asarray(a)[..., -1]) / target)
            if abs(ratio - 1) > UNCONVERGED:
                out[key] = ratio
    return out


def theory_checks(assessment: Assessment, tolerances: Mapping[str, float] | None = None
                  ) -> dict[str, dict[str, Any]]:
    """Systematicity as the theory says (``‖Gx→Oy‖`` zero or clearly not) and, for a linear
    run on a subset, the held-out error of every output block against the theory's
    (``|measured − theory| ≤ heldout_abs``; the measured error is the last epoch's mean over
    seeds, the theory's that of the subset's converged map, ``block_errors`` of
    :func:`modspec.theory.heldout.heldout`). The ``Oy`` block's check keeps its name
    ``held-out error`` (the compositional error); the others are ``held-out error <block>``.
    """
    tol = {**CHECK_TOLERANCES, **(tolerances or {})}
    exp, comp = assessment.expectation, assessment.comparison
    out = {}
    if exp.systematic is not None and "Gx->Oy" in comp.systematicity:
        gx = comp.systematicity["Gx->Oy"]
        out["systematicity as theory"] = (
            check(gx, tol["zero"], "final ‖Gx→Oy‖ (theory: systematic, 0)")
            if exp.systematic else
            check(gx, tol["nonzero"], "final ‖Gx→Oy‖ (theory: not systematic)", below=False))
    linear = assessment.run.meta.get("nonlinearity", "linear") == "linear"
    measured = assessment.run.final_heldout_blocks()
    if exp.heldout is None or not measured or not linear:
        return out
    for block, theory in exp.heldout.get("block_errors", {}).items():
        if block not in measured:
            continue
        if block == "Oy":
            name, what = "held-out error", "|held-out compositional error sim − theory|"
        else:
            name, what = f"held-out error {block}", f"|held-out error of {block} sim − theory|"
        out[name] = check(abs(measured[block] - theory), tol["heldout_abs"], what)
    return out


def with_theory_checks(assessment: Assessment,
                       tolerances: Mapping[str, float] | None = None) -> Assessment:
    """The assessment with the checks of :func:`theory_checks` among its verdicts (what
    ``modspec validate`` judges): a new :class:`Assessment` and :class:`Comparison`, the
    given ones left as they are."""
    comp = assessment.comparison
    verdicts = {**comp.verdicts, **theory_checks(assessment, tolerances)}
    return replace(assessment, comparison=replace(comp, verdicts=verdicts))


@accepts_run_spec
def validate(dataset: CompositionalDataset | Dataset, network: Network, *,
             time: str = "discrete",
             tolerances: Mapping[str, float] | None = None, lam: float | None = None,
             init_scale: float = 1.0, **training: Any) -> Assessment:
    """Train ``network`` on ``dataset`` (:func:`modspec.validation.training.train` with the
    keyword arguments ``training``), derive its theory and assess the run against it.

    What ``training`` does not give takes the defaults of ``modspec validate``
    (:data:`modspec.validation.defaults.VALIDATE`: ``lr`` 0.005, ``epochs`` 2400, ``hidden``
    50, ``init_std`` 2e-4, ``seeds`` 3, ``seed`` 0, ``backend`` auto). The arguments are
    checked before any work: a wrong one is a one-line
    :class:`~modspec.theory.errors.ModspecError` naming it.

    ``lam`` (with ``init_scale``): start from seeded λ-balanced weights
    (:func:`modspec.numerics.any_start.lambda_balanced_weights`) and compare with the exact
    flow from each seed's start (:func:`~modspec.numerics.any_start.expect_balanced`:
    two-layer, uncoupled, whitened modules, gradient descent of a linear network, on every
    object, ``time="continuous"``; anything else is refused in one line).

    ``validate(spec)`` validates a :class:`~modspec.numerics.runspec.RunSpec` (its ``time``
    and training arguments; keywords beside it override them)."""
    from .training import train

    options = training_options(dataset, network, time, tolerances, training)
    linear = options.get("nonlinearity") in (None, "linear")
    rule = options.get("rule")
    gd = rule in (None, "gradient-descent") or getattr(rule, "is_gradient_descent", False)
    if linear and gd and not options.get("bias"):
        check_stable(dataset, network, options["lr"], options.get("hidden", HIDDEN),
                     options.get("train_objects"))
    if lam is not None:
        from .balanced import validate_balanced

        return validate_balanced(dataset, network, time, tolerances, lam, init_scale, options,
                                 linear and gd)
    theory = derive(dataset, network)      # a derivation error shows before any training
    run = train(dataset, network, **options)
    return assess(theory, run, time=time, linear=linear,
                  tolerances=tolerances, rule=options.get("rule"))


def training_options(dataset: Any, network: Any, time: Any, tolerances: Any,
                     training: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`~modspec.validation.training.train` for
    :func:`validate`: ``training`` over the defaults
    (:data:`~modspec.validation.defaults.VALIDATE`), after checking the arguments
    (:class:`~modspec.theory.errors.ModspecError`, one line naming the argument)."""
    import inspect

    from .defaults import VALIDATE
    from .training import train

    if not isinstance(network, Network):
        raise bad("network", type(network).__name__, "must be a modspec Network, e.g. "
                  "ms.architectures.architecture('dense')")
    if not isinstance(dataset, CompositionalDataset | Dataset) and not all(
            hasattr(dataset, a) for a in ("X", "Y", "input_blocks", "output_blocks")):
        raise bad("dataset", type(dataset).__name__, "must be a modspec dataset, e.g. "
                  "ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)")
    if time not in ("discrete", "continuous"):
        raise bad("time", time, "must be discrete or continuous")
    if tolerances is not None and not (isinstance(tolerances, Mapping) and all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
            for k, v in tolerances.items())):
        raise bad("tolerances", tolerances, "must map check names to numbers")
    allowed = [name for name, p in inspect.signature(train).parameters.items()
               if name not in ("dataset", "network") and p.kind is not p.VAR_KEYWORD]
    for name in training:
        if name not in allowed:
            raise bad(name, training[name], "validate has no such argument: it takes time, "
                      f"tolerances and the training arguments {', '.join(allowed)}")
    options = {**VALIDATE, **training}
    check_device(options["device"])
    if options["dtype"] not in ("float64", "float32"):
        raise bad("dtype", options["dtype"], "must be float32 or float64")
    if not isinstance(options.get("bias", False), bool):
        raise bad("bias", options["bias"], "must be True or False")
    threads = options.get("threads", 1)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise bad("threads", threads, "must be None or an integer ≥ 1")
    # before the stability check, which already builds the data's covariances
    check_training(dataset, network, options["hidden"], options["seeds"], options["epochs"],
                   options.get("record_every", 1))
    return options


# ----------------------------------------------------------------------- outputs
def payload(assessment: Assessment) -> dict[str, Any]:
    """``comparison.json`` of ``modspec validate``: the comparison (modes, half-rise times,
    quadrant norms, systematicity, verdicts, tolerances, passed) with the architecture, the
    non-linearity, ``tau_epochs``, the theory used (``time``, ``method``, the flow's lag in
    discrete time, the modes it has not converged by the last epoch) and, for a run on a
    subset, ``heldout_theory`` (with ``block_errors``) and ``heldout_measured`` (the last
    epoch's held-out error of every output block, mean over seeds)."""
    exp, run = assessment.expectation, assessment.run
    out = assessment.comparison.as_dict()
    out["architecture"] = assessment.derivation.network.name
    out["nonlinearity"] = run.meta.get("nonlinearity", "linear")
    out["tau_epochs"] = float(run.tau)
    out["theory"] = {"time": exp.time, "method": exp.method, "a0": exp.a0,
                     "flow_lag": exp.flow_lag,
                     "unconverged_at_end": assessment.unconverged or None,
                     "domain": {k: d.as_dict() for k, d in assessment.domain.items()} or None}
    if exp.heldout is not None:
        out["heldout_theory"] = exp.heldout
    measured = run.final_heldout_blocks()
    if measured is not None:
        out["heldout_measured"] = measured
    return out


def write_outputs(assessment: Assessment, out: str, figures: bool = True) -> None:
    """Write ``comparison.json`` (:func:`payload`), ``training.json`` (the run's record) and,
    with ``figures``, ``modes.png``, ``quadrants.png``, ``losses.png`` (and ``heldout.png``,
    one curve per output block, for a run with held-out objects) into the folder ``out``."""
    import json
    import os

    from modspec.theory.cache import atomic_write_text

    from .study.report import jsonable

    run = assessment.run
    atomic_write_text(os.path.join(out, "comparison.json"),
                      json.dumps(jsonable(payload(assessment)), indent=2))
    atomic_write_text(os.path.join(out, "training.json"), run.to_json())
    if figures:
        from . import figures as fig

        name = assessment.derivation.network.name
        title = f"{name} ({run.meta.get('nonlinearity', 'linear')}), lr {run.lr}"
        theory = assessment.theory
        def save(figure: Any, stem: str) -> None:       # PNG and PDF
            fig.save_png_pdf(figure, os.path.join(out, stem + ".png"), dpi=110)

        save(fig.modes_figure(theory, run, None, title), "modes")
        save(fig.quadrants_figure(theory, run, None, title), "quadrants")
        save(fig.losses_figure(theory, run, None, title), "losses")
        blocks = (run.heldout or {}).get("blocks") or {}
        if blocks:
            save(fig.heldout_figure(blocks, run.t, None, title, ylabel="squared error per "
                                    "held-out object, by output block"), "heldout")
        elif run.heldout is not None and run.heldout.get("compositional_error") is not None:
            save(fig.heldout_figure({name: run.heldout["compositional_error"]}, run.t, None,
                                    title), "heldout")


def summary(assessment: Assessment) -> str:
    """The lines ``modspec validate`` prints: every check with its value and tolerance, the
    systematicity numbers, for a run on a subset the held-out error of every output block
    (measured, theory) and, in discrete time, the flow's lag (reported, not judged)."""
    comp, exp = assessment.comparison, assessment.expectation
    name = assessment.derivation.network.name
    meta = assessment.run.meta
    kind = meta.get("nonlinearity", "linear")
    if meta.get("rule", "gradient-descent") != "gradient-descent":
        values = ", ".join(f"{k} {meta[k]:g}" for k in ("gamma", "nabla") if k in meta)
        kind += f", rule {meta['rule']}" + (f" ({values})" if values else "")
    passed = sum(v["passed"] for v in comp.verdicts.values())
    lines = [f"{name} ({kind}): {passed}/{len(comp.verdicts)} checks passed "
             f"(theory: {exp.time} time, {exp.method})"]
    for key, v in comp.verdicts.items():
        lines.append(f"  [{'ok ' if v['passed'] else 'BAD'}] {key}: {v['value']:.6g} "
                     f"{v['test']} {v['tolerance']:.3g}")
    for key, why in comp.outside.items():
        rel, half = comp.modes[key]["rel"], comp.half_rise.get(key, {}).get("rel")
        if f"half-rise {key}" in comp.verdicts or why.startswith("steep"):
            lines.append(f"  [ - ] trajectory {key}: {rel:.6g}, not judged ({why})")
            continue
        shown = f"trajectory {rel:.6g}" + ("" if half is None or not np.isfinite(half)
                                           else f", half-rise {half:.6g}")
        lines.append(f"  [ - ] {key}: outside the theory's domain, not judged ({shown}; "
                     f"{why})")
    for key, value in comp.systematicity.items():
        lines.append(f"  {key}: {value:.6g}")
    measured = assessment.run.final_heldout_blocks()
    if measured:
        theory = (exp.heldout or {}).get("block_errors", {})
        held = ", ".join(f"{b} {v:.3f}" + (f" (theory {theory[b]:.3f})" if b in theory else "")
                         for b, v in measured.items())
        lines.append(f"  held-out error per output block: {held}")
    shifted = [k for k, v in comp.quadrant_norms.items() if f"end point {k}" not in comp.verdicts]
    if comp.outside and shifted and not assessment.unconverged:
        lines.append("  end points reported, not judged: modes outside the theory's domain "
                     "(what the theory leaves out of them still decays at the last epoch)")
    if assessment.unconverged and comp.quadrant_norms:
        where = ", ".join(f"{k} at {100 * v:.1f} %" for k, v in assessment.unconverged.items())
        lines.append(f"  end points reported, not judged: by epoch {assessment.run.t[-1]:g} "
                     f"the theory has not converged either ({where} of its fixed point)")
    if exp.flow_lag:
        lag = ", ".join(f"{k} {v:.3g}" for k, v in exp.flow_lag.items())
        lines.append(f"  gradient flow ahead of gradient descent (max |Δa|, reported, not "
                     f"judged): {lag}")
    return "\n".join(lines)
