"""Full-batch gradient descent of gated deep linear networks, gates applied per sample.

docs/theory/gated.md §4. Every seed is a slice of a stacked batch: each edge is an array
``(seeds, target size, source size)``. One epoch runs the N = C·P samples (context c, item n)
through the graph in topological order,

    z_i = g_i x_i (input layers),     z_l = g_l Σ_{e: a→l} g_e W_e z_a,

with every gate taken at the sample, back-propagates the error of the loss
``ℓ = (1/N) Σ_s ½ Σ_k g_k ‖y_k − z_k‖²``,

    β_k = g_k (y_k − z_k),     β_a = Σ_{e: a→l} g_l g_e W_eᵀ β_l,

and updates every edge at once, ``W_e ← W_e + lr Σ_s g_l g_e β_l z_aᵀ`` — gradient descent on
the loss summed over samples, i.e. ``W_e ← W_e + (1/τ)(−∂ℓ/∂W_e)`` with ``τ = 1/(N·lr)``:
one epoch of the flow derived in :mod:`modspec.theory.gated_flow`. Nothing here reads the
derived statistics; the equality is a test.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modspec.theory.errors import ModspecError, bad, check_integer
from modspec.theory.gated import GatedNetwork, gate_table
from modspec.theory.gated_data import GatedData

__all__ = ["GatedRun", "gated_initial_weights", "gated_loss", "gated_simulate", "start_weights"]

Weights = dict[str, np.ndarray]


@dataclass(frozen=True, eq=False)
class GatedRun:
    """A simulated run: epochs ``t`` (T,), ``loss`` (seeds, T) at each recorded epoch (before
    that epoch's update), the initial and final ``weights``, and, when asked for, every
    edge's weights at each recorded epoch ``history[e]`` (seeds, T, out, in); ``seconds``
    the wall time of the epochs (on a GPU, with the device synchronised)."""

    t: np.ndarray
    loss: np.ndarray
    init: Weights
    weights: Weights
    lr: float
    tau: float
    history: Weights | None = field(default=None, repr=False)
    seconds: float | None = None


def gated_initial_weights(network: GatedNetwork, init_std: float = 1e-2, seeds: int = 1,
                          seed: int = 0) -> Weights:
    """Independent ``N(0, init_std²)`` entries for every edge, ``(seeds, out, in)``, drawn
    from ``numpy.random.default_rng(seed)`` in the order of the declared edges."""
    if isinstance(init_std, bool) or not isinstance(init_std, (int, float)) \
            or not math.isfinite(init_std) or init_std < 0:
        raise bad("init_std", init_std, "must be a number ≥ 0")
    seeds = check_integer("seeds", seeds, 1)
    rng = np.random.default_rng(check_integer("seed", seed, 0))
    sizes = network.sizes
    return {e.name: rng.normal(0.0, init_std, size=(seeds, sizes[e.target], sizes[e.source]))
            for e in network.edges}


class _Graph:
    """The network's per-sample gates and data as float64 arrays over the N samples."""

    def __init__(self, network: GatedNetwork, data: GatedData) -> None:
        data.check(network)
        self.net = network
        P = data.P
        C = len(network.contexts)
        self.N = C * P
        table = gate_table(network, P)
        ones = np.ones(self.N)
        self.gate = {name: np.array([float(v) for v in table[name]]) if name in table else ones
                     for name in (*network.layer_names, *(e.name for e in network.edges))}
        X, Y = data.numeric()
        self.x = {i: np.tile(X[i], (1, C)) for i in network.input_layers}
        self.y = {k: np.tile(Y[k], (1, C)) for k in network.output_layers}
        self.into = {n: [e for e in network.edges if e.target == n] for n in network.order}
        self.out_of = {n: [e for e in network.edges if e.source == n] for n in network.order}
        self.size = network.sizes
        # the samples where each edge carries a signal: its gate, its target's and a
        # source that can be non-zero (a routing network's module sees 1/M of them)
        live: dict[str, np.ndarray] = {}
        self.cols: dict[str, Any] = {}
        for n in network.order:
            on = self.gate[n] != 0
            live[n] = on if n in self.x else on & np.any(
                [(self.gate[e.name] != 0) & live[e.source] for e in self.into[n]], axis=0)
        for e in network.edges:
            mask = (self.gate[e.name] != 0) & live[e.source] & (self.gate[e.target] != 0)
            self.cols[e.name] = slice(None) if mask.all() else np.flatnonzero(mask)

    def forward(self, W: Weights) -> dict[str, np.ndarray]:
        """Every layer's activity ``(seeds, size, N)`` (input layers ``(size, N)``)."""
        z: dict[str, np.ndarray] = {}
        S = next(iter(W.values())).shape[0]
        for n in self.net.order:
            if n in self.x:     # no seed axis: matmul broadcasts it (a zero-stride copy
                z[n] = self.gate[n] * self.x[n]     # would leave BLAS for a slow loop)
                continue
            z[n] = np.zeros((S, self.size[n], self.N))
            for e in self.into[n]:
                c = self.cols[e.name]
                z[n][..., c] += (self.gate[n] * self.gate[e.name])[c] * (
                    W[e.name] @ z[e.source][..., c])
        return z

    def loss(self, z: Mapping[str, np.ndarray]) -> np.ndarray:
        return sum(0.5 * (self.gate[k] * ((self.y[k] - z[k]) ** 2).sum(axis=-2)).sum(axis=-1)
                   for k in self.y) / self.N

    def descent(self, W: Weights, z: Mapping[str, np.ndarray]) -> Weights:
        """``−N ∂ℓ/∂W_e`` for every edge (the loss summed over samples), each on the samples
        where it carries a signal."""
        beta: dict[str, np.ndarray] = {}
        grads = {}
        for n in reversed(self.net.order):
            if n in self.y:
                beta[n] = self.gate[n] * (self.y[n] - z[n])
                continue
            acc = None if n in self.x else np.zeros_like(z[n])
            for e in self.out_of[n]:
                c = self.cols[e.name]
                signal = (self.gate[e.target] * self.gate[e.name])[c] * beta[e.target][..., c]
                grads[e.name] = signal @ np.swapaxes(z[n][..., c], -1, -2)
                if acc is not None:         # an input layer passes nothing back
                    acc[..., c] += np.swapaxes(W[e.name], -1, -2) @ signal
            beta[n] = acc
        return grads


def start_weights(network: GatedNetwork, init: Weights | None, init_std: float, seeds: int,
                  seed: int) -> dict[str, np.ndarray]:
    """The start of a run, one float64 array ``(seeds, out, in)`` per edge (fresh copies):
    ``init`` checked against the network (a ``(out, in)`` array is one seed), or
    :func:`gated_initial_weights` when it is ``None``."""
    if init is None:
        init = gated_initial_weights(network, init_std, seeds, seed)
    sizes = network.sizes
    W = {}
    for e in network.edges:
        if e.name not in init:
            raise bad("init", sorted(init), f"must give the edge {e.name}")
        w = np.array(init[e.name], dtype=float)
        w = w[None] if w.ndim == 2 else w
        if w.shape[1:] != (sizes[e.target], sizes[e.source]):
            raise bad(f"init[{e.name}]", w.shape,
                      f"must be (seeds, {sizes[e.target]}, {sizes[e.source]})")
        W[e.name] = w
    if len({w.shape[0] for w in W.values()}) != 1:
        raise bad("init", "seed axes", "every edge must have the same number of seeds")
    return W


def gated_loss(network: GatedNetwork, data: GatedData, weights: Weights) -> np.ndarray:
    """The loss ℓ (mean over samples, see the module docstring) of each seed, (seeds,)."""
    graph = _Graph(network, data)
    return graph.loss(graph.forward(weights))


def gated_simulate(network: GatedNetwork, data: GatedData, lr: float, epochs: int,
                   init: Weights | None = None, init_std: float = 1e-2, seeds: int = 1,
                   seed: int = 0, record_every: int = 1, keep_weights: bool = False
                   ) -> GatedRun:
    """Gradient descent for ``epochs`` epochs at learning rate ``lr`` (see the module
    docstring). ``init`` (edge name → ``(seeds, out, in)``) overrides ``init_std``, ``seeds``
    and ``seed``. Recorded every ``record_every`` epochs and at the last; ``keep_weights``
    keeps every edge's weights at the recorded epochs. A diverging run stops with a one-line
    ``ModspecError``."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) \
            or lr <= 0:
        raise bad("lr", lr, "must be a number > 0")
    epochs = check_integer("epochs", epochs, 0)
    record_every = check_integer("record_every", record_every, 1)
    graph = _Graph(network, data)
    W = start_weights(network, init, init_std, seeds, seed)
    start = {k: v.copy() for k, v in W.items()}
    began = time.perf_counter()
    steps = sorted(set(range(0, epochs + 1, record_every)) | {epochs})
    losses, history = [], {e: [] for e in W}
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(epochs + 1):
            z = graph.forward(W)
            if epoch in steps:
                losses.append(graph.loss(z))
                if keep_weights:
                    for e, w in W.items():
                        history[e].append(w.copy())
            if epoch == epochs:
                break
            grads = graph.descent(W, z)
            for e in W:
                W[e] = W[e] + lr * grads[e]
            if not all(np.all(np.isfinite(w)) for w in W.values()):
                raise ModspecError(f"lr={lr:g} is invalid: gradient descent diverged "
                                   f"(non-finite weights at epoch {epoch + 1}); use a smaller lr")
    hist = {e: np.stack(v, axis=1) for e, v in history.items()} if keep_weights else None
    return GatedRun(np.array(steps, dtype=float), np.stack(losses, axis=1), start, W,
                    float(lr), 1.0 / (graph.N * lr), hist, time.perf_counter() - began)
