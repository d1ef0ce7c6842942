"""Zero-shot error on untrained pathways from random starts: the derived matrix dynamics.

docs/theory/gated.md §4. From an aligned start the race ends with every module equal and
the untrained pathways (an input module and an output module never trained together) right
too. From a random start, the part of each module that gradient descent never aligns stays,
and the error on the untrained pathways grows with the initial scale. Where the start is not
aligned the race describes no trajectory, and the theory is the *exact matrix dynamics*:
the matrix flow derived by SymPy from the gated statistics
(:func:`modspec.theory.gated_flow.gated_flow`), compiled once into NumPy code
(:func:`modspec.numerics.codegen.generate`, array printer) and stepped epoch by epoch,

    W_e ← W_e + (τ dW_e/dt)/τ,    τ = 1/(N·lr),

from each seed's own start, all seeds at once. The zero-shot error of an untrained pathway p
is its error on the data of its two ends, ``mean over items ‖y_{t(p)} − W_p x_{s(p)}‖²``
(:func:`modspec.numerics.gated_report.pathway_errors`), averaged over the seeds of random
starts of one scale: :func:`zero_shot_curve` gives it as a function of that scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from modspec.theory.errors import ModspecError
from modspec.theory.gated import GatedNetwork
from modspec.theory.gated_data import active_pathways, gated_statistics, path_label
from modspec.theory.gated_flow import flow_values, gated_flow

from .gated_report import pathway_errors
from .gated_simulate import GatedRun, gated_initial_weights

__all__ = ["compiled_flow", "derived_run", "untrained_pathways", "zero_shot_errors",
           "zero_shot_curve"]


@lru_cache(maxsize=8)
def compiled_flow(network: GatedNetwork) -> tuple[Any, tuple[str, ...], tuple[str, ...]]:
    """``(f, edges, statistics)``: ``f(*weights, *statistics)`` returns ``τ dW_e/dt`` for
    every edge in ``edges`` order; weights may carry leading (seed) axes."""
    import sympy as sp

    from .codegen import generate

    flow = gated_flow(network)
    edges = tuple(flow.weights)
    outputs = {f"d{k}": flow.rhs[e] for k, e in enumerate(edges)
               if not isinstance(flow.rhs[e], sp.ZeroMatrix)}
    names = sorted({s.name for r in outputs.values() for s in r.free_symbols
                    if isinstance(s, sp.MatrixSymbol) and s.name in flow.stats})
    symbols = {s.name: s for r in outputs.values() for s in r.free_symbols}
    args = [flow.weights[e] for e in edges] + [symbols[n] for n in names]
    gen = generate(outputs, args, name="gated_flow", printer="array",
                   description=f"the matrix flow tau dW/dt of every edge of the gated network "
                   f"{network.name} (modspec.theory.gated_flow)")
    keys = tuple(outputs)

    def f(*values: np.ndarray) -> dict[str, np.ndarray]:
        got = dict(zip(keys, gen(*values), strict=True))
        return {e: np.asarray(got[f"d{k}"]) if f"d{k}" in got
                else np.zeros(np.shape(values[k])) for k, e in enumerate(edges)}

    return f, edges, tuple(names)


def derived_run(network: GatedNetwork, data: Any, lr: float, epochs: int,
                init: Mapping[str, np.ndarray], keep_weights: bool = False) -> GatedRun:
    """Gradient descent by the derived matrix flow from ``init`` (edge → ``(seeds, out,
    in)``), every seed at once; ``keep_weights`` keeps every epoch. The loss is not
    recorded (zeros)."""
    f, edges, names = compiled_flow(network)
    values = flow_values(gated_flow(network), gated_statistics(network, data))
    stats = [values[n] for n in names]
    N = len(network.contexts) * data.P
    tau = 1.0 / (N * lr)
    W = {e: np.array(init[e], dtype=float) for e in edges}
    seeds = next(iter(W.values())).shape[0]
    history: dict[str, list[np.ndarray]] = {e: [w.copy()] for e, w in W.items()}
    for _ in range(epochs):
        d = f(*[W[e] for e in edges], *stats)
        with np.errstate(over="ignore", invalid="ignore"):
            W = {e: W[e] + d[e] / tau for e in edges}
        if not all(np.all(np.isfinite(w)) for w in W.values()):
            raise ModspecError(f"lr={lr:g} is invalid: gradient descent diverged "
                               f"(non-finite weights); use a smaller lr or initial scale")
        if keep_weights:
            for e in edges:
                history[e].append(W[e])
    hist = {e: np.stack(v, axis=1) for e, v in history.items()} if keep_weights else None
    return GatedRun(np.arange(epochs + 1, dtype=float) if keep_weights
                    else np.array([0.0, float(epochs)]),
                    np.zeros((seeds, epochs + 1 if keep_weights else 2)),
                    {e: np.asarray(init[e], dtype=float) for e in edges}, W, lr, tau, hist)


def untrained_pathways(network: GatedNetwork, items: int) -> list[str]:
    """Labels of the pathways that are never on (:func:`active_pathways`' complement)."""
    trained = set(active_pathways(network, items))
    return [path_label(p) for p in network.pathways if p not in trained]


def zero_shot_errors(network: GatedNetwork, data: Any, weights: Mapping[str, np.ndarray]
                     ) -> dict[str, np.ndarray]:
    """The error of every untrained pathway at ``weights`` (edge → ``(seeds, out, in)``),
    one value per seed."""
    seeds = next(iter(weights.values())).shape[0]
    per_seed = [pathway_errors(network, data, {e: w[s] for e, w in weights.items()})
                for s in range(seeds)]
    return {k: np.array([p[k] for p in per_seed]) for k in untrained_pathways(network, data.P)}


def zero_shot_curve(network: GatedNetwork, data: Any, lr: float, epochs: int,
                    scales: Sequence[float], seeds: int = 4, seed: int = 0
                    ) -> dict[float, dict[str, float]]:
    """For each initial scale (the std of every weight entry): the mean over untrained
    pathways of their zero-shot error after ``epochs`` epochs of the derived dynamics, its
    mean and standard deviation over ``seeds`` random starts (seeded as
    :func:`~modspec.numerics.gated_simulate.gated_initial_weights`)."""
    out = {}
    for std in scales:
        init = gated_initial_weights(network, float(std), seeds, seed)
        run = derived_run(network, data, lr, epochs, init)
        errs = np.mean(list(zero_shot_errors(network, data, run.weights).values()), axis=0)
        out[float(std)] = {"mean": float(np.mean(errs)), "std": float(np.std(errs))}
    return out
