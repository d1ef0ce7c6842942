"""Sweeps: many points of a grid, computed in bundles by an executor, stored as they finish.

* :mod:`.grid` — the grid file, checked whole, and the product of its values;
* :mod:`.point` — one point: its specification (:class:`~.point.Point`), built and checked;
* :mod:`.store` — the append-only store of rows, its tidy and exported forms;
* :mod:`.theory` — the theory of a point (:func:`~modspec.numerics.expectation.expect`);
* :mod:`.run` — the task of a bundle of points and the driver :func:`sweep`;
* :mod:`.executors` — what runs the bundles, by name (:data:`EXECUTORS`: in this process, a
  local process pool, a Dask cluster through :mod:`.cluster`); a new one is registered there;
* :mod:`.diagram` — phase diagrams of a store (:func:`plot`).

The names below are resolved on first access, so importing one submodule imports no other.
"""

from __future__ import annotations

from modspec.exports import lazy_exports

#: Public name -> its submodule.
_LAZY = {
    "EXECUTORS": ".executors",
    "Executor": ".executors",
    "ExecutorOptions": ".executors",
    "SweepResult": ".run",
    "bundles": ".run",
    "check_plot": ".run",
    "export_sweep": ".store",
    "load_sweep": ".store",
    "plot": ".run",
    "run_bundle": ".run",
    "sweep": ".run",
    "theory_values": ".theory",
    "tidy_sweep": ".store",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
