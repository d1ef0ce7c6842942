"""One record for everything that unfolds in time: theory, simulation, training, flow.

A :class:`Trajectory` holds, at the times ``t`` (epochs of full-batch gradient descent,
``τ = 1/(P·lr)`` with P the number of training objects):

* ``modes[key]`` — mode strengths, read on the *analytic* singular vectors of each module
  (``mean diag(Uᵀ M V)``), so theory and measurement pair by key without any matching;
* ``quadrant_norms[q]`` — Frobenius norms of the blocks ``Ox->Oy`` … of the network's map;
* ``loss[name]`` — per sample: the mean over training samples of the summed squared error
  over the output block's units (named by
  :func:`modspec.theory.observables.loss_key`);
* ``heldout`` — when objects were held out: for every output block, the mean over held-out
  objects of the summed squared error over the block's units, as a curve (``blocks``; the
  same quantity as the theory's ``block_errors``, :func:`modspec.theory.heldout.heldout`),
  ``compositional_error`` the ``Oy`` block's curve (``None`` without ``Oy``), and which
  objects.

Every array has the times on its last axis. A *measured* record (``seed_axis=True``: a
simulation, a training run, an integrated flow from random starts) has one leading axis of
seeds, ``(seeds, T)``; a *predicted* record has none, or a leading batch of parameter sets
``B + (T,)`` when a predictor was evaluated for many parameters at once.

What produced the record is said by ``kind`` (``"theory"``, ``"simulation"``, ``"training"``,
``"flow"``) and ``time`` (``"continuous"``: the gradient flow; ``"discrete"``: gradient
descent epoch by epoch). The run's settings travel with it (``lr``, ``tau``,
``train_objects``, the initial and final ``weights``, each mode's effective start ``a0``, the
network's ``final_map``), so the theory of a run can be computed from the record alone
(:func:`modspec.numerics.expectation.expect`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict

import numpy as np

__all__ = ["GROUPS", "HeldoutCurve", "Trajectory", "Weights", "heldout_curve",
           "measured_half_rise", "stack_records"]

#: The observables recorded over time, in the order of the JSON contract.
GROUPS = ("modes", "quadrant_norms", "loss")

#: Weights of a network: a list over modules of a list over layers of ``(seeds, out, in)``.
Weights = list[list[np.ndarray]]


class HeldoutCurve(TypedDict, total=False):
    """Errors on held-out objects, each shaped like the other records (``(seeds, T)``).

    ``blocks[b]``: the mean over held-out objects of output block ``b``'s summed squared
    error; ``compositional_error``: the ``Oy`` block's (``None`` for a dataset without
    ``Oy``); ``objects``: the held-out object indices. Build one with :func:`heldout_curve`
    (a record made by hand may leave ``blocks`` out)."""

    compositional_error: np.ndarray | None
    blocks: dict[str, np.ndarray]
    objects: np.ndarray


def heldout_curve(blocks: Mapping[str, Any], objects: Any) -> HeldoutCurve:
    """The held-out curve of per-block errors ``blocks[b]`` on the held-out ``objects``;
    ``compositional_error`` is the ``Oy`` entry."""
    arrays = {b: np.asarray(v) for b, v in blocks.items()}
    return HeldoutCurve(compositional_error=arrays.get("Oy"), blocks=arrays,
                        objects=np.asarray(objects))


def measured_half_rise(t: np.ndarray, a: np.ndarray, target: float) -> float:
    """First time the curve ``a`` reaches ``target/2`` (linear interpolation), NaN if never.

    Assumes ``a`` starts below ``target/2`` (small initialisation). (The theory's half-rise
    time in closed form is :attr:`modspec.theory.derivation.Derivation.half_rise_times`.)
    """
    half = target / 2
    above = np.flatnonzero(a >= half)
    if above.size == 0 or target <= 0:
        return float("nan")
    k = int(above[0])
    if k == 0:
        return float(t[0])
    t0, t1, a0, a1 = t[k - 1], t[k], a[k - 1], a[k]
    return float(t0 + (half - a0) * (t1 - t0) / (a1 - a0))


def _map_heldout(held: HeldoutCurve | None, f: Callable[[np.ndarray], np.ndarray]
                 ) -> HeldoutCurve | None:
    """``f`` applied to every curve of ``held`` (its objects kept)."""
    if held is None:
        return None
    comp = held.get("compositional_error")
    out = HeldoutCurve(compositional_error=None if comp is None else f(np.asarray(comp)),
                       objects=held["objects"])
    if "blocks" in held:
        out["blocks"] = {b: f(np.asarray(v)) for b, v in held["blocks"].items()}
    return out


def _plain(value: Any) -> Any:
    return np.asarray(value).tolist()


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Observables over time; see the module docstring for fields, shapes and units."""

    t: np.ndarray
    modes: dict[str, np.ndarray]
    quadrant_norms: dict[str, np.ndarray]
    loss: dict[str, np.ndarray]
    heldout: HeldoutCurve | None = None
    seed_axis: bool = True
    kind: str = "simulation"
    time: str = "discrete"
    lr: Any = None
    tau: Any = None
    train_objects: np.ndarray | None = None
    init: Weights | None = field(default=None, repr=False)
    weights: Weights | None = field(default=None, repr=False)
    a0: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    final_map: np.ndarray | None = field(default=None, repr=False)
    biases: Weights | None = field(default=None, repr=False)
    meta: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ statistics
    def _reduce(self, reduce: Callable[..., np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
        return {g: {k: reduce(np.asarray(v)) for k, v in getattr(self, g).items()}
                for g in GROUPS}

    def mean(self) -> dict[str, dict[str, np.ndarray]]:
        """Means over seeds, ``{"modes": {...}, "quadrant_norms": {...}, "loss": {...}}``
        (the arrays themselves for a record without a seed axis)."""
        if not self.seed_axis:
            return self._reduce(lambda v: v)
        return self._reduce(lambda v: v.mean(axis=0))

    def std(self) -> dict[str, dict[str, np.ndarray]]:
        """Standard deviations over seeds (zeros without a seed axis), keys as :meth:`mean`."""
        if not self.seed_axis:
            return self._reduce(np.zeros_like)
        return self._reduce(lambda v: v.std(axis=0))

    def averaged(self) -> Trajectory:
        """The same record with every array replaced by its mean over seeds (no seed axis)."""
        if not self.seed_axis:
            return self
        held = _map_heldout(self.heldout, lambda v: v.mean(0))
        return replace(self, seed_axis=False, heldout=held, **self.mean())

    def at(self, epochs: Any) -> Trajectory:
        """The record restricted to the recorded times that are in ``epochs``."""
        index = np.flatnonzero(np.isin(self.t, np.asarray(epochs, dtype=float)))
        pick = {g: {k: np.asarray(v)[..., index] for k, v in getattr(self, g).items()}
                for g in GROUPS}
        held = _map_heldout(self.heldout, lambda v: v[..., index])
        return replace(self, t=self.t[index], heldout=held, **pick)

    def final(self, group: str, key: str) -> float:
        """The last value of one observable, averaged over seeds."""
        return float(np.mean(np.asarray(getattr(self, group)[key])[..., -1]))

    def final_heldout(self) -> float | None:
        """The last held-out compositional error, averaged over seeds (None without one)."""
        if self.heldout is None or self.heldout.get("compositional_error") is None:
            return None
        return float(np.mean(np.asarray(self.heldout["compositional_error"])[..., -1]))

    def final_heldout_blocks(self) -> dict[str, float] | None:
        """The last held-out error of every output block, averaged over seeds
        (``{block: float}``; None when no object was held out)."""
        if self.heldout is None:
            return None
        return {b: float(np.mean(np.asarray(v)[..., -1]))
                for b, v in self.heldout.get("blocks", {}).items()}

    # ------------------------------------------------------------------ display, tables
    def __repr__(self) -> str:
        """One line: what the record is and its sizes, never its arrays."""
        seeds = f"{self.n_seeds} seeds, " if self.seed_axis else ""
        span = (f"epochs {self.t[0]:g}..{self.t[-1]:g} ({len(self.t)} times)" if len(self.t)
                else "no times")
        names = ", ".join(f"{g}: {len(getattr(self, g))}" for g in GROUPS)
        lr = "" if self.lr is None else f", lr={self.lr}"
        return f"Trajectory({self.kind}, {self.time} time{lr}, {seeds}{span}; {names})"

    @property
    def n_seeds(self) -> int:
        """Number of seeds of a measured record (1 without a seed axis)."""
        if not self.seed_axis:
            return 1
        for g in GROUPS:
            for v in getattr(self, g).values():
                return int(np.asarray(v).shape[0])
        return 0

    def to_dataframe(self) -> Any:
        """The record as a tidy (long) :class:`pandas.DataFrame`, one row per value, with
        columns ``epoch`` (float), ``seed`` (int; ``-1`` for a record without a seed axis,
        such as a theory), ``group`` (``modes``, ``quadrant_norms``, ``loss`` or
        ``heldout``), ``observable`` (``pi1``, ``Gx->Oy``, ``compositional``, a held-out
        output block…) and ``value``. Plain column names: ``df.query("observable == 'pi1'")``.
        """
        import pandas as pd

        frames = []
        series = [(g, k, v) for g in GROUPS for k, v in getattr(self, g).items()]
        if self.heldout is not None:
            series += [("heldout", k, v) for k, v in self.heldout.get("blocks", {}).items()]
        for group, name, values in series:
            arr = np.asarray(values, dtype=float)
            arr = arr.reshape(-1, arr.shape[-1]) if self.seed_axis else arr.reshape(1, -1)
            seeds = np.arange(arr.shape[0]) if self.seed_axis else np.array([-1])
            frames.append(pd.DataFrame({
                "epoch": np.tile(np.asarray(self.t, dtype=float), arr.shape[0]),
                "seed": np.repeat(seeds, arr.shape[1]),
                "group": group, "observable": name, "value": arr.ravel()}))
        if not frames:
            return pd.DataFrame(columns=["epoch", "seed", "group", "observable", "value"])
        return pd.concat(frames, ignore_index=True)

    # ------------------------------------------------------------------------ JSON
    def payload(self) -> dict[str, Any]:
        """The JSON contract of ``modspec predict`` / ``modspec simulate`` as plain Python.

        ``{"t", "modes", "quadrant_norms", "loss"}``; a measured record gives means over
        seeds there and adds ``"std"`` (same keys) and, with held-out objects,
        ``"heldout": {"compositional_error": float | None, "blocks": {block: float},
        "objects": [...]}`` (the last epoch's mean over seeds); ``meta`` (the settings of a
        training run) when present.
        """
        mean = self.mean()
        out: dict[str, Any] = {"t": _plain(self.t)}
        for g in GROUPS:
            out[g] = {k: _plain(v) for k, v in mean[g].items()}
        if self.seed_axis:
            std = self.std()
            out["std"] = {g: {k: _plain(v) for k, v in std[g].items()} for g in GROUPS}
        if self.heldout is not None:
            out["heldout"] = {"compositional_error": self.final_heldout(),
                              "blocks": self.final_heldout_blocks(),
                              "objects": [int(i) for i in self.heldout["objects"]]}
        if self.meta:
            out["meta"] = {k: v for k, v in self.meta.items()
                           if isinstance(v, (str, int, float, bool, type(None), list))}
        return out

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`payload` as a JSON string (``kwargs`` go to :func:`json.dumps`)."""
        return json.dumps(self.payload(), **kwargs)

    @classmethod
    def empty(cls, t: Any, kind: str = "theory", time: str = "discrete") -> Trajectory:
        """A record with no observables at the times ``t`` (no theory applies)."""
        return cls(np.asarray(t, dtype=float), {}, {}, {}, seed_axis=False, kind=kind,
                   time=time)


def stack_records(records: list[Mapping[str, Mapping[str, np.ndarray]]]
                  ) -> dict[str, dict[str, np.ndarray]]:
    """Stack per-seed observations ``[{group: {key: (T,)}}]`` into
    ``{group: {key: (seeds, T)}}``."""
    return {g: {k: np.stack([r[g][k] for r in records]) for k in records[0][g]} for g in GROUPS}
