"""The four claims of docs/theory/dataset.md, each checked by theory and by trained networks.

1. Dense, shallow and output-split networks converge to ``W* = Σyx Σx⁺``: not systematic
   (``‖Gx→Oy‖ > 0``) and a non-zero compositional error on held-out objects.
2. A perfectly segregated network converges to ``W[Ox→Oy] = S`` with ``W[Gx→Oy] = 0`` and
   generalises to held-out objects with zero compositional error (the training subset's ``Ox``
   covariance has full rank).
3. Imperfect segregation (the leaky network: a trainable path ``Gx → Oy``) learns a non-zero
   ``Gx→Oy`` map.
4. Depth changes the order and timing of learning (deep sigmoids ordered by ``s``; the shallow
   network's rates set by ``λ`` only), not the end point (depths 1, 2, 3 reach the same ``W*``).

:func:`run_claims` trains the networks (PyTorch, :func:`~modspec.validation.training.train`) on a
dataset of the family (default D0), once on every object and once with ``heldout`` objects left
out, derives and compiles the theory (:func:`modspec.derive`, :func:`modspec.compile`), compares
(:func:`~modspec.validation.comparison.compare`) and gives each claim a verdict built from
individual checks, each with its number and its stated tolerance.

Linear networks are held to the theory quantitatively. For non-linear (ReLU/tanh) networks the
linear theory is a reference, not a promise: their observables are functional (mean Jacobians),
the deviation of their mode trajectories from the linear theory is *reported*, and the claims
are judged qualitatively (``Gx→Oy`` non-zero for dense/split/leaky and exactly zero for
segregated; held-out compositional error of segregated below dense).

Time is in epochs of full-batch gradient descent, ``τ = 1/(P_train·lr)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from modspec.numerics.runspec import data_of
from modspec.theory.cache import atomic_write_text
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.defaults import D0
from modspec.theory.errors import bad

from ..comparison import check, systematicity
from ..pipeline import CHECK_TOLERANCES, Assessment, validate
from .claims_config import RELU, ClaimsConfig, quick
from .report import jsonable

__all__ = ["RELU", "ClaimsConfig", "ClaimsReport", "quick", "run_claims", "theory_numbers",
           "write_claims"]


@dataclass(frozen=True, eq=False)
class ClaimsReport:
    """Verdicts per claim (``claims[n] = {"title", "passed", "checks": {...}}``) and runs."""

    claims: dict[int, dict[str, Any]]
    runs: dict[str, Assessment]
    config: ClaimsConfig

    @property
    def passed(self) -> bool:
        return all(c["passed"] for c in self.claims.values())

    def as_dict(self) -> dict[str, Any]:
        runs = {}
        for name, r in self.runs.items():
            runs[name] = {"comparison": r.comparison.as_dict(),
                          "systematicity": systematicity(r.run) | r.comparison.systematicity,
                          "theory": theory_numbers(r)}
        cfg = {k: (list(v) if isinstance(v, tuple) else v)
               for k, v in self.config.as_dict().items()}
        return {"config": cfg, "passed": self.passed,
                "claims": {str(k): v for k, v in self.claims.items()}, "runs": runs}

    def text(self) -> str:
        """A plain-text report: each claim, its verdict and every check with its number."""
        run = self.config.run
        lines = [f"Claims of docs/theory/dataset.md — {run.nonlinearity or 'linear'} networks, "
                 f"{run.seeds} seeds"]
        for n, c in self.claims.items():
            lines.append(f"claim {n}: {c['title']} — {'PASS' if c['passed'] else 'FAIL'}")
            for name, v in c["checks"].items():
                mark = "ok " if v["passed"] else "BAD"
                lines.append(f"  [{mark}] {name}: {v['value']:.6g} {v['test']} "
                             f"{v['tolerance']:.3g}  ({v['what']})")
            for name, value in c.get("numbers", {}).items():
                lines.append(f"        {name}: {value}")
        return "\n".join(lines)


def theory_numbers(r: Assessment) -> dict[str, Any]:
    """The theory's numbers of one run of the claims: the held-out error (and whether the
    training subset's ``Ox`` covariance is full rank) for a run on a subset; otherwise the
    converged quadrant norms (decoupled networks), whether ``W*`` is systematic and each
    mode's ``s``."""
    exp = r.expectation
    if not exp.full_data:
        return {"heldout_compositional_error": exp.heldout_error,
                "ox_covariance_full_rank": exp.heldout["ox_covariance_full_rank"]}
    th = r.derivation
    return {"converged_quadrant_norms": None if th.coupled else exp.end_point,
            "systematic": exp.systematic,
            "s": {k: float(m.s) for k, m in th.modes.items()}}


def _fmt(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _fmt(v) for k, v in x.items()}
    if isinstance(x, (float, np.floating)):
        return float(f"{float(x):.6g}")
    return x


def run_claims(dataset: CompositionalDataset | None = None,
               config: ClaimsConfig | None = None,
               progress: Callable[[str], None] | None = None) -> ClaimsReport:
    """Train, predict and compare for the four claims; see the module docstring."""
    ds = dataset or CompositionalDataset(**D0)
    from modspec.theory.families import family

    if not family(dict(data_of(ds))["family"]).inline:
        raise bad("dataset", dict(data_of(ds))["family"], "the claims are checked on the "
                  "compositional family (blocks Ox, Gx, Oy, Gy)")
    cfg = config or ClaimsConfig()
    tol = {**CHECK_TOLERANCES, **cfg.tolerances}
    t = _Runs(_train(ds, cfg, tol, progress or (lambda _line: None)), cfg, tol)
    claims = {1: _claim_w_star(t), 2: _claim_segregation(t), 3: _claim_leaky(t),
              4: _claim_depth(t)}
    if not cfg.linear:      # non-linear: deviation from the linear theory (reported)
        claims[1]["numbers"]["deviation of functional mode trajectories from linear theory"] = \
            _fmt(_deviation(t))
    for c in claims.values():
        c["passed"] = all(v["passed"] for v in c["checks"].values())
    return ClaimsReport(claims, t.runs, cfg)


def _train(ds: CompositionalDataset, cfg: ClaimsConfig, tol: dict[str, float],
           say: Callable[[str], None]) -> dict[str, Assessment]:
    """Every run of the claims, validated against its theory, by name: the four depth-2
    networks, the shallow one (linear only), the deep dense one, and the held-out runs."""
    train_objects = [j for j in range(int(ds.P)) if j not in set(cfg.heldout)]
    runs: dict[str, Assessment] = {}

    def run(name: str, arch: str, depth: int = 2, held: bool = False, lr: float | None = None,
            epochs: int | None = None, init_std: float | None = None,
            linear_only: bool = False) -> Assessment:
        spec = cfg.run_spec(arch, depth, data=ds, lr=lr, epochs=epochs, init_std=init_std,
                            train_objects=train_objects if held else None,
                            linear_only=linear_only)
        say(f"training {name} ({spec.nonlinearity or 'linear'}, {spec.epochs} epochs)")
        r = validate(spec, tolerances=tol)
        runs[name] = r
        return r

    for a in ("dense", "split", "segregated", "leaky"):
        run(a, a)
    if cfg.linear:
        run("shallow", "shallow", 1, epochs=cfg.shallow_epochs, linear_only=True)
    run(f"dense-depth{cfg.deep_depth}", "dense", cfg.deep_depth, lr=cfg.deep_lr,
        epochs=cfg.deep_epochs, init_std=cfg.deep_init_std)
    for a in ("dense", "split", "segregated"):
        run(f"{a}/heldout", a, held=True)
    if cfg.linear:
        run("shallow/heldout", "shallow", 1, held=True, epochs=cfg.shallow_epochs,
            linear_only=True)
    return runs


@dataclass(frozen=True)
class _Runs:
    """The runs of the claims by name, with the configuration and tolerances judging them."""

    runs: dict[str, Assessment]
    cfg: ClaimsConfig
    tol: dict[str, float]

    def __getitem__(self, name: str) -> Assessment | None:
        return self.runs.get(name)

    @property
    def deep(self) -> Assessment:
        return self.runs[f"dense-depth{self.cfg.deep_depth}"]

    def held(self, arch: str) -> Assessment | None:
        """The run of ``arch`` trained without the held-out objects (None: not run)."""
        return self.runs.get(f"{arch}/heldout")

    def name(self, r: Assessment) -> str:
        return next(k for k, v in self.runs.items() if v is r)


def _final(r: Assessment, q: str) -> float:
    return r.run.final("quadrant_norms", q)


def _held_err(r: Assessment) -> float:
    return float(r.run.final_heldout())


def _claim_w_star(t: _Runs) -> dict[str, Any]:
    """Claim 1: dense, shallow and split networks converge to W*, which is not systematic,
    with a non-zero held-out error (the theory's, for linear networks)."""
    tol, linear = t.tol, t.cfg.linear
    checks, numbers = {}, {}
    for r in filter(None, (t["dense"], t["shallow"], t["split"])):
        if linear:
            for k, v in r.comparison.verdicts.items():
                checks[f"{t.name(r)}: {k}"] = v
        checks[f"{t.name(r)}: not systematic"] = check(
            _final(r, "Gx->Oy"), tol["nonzero"], "final ‖Gx→Oy‖ (theory: > 0)", below=False)
        numbers[f"{t.name(r)} final quadrant norms"] = _fmt(
            {q: _final(r, q) for q in r.run.quadrant_norms})
        if theory_numbers(r).get("converged_quadrant_norms"):
            numbers[f"{t.name(r)} theory W* quadrant norms"] = _fmt(
                theory_numbers(r)["converged_quadrant_norms"])
    for a in ("dense", "shallow", "split"):
        h = t.held(a)
        if h is None:
            continue
        th_err = theory_numbers(h).get("heldout_compositional_error")
        if linear and th_err is not None:
            checks[f"{a}: held-out error = theory"] = check(
                abs(_held_err(h) - th_err), tol["heldout_abs"],
                f"|held-out compositional error sim − theory| (theory {th_err:.4g})")
        checks[f"{a}: held-out error > 0"] = check(
            _held_err(h), tol["nonzero"], "held-out compositional error", below=False)
    return {"title": "dense, shallow and output-split networks converge to W* "
                     "(not systematic)", "checks": checks, "numbers": numbers}


def _claim_segregation(t: _Runs) -> dict[str, Any]:
    """Claim 2: the segregated network converges to ``W[Ox→Oy] = S``, ``W[Gx→Oy] = 0``, and
    generalises to held-out objects (better than dense)."""
    tol, linear, seg, h = t.tol, t.cfg.linear, t["segregated"], t.held("segregated")
    checks, numbers = {}, {}
    if linear:
        for k, v in seg.comparison.verdicts.items():
            checks[f"segregated: {k}"] = v
    checks["segregated: Gx->Oy = 0"] = check(_final(seg, "Gx->Oy"), tol["zero"],
                                               "final ‖Gx→Oy‖ (theory: exactly 0)")
    rule = seg.comparison.systematicity.get("rule_error", float("nan"))
    if linear:
        checks["segregated: W[Ox->Oy] = S"] = check(rule, tol["rule_abs"], "‖W[Ox→Oy] − S‖")
        checks["segregated: zero held-out error"] = check(
            _held_err(h), tol["heldout_zero"],
            f"held-out compositional error (theory "
            f"{theory_numbers(h).get('heldout_compositional_error', float('nan')):.3g})")
    checks["segregated generalises better than dense"] = check(
        _held_err(t.held("dense")) - _held_err(h), 0.0,
        "held-out compositional error dense − segregated", below=False)
    numbers["segregated rule error ‖W[Ox→Oy] − S‖"] = _fmt(rule)
    numbers["held-out compositional error (dense, split, segregated)"] = _fmt(
        {a: _held_err(t.held(a)) for a in ("dense", "split", "segregated")})
    numbers["held-out objects"] = list(t.cfg.heldout)
    numbers["training Ox covariance full rank"] = theory_numbers(h).get("ox_covariance_full_rank")
    return {"title": "segregation converges to S and generalises to held-out objects",
            "checks": checks, "numbers": numbers}


def _claim_leaky(t: _Runs) -> dict[str, Any]:
    """Claim 3: the leaky network learns a non-zero ``Gx→Oy`` map (for linear networks, the
    exact matrix dynamics' from the same start)."""
    leaky, cfg = t["leaky"], t.cfg
    checks, numbers = {}, {}
    checks["leaky: Gx->Oy > 0"] = check(_final(leaky, "Gx->Oy"), t.tol["nonzero"],
                                          "final ‖Gx→Oy‖ of the leaky network", below=False)
    numbers["leaky final quadrant norms"] = _fmt(
        {q: _final(leaky, q) for q in leaky.run.quadrant_norms})
    if cfg.linear:
        flow_end = {q: float(np.asarray(v)[-1])
                    for q, v in leaky.theory.quadrant_norms.items()}
        numbers[f"leaky: exact {cfg.run.time} matrix dynamics from the same start, at the end"] = \
            _fmt(flow_end)
        checks["leaky: Gx->Oy = exact dynamics"] = check(
            abs(_final(leaky, "Gx->Oy") - flow_end["Gx->Oy"]), t.tol["quadrant_abs"],
            f"|final ‖Gx→Oy‖ sim − exact {cfg.run.time} dynamics from the same start|")
    return {"title": "imperfect segregation learns a non-zero Gx→Oy map",
            "checks": checks, "numbers": numbers}


def _claim_depth(t: _Runs) -> dict[str, Any]:
    """Claim 4: deep sigmoids are ordered by ``s``, the shallow network's rates are set by
    ``λ`` only, and every depth reaches the same end point ``W*``."""
    linear, dense, shallow = t.cfg.linear, t["dense"], t["shallow"]
    checks, numbers = {}, {}
    for r in (dense, t.deep):
        s = theory_numbers(r)["s"]
        order = sorted(s, key=lambda k: -s[k])
        # a mode that never reaches half its end value counts as unresolved (fails)
        t_half = {k: r.comparison.half_rise[k]["simulation"] for k in order}
        steps = [t_half[b] - t_half[a] for a, b in zip(order, order[1:], strict=False)]
        smallest = min(steps) if steps and all(np.isfinite(steps)) else -1.0
        checks[f"{t.name(r)}: sigmoids ordered by s"] = check(
            smallest, 0.0, "min over consecutive modes (by decreasing s) of the t½ difference"
            + ("" if linear else "; t½ = half of the network's own end value"), below=False)
        numbers[f"{t.name(r)} half-rise epochs (simulation / theory)"] = _fmt(
            {k: (r.comparison.half_rise[k]["simulation"], r.comparison.half_rise[k]["theory"])
             for k in order})
    if shallow is not None:
        hr = shallow.comparison.half_rise
        ratio = hr["pi1"]["simulation"] / hr["pi2"]["simulation"]
        checks["shallow: rate set by λ only"] = check(
            abs(ratio - 1), t.tol["shallow_rate"],
            "|t½(π1)/t½(π2) − 1| (equal λ, s differ by 3×)")
    ends = [r for r in (shallow, dense, t.deep) if r is not None]
    if linear:
        conv = theory_numbers(dense)["converged_quadrant_norms"]
        for r in ends:
            worst = max(abs(_final(r, q) - conv[q]) for q in conv)
            checks[f"{t.name(r)}: same end point W*"] = check(
                worst, t.tol["quadrant_abs"], "max over quadrants |final norm − W*|")
    numbers["final quadrant norms by depth"] = _fmt(
        {t.name(r): {q: _final(r, q) for q in r.run.quadrant_norms} for r in ends})
    return {"title": "depth changes the order and timing of learning, not the end point",
            "checks": checks, "numbers": numbers}


def _deviation(t: _Runs) -> dict[str, Any]:
    """How far a non-linear network's functional mode trajectories are from the linear
    theory, per run and mode (reported, not judged)."""
    return {t.name(r): {k: {"max_abs": v["max_abs"], "rel": v["rel"],
                            "t_half_sim": r.comparison.half_rise[k]["simulation"],
                            "t_half_theory": r.comparison.half_rise[k]["theory"]}
                        for k, v in r.comparison.modes.items()}
            for r in (t["dense"], t["split"], t["segregated"], t.deep)}


def write_claims(report: ClaimsReport, out: str, figures: bool = True) -> None:
    """Write ``claims.json``, ``claims.txt`` and, with ``figures``, the mode, quadrant and
    loss figures of every run with a theory trajectory and one held-out figure, into ``out``."""
    atomic_write_text(os.path.join(out, "claims.json"),
                      json.dumps(jsonable(report.as_dict()), indent=1))
    atomic_write_text(os.path.join(out, "claims.txt"), report.text() + "\n")
    if not figures:
        return
    from .. import figures as fig

    for name, r in report.runs.items():
        if not r.theory.modes and not r.theory.quadrant_norms:
            continue
        stem = os.path.join(out, name.replace("/", "-"))
        for kind, draw in (("modes", fig.modes_figure), ("quadrants", fig.quadrants_figure),
                           ("losses", fig.losses_figure)):
            fig.save_png_pdf(draw(r.theory, r.run, None, name), f"{stem}-{kind}.png", dpi=110)
    held = {n.split("/")[0]: r.run for n, r in report.runs.items() if r.run.heldout is not None}
    if held:
        fig.save_png_pdf(fig.heldout_figure(
            {n: r.heldout["compositional_error"] for n, r in held.items()},
            {n: r.t for n, r in held.items()}), os.path.join(out, "heldout.png"), dpi=110)
