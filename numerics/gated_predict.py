"""The race of a gated network as a record: ``modspec predict`` and ``simulate --network``.

docs/theory/gated.md §3–4. Both commands print the :class:`~modspec.numerics.record.Trajectory`
contract (``t``, ``modes``, ``quadrant_norms``, ``loss``; a measured record adds ``std``):

* ``modes["<α>:<pathway>"]`` — where the basis condition holds, the pathway's strength on
  mode α, the product ``Π_{e ∈ p} b_{e,α}`` of its edges' strengths read on the shared frames
  (``b_{e,α} = r_{t(e),α}ᵀ W_e r_{s(e),α}``); none where it fails;
* ``quadrant_norms[<pathway>]`` — ``‖W_p‖_F``, the Frobenius norm of the pathway's map
  ``W_p`` (the product of its edges), for every pathway, trained or not;
* ``loss[<output layer>]`` — the mean over the ``N = C·P`` samples of ``g_k ‖y_k − ŷ_k‖²``
  (the summed squared error over the layer's units, gated; with every gate 1 this is the
  per-block loss of today's modular networks, without the ½ of the training loss ℓ).

:func:`gated_prediction` is the theory: where the statistics share singular vectors, the
per-mode map of gradient descent (:func:`~modspec.numerics.gated_race.race`) from the
aligned start of strength ``start`` on every edge of every mode — exactly gradient descent
on the whole network from that start; where they do not, the exact matrix dynamics (full
gradient descent, :func:`~modspec.numerics.gated_simulate.gated_simulate`) from a seeded
random start (there is no aligned start without shared frames).
:func:`run_record` turns a simulated or trained run (its weights at every recorded epoch)
into the same record with a seed axis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from modspec.theory.errors import bad
from modspec.theory.gated import GatedNetwork, gate_table
from modspec.theory.gated_data import GatedData, gated_statistics, path_gates, path_label
from modspec.theory.gated_flow import gated_flow
from modspec.theory.gated_modes import (
    BasisCondition,
    PathwayModes,
    aligned_weights,
    basis_condition,
    mode_strengths,
    pathway_modes,
)

from .gated_race import race
from .gated_simulate import GatedRun, gated_initial_weights, gated_simulate
from .record import Trajectory

__all__ = ["GatedTheory", "aligned_start", "gated_theory", "gated_prediction", "observables",
           "pathway_products", "run_record", "stepped_run", "BUDGET_BYTES", "checked_finite"]

#: Most bytes of recorded weights :func:`stepped_run` holds at once.
BUDGET_BYTES = 1 << 28


@dataclass(frozen=True, eq=False)
class GatedTheory:
    """The network's statistics, basis condition and (where it holds) its pathway modes."""

    network: GatedNetwork
    data: GatedData
    condition: BasisCondition
    modes: PathwayModes | None
    samples: int


def gated_theory(network: GatedNetwork, data: GatedData) -> GatedTheory:
    """Statistics, the basis condition and the per-mode system (the derived flow is cached
    on disk, :mod:`modspec.theory.gated_cache`)."""
    data.check(network)
    stats = gated_statistics(network, data)
    cond = basis_condition(stats)
    modes = pathway_modes(gated_flow(network), stats, cond) if cond.holds else None
    return GatedTheory(network, data, cond, modes, stats.samples)


def pathway_products(network: GatedNetwork, weights: Mapping[str, np.ndarray]
                     ) -> dict[str, np.ndarray]:
    """``W_p`` (any leading axes) of every pathway, by :func:`path_label`."""
    out = {}
    prefix: dict[tuple[str, ...], np.ndarray] = {}     # shared beginnings computed once
    for p in network.pathways:
        for k in range(1, len(p) + 1):
            if p[:k] not in prefix:
                W = np.asarray(weights[p[k - 1]])
                prefix[p[:k]] = W if k == 1 else W @ prefix[p[:k - 1]]
        out[path_label(p)] = prefix[p]
    return out


def observables(network: GatedNetwork, data: GatedData, weights: Mapping[str, np.ndarray]
                ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(quadrant_norms, loss)`` of the module docstring for weights with leading axes
    ``(..., T)`` (e.g. seeds, times): arrays ``(..., T)``."""
    X, Y = data.numeric()
    with np.errstate(over="ignore", invalid="ignore"):      # diverged: checked_finite names lr
        products = pathway_products(network, weights)
        norms = {k: np.sqrt(np.sum(v ** 2, axis=(-2, -1))) for k, v in products.items()}
        return norms, _losses(network, data, products, X, Y)


def _losses(network: GatedNetwork, data: GatedData, products: Mapping[str, np.ndarray],
            X: Mapping[str, np.ndarray], Y: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    P, C = data.P, len(network.contexts)
    table = gate_table(network, P)
    loss = {}
    for k in network.output_layers:
        yk = np.tile(Y[k], (1, C))
        pred = 0.0
        for p in network.pathways:
            if network.target(p) != k:
                continue
            g = np.array([float(v) for v in path_gates(network, P, p)])
            pred = pred + (products[path_label(p)] @ np.tile(X[network.source(p)], (1, C))) * g
        gk = np.array([float(v) for v in table.get(k, [1] * (C * P))])
        loss[k] = np.mean(gk * np.sum((yk - pred) ** 2, axis=-2), axis=-1)
    return loss


def checked_finite(groups: tuple[Mapping[str, np.ndarray], ...], lr: float
                   ) -> tuple[Mapping[str, np.ndarray], ...]:
    """``groups`` (pathway norms, losses) unchanged when every value is finite, else a
    one-line refusal naming ``lr``: gradient descent left float64 (its weights may still be
    finite while their squares are not)."""
    for group in groups:
        if not all(np.all(np.isfinite(np.asarray(v, dtype=float))) for v in group.values()):
            raise bad("lr", lr, "gradient descent diverged (its pathway norms or losses leave "
                      "float64); use a smaller lr")
    return groups


def _mode_curves(modes: PathwayModes, strengths: Mapping[int, Mapping[str, np.ndarray]]
                 ) -> dict[str, np.ndarray]:
    net = modes.network
    out = {}
    for a, es in modes.edges.items():
        for p in net.pathways:
            if all(e in es for e in p):
                out[f"{a}:{path_label(p)}"] = np.prod([strengths[a][e] for e in p], axis=0)
    return out


def _aligned_history(modes: PathwayModes, strengths: Mapping[int, Mapping[str, np.ndarray]]
                     ) -> dict[str, np.ndarray]:
    """``W_e(t) = Σ_α b_{e,α}(t) r_{t(e),α} r_{s(e),α}ᵀ``, ``(T, out, in)``."""
    net = modes.network
    sizes = net.sizes
    T = len(next(iter(next(iter(strengths.values())).values())))
    out = {}
    for e in net.edges:
        W = np.zeros((T, sizes[e.target], sizes[e.source]))
        for a, bs in strengths.items():
            if e.name in bs:
                W += np.asarray(bs[e.name])[:, None, None] * np.outer(
                    modes.frames[e.target][a], modes.frames[e.source][a])
        out[e.name] = W
    return out


def gated_prediction(theory: GatedTheory, lr: float, epochs: int, start: float,
                     init_std: float = 1e-2, seed: int = 0, time: str = "discrete"
                     ) -> Trajectory:
    """The theory's record at epochs ``0..epochs`` (see the module docstring): gradient
    descent epoch by epoch (``time="discrete"``) or the gradient flow (``"continuous"``,
    :func:`~modspec.numerics.gated_continuous.flow_race`; where the basis condition fails,
    the integrated matrix flow). ``meta`` says which solution (``race`` or ``matrix
    dynamics``), the winners and half-rise times, in continuous time how each mode is
    solved (``mode_solution``) and why a mode is integrated (``why_integrated``), and, where
    the condition fails, why."""
    if time not in ("discrete", "continuous"):
        raise bad("time", time, "must be discrete or continuous")
    net, data = theory.network, theory.data
    t = np.arange(epochs + 1, dtype=float)
    tau = 1.0 / (theory.samples * lr)
    if theory.modes is not None:
        modes = theory.modes
        begin = {a: {e: start for e in es} for a, es in modes.edges.items()}
        if time == "discrete":
            result = race(modes, begin, lr, epochs)
        else:
            from .gated_continuous import flow_race

            result = flow_race(modes, begin, lr, t)
        norms, loss = checked_finite(_aligned_observables(theory, result["strengths"], epochs),
                                     lr)
        meta = {"solution": "race", "start": start,
                "winner": {str(a): w for a, w in result["winner"].items()},
                "half_rise": {str(a): r for a, r in result["half_rise"].items()}}
        if time == "continuous":
            meta["mode_solution"] = {str(a): v for a, v in result["solution"].items()}
            meta["why_integrated"] = {str(a): v for a, v in result["why"].items() if v}
        return Trajectory(t, _mode_curves(modes, result["strengths"]), norms, loss,
                          seed_axis=False, kind="theory", time=time, lr=lr, tau=tau,
                          meta=meta)
    init = gated_initial_weights(net, init_std, seeds=1, seed=seed)
    if time == "discrete":
        def step(W: dict[str, np.ndarray], n: int) -> GatedRun:
            return gated_simulate(net, data, lr, n, init=W, keep_weights=True)

        _, rec = stepped_run(theory, step, epochs, init)
        norms = {k: v[0] for k, v in rec.quadrant_norms.items()}
        loss = {k: v[0] for k, v in rec.loss.items()}
    else:
        from modspec.theory.gated_data import gated_statistics
        from modspec.theory.gated_flow import flow_values

        from .gated_continuous import matrix_flow

        flow = gated_flow(net)
        W = matrix_flow(flow, flow_values(flow, gated_statistics(net, data)),
                        {e: w[0] for e, w in init.items()}, tau, t)
        norms, loss = observables(net, data, W)
    return Trajectory(t, {}, norms, loss, seed_axis=False, kind="theory", time=time,
                      lr=lr, tau=tau, meta={"solution": "matrix dynamics",
                                            "basis_condition": theory.condition.reason,
                                            "init_std": init_std, "seed": seed})


def _aligned_observables(theory: GatedTheory, strengths: Mapping[int, Mapping[str, Any]],
                         epochs: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Pathway norms and losses of the aligned weights rebuilt from the mode strengths, a
    piece of time at a time within the memory budget."""
    net = theory.network
    assert theory.modes is not None
    params = sum(net.sizes[e.target] * net.sizes[e.source] for e in net.edges)
    chunk = max(1, BUDGET_BYTES // (8 * params))
    pieces = []
    for lo in range(0, epochs + 1, chunk):
        part = {a: {e: v[lo:lo + chunk] for e, v in bs.items()} for a, bs in strengths.items()}
        pieces.append(observables(net, theory.data, _aligned_history(theory.modes, part)))
    return ({k: np.concatenate([p[0][k] for p in pieces]) for k in pieces[0][0]},
            {k: np.concatenate([p[1][k] for p in pieces]) for k in pieces[0][1]})


def aligned_start(theory: GatedTheory, start: float, seeds: int = 1) -> dict[str, np.ndarray]:
    """The aligned start of strength ``start`` as ``init`` (edge → ``(seeds, out, in)``)."""
    assert theory.modes is not None
    begin = {a: {e: start for e in es} for a, es in theory.modes.edges.items()}
    return {e: np.repeat(w[None], seeds, axis=0)
            for e, w in aligned_weights(theory.modes, begin).items()}


def run_record(theory: GatedTheory, run: GatedRun, kind: str = "simulation",
               meta: Mapping[str, Any] | None = None) -> Trajectory:
    """A simulated or trained run (``keep_weights=True``) as a record with a seed axis."""
    assert run.history is not None, "the run must keep its weights"
    norms, loss = checked_finite(observables(theory.network, theory.data, run.history), run.lr)
    modes = {}
    if theory.modes is not None:
        modes = _mode_curves(theory.modes, mode_strengths(theory.modes, run.history))
    return Trajectory(np.asarray(run.t, dtype=float), modes, norms, loss, seed_axis=True,
                      kind=kind, time="discrete", lr=run.lr, tau=run.tau,
                      meta=dict(meta or {}))


def stepped_run(theory: GatedTheory, step: Any, epochs: int, init: Mapping[str, np.ndarray],
                kind: str = "simulation", meta: Mapping[str, Any] | None = None,
                budget_bytes: int = BUDGET_BYTES) -> tuple[GatedRun, Trajectory]:
    """A run of ``epochs`` epochs from ``init`` (edge → ``(seeds, out, in)``) in pieces
    whose recorded weights fit ``budget_bytes``: ``step(weights, n)`` runs n epochs from
    ``weights`` with ``keep_weights=True`` (full-batch gradient descent is deterministic, so
    the pieces are the one run). Returns the run (without its history) and its record."""
    seeds = next(iter(init.values())).shape[0]
    per_epoch = 8 * seeds * sum(int(np.prod(np.shape(w)[1:])) for w in init.values())
    chunk = max(1, int(budget_bytes // max(per_epoch, 1)))
    done, W = 0, dict(init)
    ts: list[np.ndarray] = []
    losses: list[np.ndarray] = []
    seconds: list[float | None] = []
    parts: list[Trajectory] = []
    run = None
    while True:
        n = min(chunk, epochs - done)
        run = step(W, n)
        seconds.append(run.seconds)
        keep = slice(0 if done == 0 else 1, None)
        rec = run_record(theory, run, kind)
        ts.append(np.asarray(run.t)[keep] + done)
        losses.append(run.loss[:, keep])
        parts.append(Trajectory(rec.t[keep], *({k: v[..., keep] for k, v in g.items()}
                                               for g in (rec.modes, rec.quadrant_norms,
                                                         rec.loss))))
        W = run.weights
        done += n
        if done >= epochs:
            break
    assert run is not None

    def join(group: str) -> dict[str, np.ndarray]:
        return {k: np.concatenate([getattr(p, group)[k] for p in parts], axis=-1)
                for k in getattr(parts[0], group)}

    whole = GatedRun(np.concatenate(ts), np.concatenate(losses, axis=1),
                     {k: np.asarray(v) for k, v in init.items()}, W, run.lr, run.tau,
                     seconds=None if None in seconds else float(sum(seconds)))
    record = Trajectory(whole.t, join("modes"), join("quadrant_norms"), join("loss"),
                        seed_axis=True, kind=kind, time="discrete", lr=run.lr, tau=run.tau,
                        meta=dict(meta or {}))
    return whole, record
