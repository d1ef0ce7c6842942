"""``validate`` from a λ-balanced start: gradient descent against the exact flow.

docs/theory/any-start.md. The run starts from seeded λ-balanced weights
(:func:`modspec.numerics.any_start.lambda_balanced_weights`); its theory is the exact
gradient flow from each seed's own start, averaged over seeds
(:func:`modspec.numerics.any_start.expect_balanced`), compared in continuous time (gradient
descent lags it by O(lr)). What that solution does not cover is refused in one line.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modspec.numerics.any_start import expect_balanced, lambda_balanced_weights
from modspec.numerics.record import Trajectory
from modspec.theory.architectures import Network
from modspec.theory.derivation import derive
from modspec.theory.errors import bad

from .comparison import compare
from .pipeline import CHECK_TOLERANCES, Assessment, unconverged_modes

__all__ = ["validate_balanced"]


def validate_balanced(dataset: Any, network: Network, time: str, tolerances: Any, lam: Any,
                       init_scale: Any, options: dict[str, Any], linear_gd: bool) -> Assessment:
    """:func:`~.pipeline.validate` with ``lam``: train from seeded λ-balanced weights and
    compare with the exact flow from each seed's start (see there); ``options`` are the
    checked training options, ``linear_gd`` whether the network is linear and trained by
    gradient descent."""
    from .training import train

    if time != "continuous":
        raise bad("time", time, "must be continuous from a lambda-balanced start (the exact "
                                "solution is of the gradient flow; gradient descent lags it "
                                "by O(lr))")
    if not linear_gd or options.get("bias"):
        raise bad("init", "lambda-balanced", "needs a linear network trained by gradient "
                                             "descent without biases")
    if options.get("train_objects") is not None:
        raise bad("train_objects", options["train_objects"], "a lambda-balanced start is "
                                                             "validated on every object")
    if network.coupled:
        raise bad("arch", network.name, "modules writing the same output block couple: the "
                                        "λ-balanced solution is for uncoupled modules")
    options["init"] = lambda_balanced_weights(dataset, network, options.get("hidden", 50),
                                              float(lam), float(init_scale),
                                              options.get("seeds", 1), options.get("seed", 0))
    theory = derive(dataset, network)
    expect_balanced(theory, _probe(options["init"], options["lr"]), float(lam))  # refusals
    run = train(dataset, network, **options)
    exp = expect_balanced(theory, run, float(lam))
    tol = {**CHECK_TOLERANCES, **(tolerances or {})}
    converged = not unconverged_modes(exp)
    comp = compare(exp.trajectory, run, dataset=theory.dataset, fixed_points=exp.fixed_points,
                   converged=exp.end_point, tolerances=tol, judge_end_points=converged)
    return Assessment(theory, run, exp, comp)


def _probe(init: Any, lr: float) -> Trajectory:
    """A record of one epoch from ``init``: what :func:`expect_balanced` checks before any
    training (whitened inputs, two-layer modules)."""
    return Trajectory(np.array([0.0]), {}, {}, {}, seed_axis=True, kind="simulation",
                      lr=float(lr), init=init)
