"""Sweep points from a λ-balanced start: the lazy–rich phase diagram (docs/theory/any-start.md).

A grid's ``[run]`` takes ``init = "lambda-balanced"`` with ``lam`` (the balance λ, default 0)
and ``init_scale`` (the std of the Gaussian layer, default 1), each of which may be swept;
``modspec sweep --init lambda-balanced --lam L --init-scale S`` sets them for a grid that
does not (:func:`with_init`). Such a point's weights are
:func:`~modspec.numerics.any_start.lambda_balanced_weights` of its hidden width, seeds and
seed. Its columns:

* ``theory``: the exact gradient flow from each seed's start
  (:func:`~modspec.numerics.any_start.expect_balanced`) at the last epoch, mean over seeds
  (``theory.<quadrant>``, ``theory.<mode>``, ``theory.loss.<name>``), and the regime of that
  flow (:func:`~modspec.numerics.any_start.theory_regime`): ``theory.kernel_movement``,
  ``theory.kernel_distance``, ``theory.alignment`` (mean over modules and seeds);
* ``simulate``/``train``: the usual measured columns of a run from those weights, and the same
  three measures from its start and end weights
  (:func:`~modspec.numerics.any_start.regime_measures`), ``simulate.kernel_movement`` … with
  ``.std`` over seeds.

The exact solution needs two-layer, uncoupled modules on whitened inputs, gradient descent on
every object; a grid point outside that is refused before any work (:func:`check_point`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modspec.numerics.any_start import (
    expect_balanced,
    predict_balanced,
    regime_measures,
    theory_regime,
)
from modspec.numerics.record import GROUPS, Trajectory
from modspec.theory.errors import bad

__all__ = ["INITS", "MEASURES", "balanced", "check_point", "measured_columns",
           "theory_columns", "weights", "with_init"]

#: The kinds of start a grid point takes.
INITS = ("random", "lambda-balanced")
#: The lazy–rich measures stored for a λ-balanced point.
MEASURES = ("kernel_movement", "kernel_distance", "alignment")


def balanced(p: Any) -> bool:
    """Whether grid point ``p`` starts λ-balanced."""
    return getattr(p, "init", "random") == "lambda-balanced"


def weights(p: Any) -> list[list[np.ndarray]]:
    """The point's seeded λ-balanced weights (per module, per layer, ``(seeds, out, in)``):
    those of its run specification (:meth:`~modspec.numerics.runspec.RunSpec.initial_weights`,
    what ``simulate`` and ``train`` start from)."""
    spec = p.run_spec()
    return spec.initial_weights(p.dataset(), p.network())


def _lam(p: Any) -> float:
    """λ of the point's start (its run specification's; 0 when not given)."""
    return float(p.run_spec().lam)


def check_point(p: Any) -> None:
    """Refuse (one line) a λ-balanced point the exact solution does not cover; ``lam`` and
    ``init_scale`` of a random start are refused too (they would be ignored)."""
    if not balanced(p):
        if p.lam is not None or p.init_scale is not None:
            raise bad("run.lam/init_scale", (p.lam, p.init_scale),
                      'apply only with init = "lambda-balanced"')
        return
    if p.rule != "gradient-descent" or p.gamma is not None or p.nabla is not None:
        raise bad("run.rule", p.rule, "must be gradient-descent from a lambda-balanced start")
    if p.train_objects is not None:
        raise bad("run.train_objects", p.train_objects,
                  "a lambda-balanced start is run on every object")
    init = [[w[:1] for w in layers] for layers in weights(p)]
    predict_balanced(p.dataset(), p.network(), [0.0], p.lr, _lam(p), init=init)  # refusals


def theory_columns(p: Any) -> dict[str, float]:
    """The ``theory.*`` columns of a λ-balanced point (module docstring)."""
    from modspec.theory.derivation import derive

    start = weights(p)
    planned = Trajectory(np.array([float(p.epochs)]), {}, {}, {}, seed_axis=False,
                         kind="planned", lr=p.lr, init=start)
    e = expect_balanced(derive(p.dataset(), p.network()), planned, _lam(p))
    out = {}
    for group in GROUPS:
        label = "loss." if group == "loss" else ""
        for key, values in getattr(e.trajectory, group).items():
            out[f"theory.{label}{key}"] = float(np.asarray(values)[-1])
    regime = theory_regime(p.dataset(), p.network(), start, p.epochs, p.lr, _lam(p))
    return out | {f"theory.{k}": v for k, v in _pooled(regime).items() if "std" not in k}


def measured_columns(kind: str, p: Any, run: Trajectory) -> dict[str, float]:
    """``<kind>.kernel_movement`` … (and ``.std`` over seeds) of a measured run of a
    λ-balanced point; nothing for a random start."""
    if not balanced(p) or run.init is None or run.weights is None:
        return {}
    pooled = _pooled(regime_measures(p.dataset(), p.network(), run.init, run.weights))
    return {f"{kind}.{k}": v for k, v in pooled.items()}


def _pooled(regime: dict[str, dict[str, np.ndarray]]) -> dict[str, float]:
    """Each measure's mean over modules, its mean and std over seeds."""
    out = {}
    for name in MEASURES:
        per_seed = np.mean([m[name] for m in regime.values()], axis=0)
        out[name] = float(np.mean(per_seed))
        out[f"{name}.std"] = float(np.std(per_seed))
    return out


def with_init(tables: dict[str, Any], init: str, lam: float | None,
              init_scale: float | None) -> dict[str, Any]:
    """The grid ``tables`` with ``init``/``lam``/``init_scale`` of the command line set in
    ``[run]`` (``init = "random"`` changes nothing); a key the grid sets to another value is
    refused."""
    if init == "random":
        if lam is not None or init_scale is not None:
            raise bad("--lam/--init-scale", lam if lam is not None else init_scale,
                      "apply only with --init lambda-balanced")
        return tables
    run = dict(tables.get("run", {}))
    for key, value in (("init", init), ("lam", lam), ("init_scale", init_scale)):
        if value is None:
            continue
        if key in run and run[key] != value:
            raise bad(f"--{key.replace('_', '-')}", value,
                      f"the grid gives run.{key} = {run[key]!r}: give it once")
        run[key] = value
    return {**tables, "run": run}
