"""The records of a simulation, written in batches of epochs.

A recorded epoch of a reduced run (:mod:`modspec.numerics.subspace`) needs the full module
maps ``M = M̃ Qᵀ + W̃_L ⋯ W̃_2 C`` (the quadrant norms read their entries). Rebuilt at each
recorded epoch they cost more than the reduced step itself: a small stacked product per seed
and a dozen NumPy calls per epoch. :class:`Recorder` reads the block losses at once on the
reduced ``W̃`` and ``R̃``, keeps the reduced state of each recorded epoch (a copy of ``M̃`` and
the layers after the first: a few hundred numbers a seed) and rebuilds a batch of up to
:data:`CHUNK_BYTES` of full maps at once: ``W̃_L ⋯ W̃_2 C`` is then one matrix product per seed
over all the batch's epochs, written into a buffer kept for the run (fresh arrays of that size
cost page faults at every batch), and the mode strengths and quadrant norms one pass of
:meth:`~modspec.numerics.simulate.Observer.map_values` (which squares that buffer in place).
The values are those of the epoch by epoch reading (the same products, grouped differently:
equal to rounding).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .flow import Covariances, Layout, total_map
from .record import HeldoutCurve, heldout_curve
from .subspace import ReducedRun

__all__ = ["CHUNK_BYTES", "CHUNK_RECORDS", "Recorder", "chunk_records"]

#: Full maps rebuilt at once (bytes): bounds the memory a batch of records adds (1 MiB: a
#: few records of 100 seeds, in cache; larger batches measured slower).
CHUNK_BYTES = 2**20
#: ... and at most this many records (few seeds: the batch stays small next to the run).
CHUNK_RECORDS = 16


def chunk_records(n_records: int, n_seeds: int, n_out: int, n_in: int) -> int:
    """How many records a batch rebuilds at once: at most :data:`CHUNK_RECORDS` and
    :data:`CHUNK_BYTES` of full ``n_out × n_in`` maps of ``n_seeds`` seeds (at least one)."""
    return min(n_records, CHUNK_RECORDS,
               max(1, CHUNK_BYTES // (8 * n_seeds * max(1, n_out * n_in))))


class Recorder:
    """Every record of a run as ``table`` (T, seeds, observables) in the order of
    ``obs.names``, the held-out errors and the last recorded full map."""

    def __init__(self, obs: Any, lay: Layout, sub: ReducedRun | None, n_records: int,
                 n_seeds: int) -> None:
        self.obs, self.lay, self.sub = obs, lay, sub
        self.table = np.empty((n_records, n_seeds, len(obs.names)))
        self.held = ({b: np.empty((n_seeds, n_records)) for b in obs.out_spans}
                     if obs.record_held else None)
        self.final_map: np.ndarray | None = None
        self.slots: list[int] = []
        self.loss_at = len(obs.names) - len(obs.loss_blocks)      # the losses' first column
        if sub is None:
            return
        self.chunk = chunk_records(n_records, n_seeds, lay.n_out, lay.n_in)
        # per module: its left factor K = [M̃, W̃_L ⋯ W̃_2] (or M̃ alone) of every pending
        # record, and the right factor F = [Qᵀ; C] (or Qᵀ, or none): M = K F
        self.right = [_right_factor(QT, C, len(layers))
                      for QT, C, layers in zip(sub.inputs, sub.outside, sub.start, strict=True)]
        self.left = [np.empty((n_seeds, self.chunk, layers[-1].shape[-2], layers[0].shape[-1]
                               + (0 if F is None else layers[0].shape[-2])))
                     for layers, F in zip(sub.start, self.right, strict=True)]
        for K, layers in zip(self.left, sub.start, strict=True):
            if len(layers) == 1 and K.shape[-1] > layers[0].shape[-1]:
                K[..., layers[0].shape[-1]:] = np.eye(K.shape[-2])     # shallow: K = [M̃, I]
        # the rebuilt full maps of a batch, written in place (fresh arrays of this size
        # cost page faults at every batch)
        self.full = [np.empty((n_seeds, self.chunk * K.shape[-2],
                               K.shape[-1] if F is None else F.shape[-1]))
                     for K, F in zip(self.left, self.right, strict=True)]

    def record(self, slot: int, maps: Sequence[np.ndarray], W: np.ndarray, R: np.ndarray,
               weights: Sequence[Sequence[np.ndarray]], cov: Covariances) -> None:
        """The record ``slot`` of the state ``weights`` with maps ``maps``, total map ``W`` and
        residual ``R`` (of the reduced run when there is one: its losses are read now, the
        maps kept for the batch)."""
        if self.sub is None:
            self.table[slot] = self.obs.values(maps, W, R)
            self._held([slot], W[:, None])
            self.final_map = W
            return
        j = len(self.slots)
        for K, M, layers in zip(self.left, maps, weights, strict=True):
            K[:, j, :, :M.shape[-1]] = M
            if K.shape[-1] > M.shape[-1] and len(layers) > 1:
                K[:, j, :, M.shape[-1]:] = functools.reduce(np.matmul, layers[:0:-1])
        self.table[slot, :, self.loss_at:] = self.obs.reduced_losses(W, cov.sigma_yx, R)
        self.slots.append(slot)
        if len(self.slots) == self.chunk:
            self.flush()

    def flush(self) -> None:
        """Rebuild the pending records' full maps and write their values."""
        n = len(self.slots)
        if n == 0:
            return
        seeds = self.table.shape[1]
        full = []
        for K, F, out in zip(self.left, self.right, self.full, strict=True):
            rows = K.shape[-2]
            if F is None:
                M = K[:, :n]
            else:
                M = out[:, :n * rows].reshape(seeds, n, rows, F.shape[-1])
                np.matmul(K[:, :n].reshape(seeds, n * rows, K.shape[-1]), F,
                          out=out[:, :n * rows])
            full.append(M.reshape(seeds * n, *M.shape[2:]))
        final = total_map(self.lay, full)                    # (seeds · records, out, in)
        by_seed = final.reshape(seeds, n, *final.shape[1:])
        self._held(self.slots, by_seed)
        self.final_map = by_seed[:, -1].copy()
        values = self.obs.map_values(full, final, overwrite=True)
        self.table[self.slots, :, :values.shape[-1]] = values.reshape(seeds, n, -1).transpose(
            1, 0, 2)
        self.slots = []

    def _held(self, slots: list[int], final: np.ndarray) -> None:
        if self.held is None:
            return
        seeds, n = final.shape[:2]
        for b, v in self.obs.heldout(final.reshape(seeds * n, *final.shape[2:])).items():
            self.held[b][:, slots] = v.reshape(seeds, n)

    def curves(self) -> tuple[dict[str, dict[str, np.ndarray]], HeldoutCurve | None]:
        """The named (seeds, T) arrays and the held-out curve."""
        records: dict[str, dict[str, np.ndarray]] = {"modes": {}, "quadrant_norms": {},
                                                     "loss": {}}
        for j, (group, key) in enumerate(self.obs.names):
            records[group][key] = np.ascontiguousarray(self.table[:, :, j].T)
        held = heldout_curve(self.held, self.obs.held) if self.held is not None else None
        return records, held


def _right_factor(QT: np.ndarray | None, C: np.ndarray | None, depth: int
                  ) -> np.ndarray | None:
    """``F`` with ``M = K F`` (:class:`Recorder`): ``[Qᵀ; C]`` per seed for a reduced module
    of depth ≥ 2 (``K = [M̃, W̃_L ⋯ W̃_2]``) and for a shallow one (``M = M̃ Qᵀ + C``:
    ``K = [M̃, I]``); None where the module's inputs are not reduced (``M = M̃``)."""
    if QT is None:
        return None
    seeds = C.shape[0]
    return np.ascontiguousarray(np.concatenate(
        [np.broadcast_to(QT, (seeds, *QT.shape)), C], axis=-2))
