"""The theory columns of sweep points: :func:`~modspec.numerics.expectation.expect` of the run
each point describes.

A point describes a run before it is made (:func:`planned_run`): its times (the last epoch),
learning rate, training objects, learning rule, the seeded initial weights a simulation of
the point starts from (:func:`~modspec.numerics.simulate.initial_weights`) and, as each mode's
start, the expected effective start of weights ``N(0, init_std²)``
(:func:`~modspec.numerics.expectation.expected_a0`, or the grid's ``a0``). Its theory is
``expect(derive(dataset, network), planned_run(point), rule=point's rule)``, the one theory of
a run the rest of the house uses; the row holds the last epoch of that expectation's
:meth:`~modspec.numerics.record.Trajectory.payload` (``theory.<quadrant>``,
``theory.<mode>``, ``theory.loss.<name>``), its end point (``theory.end.<quadrant>``: for
gradient descent on every object the converged map, as ``modspec derive`` prints it), its
held-out error (``theory.heldout``, points trained on a subset) and, for gradient descent,
each mode's half-rise epoch of the gradient flow from the start used
(``theory.half_rise.<mode>``). A theory that does not apply is ``theory.error`` (one line).

Batched: decoupled networks of depth ≤ 2 trained by gradient descent on every object of a
generic compositional dataset (``kx, ky ≥ 1``, ``rx, ry > 0``, ``1 ≤ ny < nx``) evaluate the
same compiled predictor (the symbolic family's, derived once per network) at the same starts
in one batch over all points of a bundle; the tests hold it equal to ``expect`` point by
point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from modspec.numerics.expectation import A0_FLOOR, Expectation, expect, expected_a0
from modspec.numerics.record import Trajectory
from modspec.theory.architectures import architecture
from modspec.theory.errors import ModspecError

from .point import Point

__all__ = ["planned_run", "point_expectation", "theory_values"]


def _depths(dataset: Any, network: Any) -> dict[str, int]:
    from modspec.numerics.flow import layout

    lay = layout(dataset, network, 1)
    return {key: ml.depth for ml in lay.modules for key in ml.keys.values()}


def planned_run(p: Point) -> Trajectory:
    """The record of the run point ``p`` describes, not yet made (module docstring): no
    observables, the last epoch as its one time, the point's ``lr``, training objects, rule
    (``meta``), seeded initial weights and expected starts ``a0``."""
    from modspec.numerics.simulate import initial_weights

    dataset, network = p.dataset(), p.network()
    init = initial_weights(dataset, network, p.hidden, p.init_std, p.seeds, p.seed)
    a0 = {k: np.array([p.a0 if p.a0 is not None else expected_a0(d, p.hidden, p.init_std)])
          for k, d in _depths(dataset, network).items()}
    objects = p.objects()
    meta: dict[str, Any] = {"rule": p.rule}
    meta |= {k: v for k, v in (("gamma", p.gamma), ("nabla", p.nabla)) if v is not None}
    return Trajectory(np.array([float(p.epochs)]), {}, {}, {}, seed_axis=False,
                      kind="planned", lr=p.lr, init=init, a0=a0, meta=meta,
                      train_objects=None if objects is None else np.array(objects))


def point_expectation(p: Point) -> tuple[Any, Expectation]:
    """The derivation of ``p`` and ``expect`` of its :func:`planned_run`."""
    from modspec.theory.derivation import derive

    th = derive(p.dataset(), p.network())
    return th, expect(th, planned_run(p), rule=p.learning_rule())


def _columns(th: Any, e: Expectation, p: Point) -> dict[str, float]:
    """The row columns of one expectation (module docstring)."""
    out: dict[str, float] = {}
    payload = e.trajectory.payload()
    for group, label in (("quadrant_norms", ""), ("modes", ""), ("loss", "loss.")):
        for key, values in payload[group].items():
            out[f"theory.{label}{key}"] = _float(values[-1])
    end = e.end_point or {}
    converged = th.converged.get("quadrant_norms")
    if converged and p.learning_rule().is_gradient_descent and e.heldout is None:
        end = converged                 # the converged map, as `modspec derive` prints it
    out |= {f"theory.end.{q}": _float(v) for q, v in end.items()}
    if e.heldout_error is not None:
        out["theory.heldout"] = _float(e.heldout_error)
    if e.method.startswith(("not reducible", "none")):
        out["theory.error"] = e.method
    if p.learning_rule().is_gradient_descent and e.trajectory.modes and not th.coupled:
        from modspec.theory import symbols as sy

        tau = 1.0 / (int(th.dataset.P) * p.lr)
        for key, rise in th.half_rise_times.items():
            value = complex(rise.subs({sy.tau: tau, sy.a0: e.a0[key]}).evalf())
            out[f"theory.half_rise.{key}"] = value.real if value.imag == 0 else math.nan
    return out


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _one(p: Point) -> dict[str, Any]:
    """One point's theory, or its one-line error as ``theory.error`` (e.g. gradient descent
    diverges at this learning rate)."""
    try:
        th, e = point_expectation(p)
        return _columns(th, e, p)
    except ModspecError as exc:
        return {"theory.error": str(exc)}


# --------------------------------------------------------------------- the batch
def _batched(p: Point) -> bool:
    return (p.inline and p.rule == "gradient-descent" and p.gamma is None
            and p.nabla is None and p.train_objects is None and p.depth <= 2
            and p.kx >= 1 and p.ky >= 1 and p.rx > 0 and p.ry > 0 and 1 <= p.ny < p.nx
            and not architecture(p.arch, p.depth).coupled)


@lru_cache(maxsize=16)
def _family(arch: str, depth: int) -> tuple[Any, Any, dict[str, Any]]:
    """The symbolic family's predictor, compiled end norms and half-rise times (per process)."""
    from modspec.numerics.predict import compile
    from modspec.theory.dataset import CompositionalDataset
    from modspec.theory.derivation import derive

    th = derive(CompositionalDataset.symbolic(), architecture(arch, depth))
    rises = {k: compile(e) for k, e in th.half_rise_times.items()}
    return compile(th), compile(th.converged["quadrant_norms"]), rises


def _start(p: Point, depth: int) -> float:
    """``expect``'s start of a mode of ``depth`` for the :func:`planned_run` of ``p``."""
    a0 = p.a0 if p.a0 is not None else expected_a0(depth, p.hidden, p.init_std)
    return a0 if depth == 1 else max(a0, A0_FLOOR)


def _batch(arch: str, depth: int, epochs: int, points: list[Point]) -> list[dict[str, float]]:
    f, ends, rises = _family(arch, depth)
    data = {name: np.array([getattr(p, name) for p in points], dtype=float)
            for name in ("nx", "ny", "kx", "ky", "rx", "ry")}
    lr = np.array([p.lr for p in points])
    a0s = {k: np.array([_start(p, d) for p in points]) for k, d in f.depths.items()}
    run = f(np.array([float(epochs)]), lr=lr, a0=a0s, time="discrete", **data)
    columns: dict[str, Any] = {}
    for group, label in (("quadrant_norms", ""), ("modes", ""), ("loss", "loss.")):
        for key, values in getattr(run, group).items():
            columns[f"theory.{label}{key}"] = np.asarray(values)[..., -1]
    used = {name: data[name] for name in ends.names}
    columns |= {f"theory.end.{q}": v for q, v in ends(**used).items()}
    tau = 1.0 / (2.0 ** data["nx"] * lr)
    for key, rise in rises.items():
        args = {"tau": tau, "a0": a0s[key], **data}
        columns[f"theory.half_rise.{key}"] = rise(**{n: args[n] for n in rise.names})
    return [{k: float(np.broadcast_to(v, lr.shape)[i]) for k, v in columns.items()}
            for i in range(len(points))]


def theory_values(points: Sequence[Point]) -> list[dict[str, Any]]:
    """The theory columns of each point (module docstring)."""
    out: list[dict[str, Any]] = [{} for _ in points]
    batches: dict[tuple[str, int, int], list[int]] = {}
    from modspec.validation.sweeps.balanced import balanced, theory_columns

    for i, p in enumerate(points):
        if balanced(p):
            out[i] = theory_columns(p)
        elif _batched(p):
            batches.setdefault((p.arch, p.depth, p.epochs), []).append(i)
        else:
            out[i] = _one(p)
    for (arch, depth, epochs), index in batches.items():
        group = [points[i] for i in index]
        try:
            values = _batch(arch, depth, epochs, group)
        except ModspecError:                        # a point of the batch: one by one
            values = [_one(p) for p in group]
        for i, v in zip(index, values, strict=True):
            out[i] = v
    return out
