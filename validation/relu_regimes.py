"""Where is a ReLU network's gating stable? A measured scan (docs/theory/relu-gating.md §3).

The gated-network prediction (:func:`modspec.validation.relu_gating.compare_relu_gating`) is a
claim about the part of a run after the gating settles. It says something about *learning*
only if the gating settles while there is learning left. For each setting of a grid the ReLU
network (one dense depth-2 module, no biases, PyTorch float64) is trained and measured:

* ``stable_epoch``: the first recorded epoch whose gating instability (the fraction of hidden
  units whose pattern changes later) is at most ``threshold`` (None: never);
* ``learning_left``: at that epoch, the fraction of the run's loss decrease still to come,
  ``(L(t) − L(end)) / (L(0) − L(end))`` (1: the gating is stable from the start; 0: it settles
  only once the loss has stopped moving);
* ``half_gap``: the smallest, over the epochs ``t`` before half the loss decrease is done, of
  :func:`~modspec.numerics.relu_gating.frozen_gate_gap` (how much freezing the gates at ``t``
  changes the output later, relative to ‖Y‖) — a softer measure, insensitive to units whose
  pre-activations flip near 0.

A setting is **stable over the learning** when the gating settles with at least half of the
loss decrease to come (``learning_left ≥ 0.5``): the prediction from there covers most of the
learning. :data:`QUICK_GRID` is the CPU grid the suite measures; wider grids are slow.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from modspec.numerics.relu_gating import frozen_gate_gap

from .relu_gating import instability_curve, train_relu

__all__ = ["QUICK_GRID", "WIDE_GRID", "FULL_SIZE", "scan_setting", "stability_scan"]

#: (hidden, init_std, lr, epochs) settings measured in the default suite (seconds).
QUICK_GRID = tuple(itertools.product((16, 64), (1e-2, 1e-4), (0.02,), (600,)))
#: A wider grid (minutes on two cores; the slow tests).
WIDE_GRID = tuple(itertools.product((16, 64, 128), (1e-2, 1e-4, 1e-6), (0.005, 0.02),
                                    (2000,)))
#: The follow-up paper's full size, ``modspec relu --full``: (hidden, init_std, lr, epochs)
#: and the epochs between records (training: under a minute on one CPU core; the slow tests).
FULL_SIZE = ((700, 1e-3, 1e-3, 8000), 10)


def scan_setting(dataset: Any, hidden: int, init_std: float, lr: float, epochs: int,
                 seed: int = 0, threshold: float = 0.05, device: str = "cpu",
                 record_every: int = 1) -> dict[str, Any]:
    """Train one setting and measure it (module docstring); a JSON-ready row. With
    ``record_every`` > 1 the gating is read every ``record_every`` epochs only: flips undone
    between two records are missed, so the instabilities are lower bounds."""
    run = train_relu(dataset, hidden=hidden, lr=lr, epochs=epochs, seed=seed,
                     init_std=init_std, record_every=record_every, device=device)
    X = np.asarray(dataset.X, dtype=float)
    Y = np.asarray(dataset.Y, dtype=float)
    W1, W2 = run["W1"], run["W2"]
    H = W1 @ X
    loss = ((W2 @ np.maximum(H, 0.0) - Y) ** 2).sum(axis=1).mean(axis=1)
    inst = instability_curve(H > 0)
    stable = next((i for i in range(len(inst) - 1) if inst[i] <= threshold), None)
    drop = max(float(loss[0] - loss[-1]), 1e-300)
    left = None if stable is None else float((loss[stable] - loss[-1]) / drop)
    half = int(np.argmax(loss <= loss[0] - drop / 2))
    step = max(1, half // 50)
    gap = min(frozen_gate_gap(W1[::step], W2[::step], X, Y, k)
              for k in range(max(1, half // step)))
    return {"hidden": hidden, "init_std": init_std, "lr": lr, "epochs": epochs,
            "record_every": record_every, "seconds_per_epoch": run["seconds_per_epoch"],
            "stable_epoch": None if stable is None else int(run["t"][stable]),
            "learning_left": left, "smallest_instability": float(inst[:-1].min()),
            "half_gap": gap, "loss": [float(loss[0]), float(loss[-1])],
            "stable_over_learning": left is not None and left >= 0.5}


def stability_scan(dataset: Any, grid: Sequence[tuple[int, float, float, int]] = QUICK_GRID,
                   seed: int = 0, threshold: float = 0.05, device: str = "cpu"
                   ) -> list[dict[str, Any]]:
    """:func:`scan_setting` over ``grid`` ((hidden, init_std, lr, epochs) tuples)."""
    return [scan_setting(dataset, h, s, lr, ep, seed, threshold, device)
            for h, s, lr, ep in grid]
