"""λ-balanced starts of modular networks, and their exact prediction (docs/theory/any-start.md).

:func:`lambda_balanced_weights` draws, for every two-layer module, seeded weights with
``W2ᵀW2 − W1W1ᵀ = λ I`` exactly (:func:`modspec.numerics.riccati.balanced_start`; the first
layer Gaussian of std ``init_scale`` for λ ≥ 0, the second for λ < 0), in the weight structure
of :func:`modspec.numerics.simulate.initial_weights`, so ``simulate(..., init=...)`` and
``train(..., init=...)`` run gradient descent from them.

:func:`predict_balanced` is the theory of such a run: every module's map, Gram matrices and
kernel from the closed-form Riccati solution (:func:`modspec.numerics.riccati.solve_balanced`),
read by the simulator's own :class:`~modspec.numerics.simulate.Observer` (mode strengths on the
analytic singular vectors, quadrant norms, block losses), so it is compared with a simulated
run like any other theory. It is exact for the gradient flow when every module is two layers
deep, modules write disjoint output blocks (not coupled) and each module's inputs are
whitened (``Σx = I`` on its input rows: e.g. the compositional family without identity
inputs, ``kx = 0``); anything else is refused in one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from modspec.theory.architectures import Network
from modspec.theory.errors import bad

from .flow import block, covariances, layout, residual, tau_of, total_map
from .record import Trajectory
from .riccati import balanced_start, solve_balanced

__all__ = ["WHITE_TOL", "expect_balanced", "lambda_balanced_weights", "predict_balanced",
           "regime_measures", "theory_regime"]

#: ``‖Σx − I‖`` (max entry) below which a module's inputs count as whitened.
WHITE_TOL = 1e-10


def _check_two_layer(network: Network) -> None:
    deep = [m.name for m in network.modules if m.depth != 2]
    if deep:
        raise bad("depth", network.depth, f"a λ-balanced start needs two-layer modules "
                                          f"(modules {deep} are not)")


def lambda_balanced_weights(dataset: Any, network: Network, hidden: int, lam: float,
                            init_scale: float = 1.0, seeds: int = 1, seed: int = 0
                            ) -> list[list[np.ndarray]]:
    """Per module, per layer, ``(seeds, out, in)`` weights balanced at ``lam`` (seeded: seed
    k of the batch draws from ``seed + k``, module m from a stream of its own)."""
    _check_two_layer(network)
    if not np.isfinite(lam):
        raise bad("lam", lam, "must be a finite number")
    if not (np.isfinite(init_scale) and init_scale >= 0):
        raise bad("init_scale", init_scale, "must be a finite number ≥ 0")
    lay = layout(dataset, network, hidden)
    out = []
    for m, ml in enumerate(lay.modules):
        n_in, n_out = ml.dims[0], ml.dims[-1]
        pairs = [balanced_start(n_in, hidden, n_out, float(lam), float(init_scale),
                                seed=(seed + k) * 1009 + m) for k in range(seeds)]
        out.append([np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])])
    return out


def predict_balanced(dataset: Any, network: Network, t: Any, lr: float, lam: float,
                     init_scale: float = 1.0, hidden: int = 1, seed: int = 0,
                     init: Sequence[Sequence[np.ndarray]] | None = None) -> Trajectory:
    """The exact gradient flow from a λ-balanced start (``init``, one seed, or drawn by
    :func:`lambda_balanced_weights`) at times ``t`` (epochs, τ = 1/(P·lr)): a
    :class:`~modspec.numerics.record.Trajectory` (``kind="theory"``, arrays ``(T,)``)."""
    from .simulate import Observer

    _check_two_layer(network)
    if network.coupled:
        raise bad("arch", network.name, "modules writing the same output block couple: the "
                                        "λ-balanced solution is for uncoupled modules")
    t = np.atleast_1d(np.asarray(t, dtype=float))
    if t.ndim != 1 or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise bad("t", "array", "must be a 1-D array of finite times ≥ 0 (epochs)")
    cov = covariances(dataset)
    tau = tau_of(cov.P, lr)
    if init is None:
        init = lambda_balanced_weights(dataset, network, hidden, lam, init_scale, 1, seed)
    hid = np.asarray(init[0][0]).shape[-2]
    lay = layout(dataset, network, hid)
    maps = []
    for ml, layers in zip(lay.modules, init, strict=True):
        sxx = block(cov.sigma_x, ml.inputs, ml.inputs)
        white = float(np.max(np.abs(sxx - np.eye(sxx.shape[0])))) if sxx.size else 0.0
        if white > WHITE_TOL:
            raise bad("dataset", f"max |Σx − I| = {white:.3g} on module {ml.module.name!r}",
                      "the exact λ-balanced solution needs whitened inputs (Σx = I on each "
                      "module's inputs; e.g. the compositional family with kx = 0)")
        sol = solve_balanced(block(cov.sigma_yx, ml.outputs, ml.inputs),
                             np.asarray(layers[0])[0], np.asarray(layers[1])[0], t, tau, lam)
        maps.append(sol.maps)
    W = total_map(lay, maps)
    rec = Observer(lay, cov, dataset)(maps, W, residual(W, cov))
    return Trajectory(t, rec["modes"], rec["quadrant_norms"], rec["loss"], seed_axis=False,
                      kind="theory", time="continuous", lr=float(lr), tau=tau,
                      meta={"init": "lambda-balanced", "lam": float(lam),
                            "init_scale": float(init_scale), "hidden": int(hid),
                            "seed": int(seed)})


def regime_measures(dataset: Any, network: Network, start: Sequence[Sequence[np.ndarray]],
                    end: Sequence[Sequence[np.ndarray]]) -> dict[str, dict[str, np.ndarray]]:
    """Lazy–rich measures of a run from its start and end weights (``Trajectory.init`` and
    ``.weights``; per module, per layer, ``(seeds, out, in)``), per two-layer module:
    ``kernel_movement`` ``‖K(end) − K(start)‖/‖K(start)‖``, ``kernel_distance``
    ``1 − cos(K(start), K(end))`` and ``alignment`` of the end's ``W1ᵀW1`` with
    ``(ΣyxᵀΣyx)^{1/2}`` of the module's block, each ``(seeds,)`` — the same quantities as
    :meth:`modspec.numerics.riccati.BalancedSolution.kernel_movement`, ``.kernel_distance``
    and ``.alignment``, so a run and its theory are compared number for number."""
    from .riccati import BalancedSolution

    def solution(S: np.ndarray, k: int, first: Any, last: Any) -> BalancedSolution:
        W1s = np.stack([np.asarray(first[0])[k], np.asarray(last[0])[k]])
        W2s = np.stack([np.asarray(first[1])[k], np.asarray(last[1])[k]])
        return BalancedSolution(np.array([0.0, 1.0]), W2s @ W1s, np.swapaxes(W1s, 1, 2) @ W1s,
                                W2s @ np.swapaxes(W2s, 1, 2), float("nan"), 1.0, S)

    return _per_module(dataset, network, start, solution, end)


def theory_regime(dataset: Any, network: Network, start: Sequence[Sequence[np.ndarray]],
                  t_end: float, lr: float, lam: float) -> dict[str, dict[str, np.ndarray]]:
    """The measures of :func:`regime_measures` of the exact flow from each seed's λ-balanced
    ``start`` to epoch ``t_end`` (τ = 1/(P·lr)): the theory of a run's regime."""
    tau = tau_of(covariances(dataset).P, lr)
    return _per_module(dataset, network, start, lambda S, k, first, _: solve_balanced(
        S, np.asarray(first[0])[k], np.asarray(first[1])[k], [0.0, float(t_end)], tau, lam))


def _per_module(dataset: Any, network: Network, start: Sequence[Sequence[np.ndarray]],
                solution: Any, end: Any = None) -> dict[str, dict[str, np.ndarray]]:
    """``{module: {measure: (seeds,)}}`` of the last time of ``solution(Σyx block, seed,
    start layers, end layers)`` (a :class:`~modspec.numerics.riccati.BalancedSolution`)."""
    _check_two_layer(network)
    cov = covariances(dataset)
    hid = np.asarray(start[0][0]).shape[-2]
    lay = layout(dataset, network, hid)
    out = {}
    for m, ml in enumerate(lay.modules):
        S = block(cov.sigma_yx, ml.outputs, ml.inputs)
        sols = [solution(S, k, start[m], None if end is None else end[m])
                for k in range(np.asarray(start[m][0]).shape[0])]
        out[ml.module.name] = {name: np.array([getattr(sol, name)()[-1] for sol in sols])
                               for name in ("kernel_movement", "kernel_distance",
                                            "alignment")}
    return out


def expect_balanced(th: Any, run: Trajectory, lam: float) -> Any:
    """The theory of a gradient-descent ``run`` (``Trajectory``, a seed axis) made from
    λ-balanced initial weights (``run.init``): the exact gradient flow of
    :func:`predict_balanced` from every seed's own start, averaged over seeds, at the run's
    times, as a :class:`~modspec.numerics.expectation.Expectation` (continuous time: gradient
    descent lags it by O(lr)). Refuses (one line) what :func:`predict_balanced` refuses, a run
    without initial weights and a run on a subset of the objects."""
    from dataclasses import replace

    from .expectation import Expectation
    from .record import GROUPS

    if run.init is None:
        raise bad("init", None, "the theory from a λ-balanced start needs the run's initial "
                                "weights")
    if run.train_objects is not None and len(run.train_objects) != int(th.dataset.P):
        raise bad("train_objects", list(run.train_objects), "a λ-balanced start is predicted "
                                                            "on every object")
    seeds = int(np.asarray(run.init[0][0]).shape[0])
    per_seed = [predict_balanced(th.dataset, th.network, run.t, run.lr, lam,
                                 init=[[np.asarray(w)[k:k + 1] for w in layers]
                                       for layers in run.init]) for k in range(seeds)]
    first = per_seed[0]

    def mean(group: str) -> dict[str, np.ndarray]:
        return {k: np.mean([getattr(p, group)[k] for p in per_seed], axis=0)
                for k in getattr(first, group)}

    trajectory = replace(first, **{g: mean(g) for g in GROUPS})
    conv = th.converged
    fixed = {k: float(m.fixed_point) for k, m in th.modes.items()}
    end = ({k: float(v) for k, v in conv["quadrant_norms"].items()}
           if conv.get("quadrant_norms") else None)
    return Expectation(trajectory, f"exact gradient flow from the λ-balanced start (λ = {lam:g}, "
                                   "Riccati solution), mean over seeds", "continuous", fixed,
                       end, conv.get("systematic"))
