"""Sweeps: many points of a grid, computed in bundles by an executor, stored as they finish.

:func:`sweep` reads a grid (:mod:`.grid`), skips the points its store already holds
(:mod:`.store`), cuts the rest into bundles and hands them to an executor named in
:data:`~.executors.EXECUTORS`: in-process, a local process pool (the default) or a Dask
distributed cluster (an address, a ``Client`` or a ``LocalCluster``; :mod:`.cluster`). A task
is the plain importable function :func:`run_bundle` of a list of :class:`~.point.Point` (small,
picklable), run with BLAS on one thread; only the driver writes the store.

What a point computes (``compute``), as columns of its row (times in epochs of full-batch
gradient descent, ``τ = 1/(P·lr)``):

* ``theory`` — the theory of the run the point describes,
  :func:`modspec.numerics.expectation.expect` of its derivation and planned run
  (:mod:`.theory`: the seeded initial weights, the expected starts, the point's rule),
  in discrete time: ``theory.<q>`` the quadrant norms, ``theory.<mode>`` the mode strengths
  and ``theory.loss.<name>`` the losses at the last epoch; ``theory.end.<q>`` the end point
  (the converged map's quadrant norms, as ``modspec derive``; a subset's converged map for a
  point trained on a subset, with its held-out error ``theory.heldout``);
  ``theory.half_rise.<mode>`` the gradient flow's half-rise epoch from the start used
  (gradient descent). Generic compositional points of decoupled networks are evaluated in one
  batch of the same compiled predictor.
* ``simulate`` — :func:`modspec.numerics.simulate.simulate`, all seeds in one batch,
  recording every ``record_every`` epochs: ``simulate.<obs>`` the mean over seeds at the last
  epoch and ``simulate.<obs>.std`` the standard deviation; ``simulate.half_rise.<mode>`` the
  first epoch the seed-mean strength reaches half its last recorded value;
  ``simulate.heldout`` the held-out compositional error when objects are held out.
* ``train`` — the same from :func:`modspec.validation.training.train` (PyTorch, CPU).

Phase diagrams of a store: :func:`plot`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modspec.numerics.record import Trajectory
from modspec.numerics.simulate import simulate, single_threaded_blas
from modspec.theory.errors import ModspecError, bad
from modspec.validation.sweeps.balanced import measured_columns

from ..comparison import measured_half_rise
from .executors import ExecutorOptions, start
from .grid import grid_points, read_grid
from .point import Point
from .store import StoreWarning, grid_key, load_sweep, open_store
from .theory import theory_values

__all__ = ["SweepResult", "bundles", "check_plot", "load_sweep", "plot",
           "run_bundle", "sweep", "theory_values"]

# ------------------------------------------------------------------------ the task
def run_bundle(points: Sequence[Point]) -> list[dict[str, Any]]:
    """The rows of a bundle of points (see the module docstring), BLAS on one thread."""
    with single_threaded_blas():
        rows = [{"key": p.key, **p.params()} for p in points]
        todo = [i for i, p in enumerate(points) if "theory" in p.compute]
        for i, values in zip(todo, theory_values([points[i] for i in todo]), strict=True):
            rows[i].update(values)
        for i, p in enumerate(points):
            for kind, produce in (("simulate", _simulate), ("train", _train)):
                if kind in p.compute:
                    try:
                        run = produce(p)
                        rows[i].update(measured_values(kind, run) | measured_columns(kind, p, run))
                    except ModspecError as exc:     # e.g. gradient descent diverges here
                        rows[i][f"{kind}.error"] = str(exc)
    return rows


def _simulate(p: Point) -> Trajectory:
    return simulate(p.run_spec())


def _train(p: Point) -> Trajectory:
    from ..training import train

    return train(p.run_spec("train"))


def measured_values(prefix: str, run: Trajectory) -> dict[str, float]:
    """Last-epoch means and standard deviations over seeds of a measured record, and the
    half-rise epoch of each mode's seed mean (half its last value)."""
    mean, std = run.mean(), run.std()
    out: dict[str, float] = {}
    for group, label in (("quadrant_norms", ""), ("modes", ""), ("loss", "loss.")):
        for key, values in mean[group].items():
            out[f"{prefix}.{label}{key}"] = float(values[-1])
            out[f"{prefix}.{label}{key}.std"] = float(std[group][key][-1])
    for key, values in mean["modes"].items():
        out[f"{prefix}.half_rise.{key}"] = measured_half_rise(run.t, values, float(values[-1]))
    if run.heldout is not None and run.heldout.get("compositional_error") is not None:
        held = np.asarray(run.heldout["compositional_error"])[:, -1]
        out[f"{prefix}.heldout"] = float(held.mean())
        out[f"{prefix}.heldout.std"] = float(held.std())
    return out


# ------------------------------------------------------------------------ bundles
def bundles(points: Sequence[Point], workers: int) -> list[list[Point]]:
    """Points cut into bundles: about four per worker (so a slow one does not hold the rest
    back), at most 256 points of theory or 8 of simulation/training each (so progress and
    resumption stay fine-grained), each from one network and epoch count (one batch)."""
    order = sorted(points, key=lambda p: (p.arch, p.depth, p.epochs))
    heavy = any(("simulate" in p.compute or "train" in p.compute) for p in points)
    size = max(1, min(8 if heavy else 256, math.ceil(len(order) / (4 * max(workers, 1)))))
    out: list[list[Point]] = []
    for p in order:
        if out and len(out[-1]) < size and (out[-1][0].arch, out[-1][0].depth,
                                            out[-1][0].epochs) == (p.arch, p.depth, p.epochs):
            out[-1].append(p)
        else:
            out.append([p])
    return out


# --------------------------------------------------------------------------- driver
@dataclass(frozen=True)
class SweepResult:
    """How a sweep went: ``points`` in the grid, ``skipped`` already in the store,
    ``computed`` now, the ``store`` path."""

    points: int
    skipped: int
    computed: int
    store: Path


def sweep(grid: str | Path | dict[str, Any], out: str | Path, *, workers: int | None = None,
          scheduler: str | None = None, client: Any = None, executor: str | None = None,
          progress: bool = False) -> SweepResult:
    """Compute every point of ``grid`` (a grid file or its parsed tables) not yet in the store
    ``out``, appending a row per point as it finishes.

    ``executor``: a name of :data:`~.executors.EXECUTORS` (``inline``, ``pool``, ``dask``, or
    one registered there); without one, the options choose (:func:`~.executors.implied`).
    ``workers``: 0 runs in this process, N a local pool of N processes (default: the CPU
    count); ``scheduler`` (``tcp://HOST:PORT``) submits the bundles to that Dask cluster
    instead, and so does ``client``: a Dask ``Client`` (left open) or a cluster such as
    ``LocalCluster`` (a client of it is made and closed). The whole grid is checked before
    any work. Interrupted (Ctrl-C, a kill), the
    store keeps every finished point and the same call resumes. ``out`` must be new, empty or
    a store of this grid (:func:`~.store.open_store`: a symbolic link, a file that is
    not a store and a store another sweep is writing are refused before any work).
    """
    tables = read_grid(grid) if not isinstance(grid, dict) else grid
    points = grid_points(tables, where=str(grid) if not isinstance(grid, dict) else "grid")
    family = str(tables.get("dataset", {}).get("family", "compositional"))
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 0):
        raise bad("workers", workers, "must be an integer ≥ 0 (0: in this process)")
    runner = start(executor, ExecutorOptions(workers, scheduler, client))
    try:
        with open_store(out, grid_key(family)) as store:
            todo = list({p.key: p for p in points if p.key not in store.done}.values())
            skipped = len(points) - len(todo)
            from tqdm import tqdm

            with tqdm(total=len(points), initial=skipped, unit="point", file=sys.stderr,
                      disable=not progress, smoothing=0.1) as bar:
                for rows in runner.map(run_bundle, bundles(todo, runner.workers)):
                    for row in rows:
                        store.append(row)
                    bar.update(len(rows))
    finally:
        runner.close()
    return SweepResult(len(points), skipped, len(todo), Path(out))


# ----------------------------------------------------------------------------- plots
#: What ``value`` of a plot may start with (the observable follows), besides a bare one.
VALUE_PREFIXES = ("loss.", "half_rise.", "end.")


def check_plot(points: Sequence[Point], x: str, value: str, y: str | None = None) -> None:
    """Refuse, before any point is computed, a phase diagram of ``points`` whose ``x``/``y``
    is not a parameter of the grid or whose ``value`` is no observable of its theory (the
    theory of the grid's first point of each network names them: quadrants, modes,
    ``loss.<name>``, ``half_rise.<mode>``, ``end.<quadrant>``, ``heldout``)."""
    names = [k for k in points[0].params() if k != "compute"] if points else []
    for flag, name in (("--x", x), ("--y", y)):
        if name is not None and name not in names:
            raise bad(flag, name, f"must be a parameter of this grid: {', '.join(names)}")
    if value == "heldout" or not points:
        return
    known: set[str] = set()
    firsts = {(p.family, repr(p.data), p.arch, p.depth, p.rule): p for p in reversed(points)}
    for p in firsts.values():
        row = theory_values([p])[0]
        if "theory.error" in row:
            return                              # no theory here to name them: not refused
        known |= {k.removeprefix("theory.") for k in row}
    from .store import observable_name

    if observable_name(value, known) not in known:        # shell-safe aliases: Gx_Oy
        shown = sorted(k for k in known if not k.startswith(VALUE_PREFIXES))
        raise bad("--value", value, f"must be an observable of this grid: {', '.join(shown)}"
                  ", or loss.<name>, half_rise.<mode>, end.<quadrant>, heldout")


def plot(store: Any, x: str, value: str, y: str | None = None,
         out: str | Path | None = None) -> Any:
    """A phase diagram of a store (a path or :func:`load_sweep`'s DataFrame), never an
    average over distinct points.

    One parameter ``x``: the theory ``theory.<value>`` as a line over ``x`` (evaluated between
    the grid points for a continuous ``x`` of decoupled networks on generic datasets; marked
    points at the grid points otherwise) and the simulation (or training)
    ``simulate.<value>`` as points with error bars (± std over seeds). Two, ``x`` and ``y``:
    the theory as a colour surface over the (x, y) grid (the simulation when no theory was
    computed), the measured points on it as circles coloured on the same scale. Every other
    parameter the sweep varies is drawn: as colours (curves) and panels (small multiples), or
    named on the axis when it moves with ``x``/``y``; too many panels are refused in one line
    (:mod:`modspec.validation.sweeps.diagram`). Returns the :class:`matplotlib.figure.Figure`;
    ``out`` (``.png`` or ``.pdf``) saves it.
    """
    from .diagram import phase_diagram

    df = load_sweep(store) if not hasattr(store, "columns") else store
    if "key" in df.columns and df["key"].duplicated().any():   # one mark per point
        import warnings

        warnings.warn(f"{int(df['key'].duplicated().sum())} duplicate row(s) of points "
                      "drawn once (their first row)", StoreWarning, stacklevel=2)
        df = df.drop_duplicates("key")
    return phase_diagram(df, x, value, y=y, out=out)
