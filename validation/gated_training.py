"""Training gated deep linear networks with PyTorch (CPU or GPU), gates applied per sample.

docs/theory/gated.md. The same model as :mod:`modspec.numerics.gated_simulate`, with the
gradient taken by autograd instead of written out: for every seed, full-batch gradient descent
on the loss summed over the N = C·P samples,

    L = Σ_s ½ Σ_k g_k(s) ‖y_k(s) − ŷ_k(s)‖²,      W_e ← W_e − lr ∂L/∂W_e,

``ŷ`` computed layer by layer with every layer and edge gate taken at the sample. All seeds
train at once (each edge is a ``(seeds, out, in)`` tensor; seeds do not interact, so one
backward pass of the sum over seeds gives each seed its own gradient). In float64 it follows
the NumPy simulator to rounding error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from modspec.numerics.gated_simulate import GatedRun, start_weights
from modspec.theory.errors import ModspecError, bad, check_integer
from modspec.theory.gated import GatedNetwork, gate_table
from modspec.theory.gated_data import GatedData

from .training import resolve_device, resolve_dtype

__all__ = ["gated_train"]


def gated_train(network: GatedNetwork, data: GatedData, lr: float, epochs: int,
                init: dict[str, np.ndarray] | None = None, init_std: float = 1e-2,
                seeds: int = 1, seed: int = 0, device: str = "cpu", dtype: str = "float64",
                record_every: int = 1, keep_weights: bool = False) -> GatedRun:
    """Gradient descent for ``epochs`` epochs (see the module docstring); the arguments and
    the record are those of :func:`modspec.numerics.gated_simulate.gated_simulate`, plus the
    ``device`` (auto, cpu, cuda) and ``dtype`` (float32, float64)."""
    import torch

    _check_schedule(lr, epochs, record_every)
    dev, tdt = resolve_device(device), resolve_dtype(dtype)
    data.check(network)
    N = len(network.contexts) * data.P

    def tensor(a: Any) -> Any:
        return torch.as_tensor(np.asarray(a, dtype=float), dtype=tdt, device=dev)

    start = start_weights(network, init, init_std, seeds, seed)
    W = {e: tensor(w.copy()).requires_grad_(True) for e, w in start.items()}
    per_seed_loss = _loss_function(network, data, W, tensor)
    steps = sorted(set(range(0, epochs + 1, record_every)) | {epochs})
    losses, history = [], {e: [] for e in W}
    sync = torch.cuda.synchronize if str(dev).startswith("cuda") else (lambda: None)
    sync()
    began = time.perf_counter()
    for epoch in range(epochs + 1):
        loss = per_seed_loss()
        if epoch in steps:
            losses.append(loss.detach().cpu().numpy() / N)
            if keep_weights:
                for e, w in W.items():
                    history[e].append(w.detach().cpu().numpy().copy())
        if epoch == epochs:
            break
        grads = torch.autograd.grad(loss.sum(), list(W.values()))
        with torch.no_grad():
            for w, g in zip(W.values(), grads, strict=True):
                w -= lr * g
        if not all(bool(torch.isfinite(w).all()) for w in W.values()):
            raise ModspecError(f"lr={lr:g} is invalid: gradient descent diverged "
                               f"(non-finite weights at epoch {epoch + 1}); use a smaller lr")
    sync()
    seconds = time.perf_counter() - began
    hist = {e: np.stack(v, axis=1) for e, v in history.items()} if keep_weights else None
    final = {e: w.detach().cpu().numpy().astype(float) for e, w in W.items()}
    return GatedRun(np.array(steps, dtype=float), np.stack(losses, axis=1), start, final,
                    float(lr), 1.0 / (N * lr), hist, seconds)


def _check_schedule(lr: Any, epochs: Any, record_every: Any) -> None:
    """``lr > 0``, ``epochs ≥ 0`` and ``record_every ≥ 1``, or a :class:`ModspecError`."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not np.isfinite(lr) \
            or lr <= 0:
        raise bad("lr", lr, "must be a number > 0")
    check_integer("epochs", epochs, 0)
    check_integer("record_every", record_every, 1)


def _loss_function(network: GatedNetwork, data: GatedData, W: dict[str, Any],
                   tensor: Callable[[Any], Any]) -> Callable[[], Any]:
    """The per-seed loss ``L = Σ_s ½ Σ_k g_k(s) ‖y_k(s) − ŷ_k(s)‖²`` of the weights ``W`` (a
    ``(seeds,)`` tensor), the data tiled over the contexts and every gate taken at the sample."""
    C = len(network.contexts)
    table = gate_table(network, data.P)
    ones = np.ones(C * data.P)
    gate = {name: tensor([float(v) for v in table[name]] if name in table else ones)
            for name in (*network.layer_names, *(e.name for e in network.edges))}
    X, Y = data.numeric()
    x = {i: tensor(np.tile(X[i], (1, C))) for i in network.input_layers}
    y = {k: tensor(np.tile(Y[k], (1, C))) for k in network.output_layers}
    into = {n: [e for e in network.edges if e.target == n] for n in network.order}

    def per_seed_loss() -> Any:
        z: dict[str, Any] = {}
        for n in network.order:
            if n in x:
                z[n] = gate[n] * x[n]
            else:
                z[n] = gate[n] * sum(gate[e.name] * (W[e.name] @ z[e.source]) for e in into[n])
        return sum(0.5 * (gate[k] * ((y[k] - z[k]) ** 2).sum(dim=-2)).sum(dim=-1)
                   for k in y)

    return per_seed_loss
