"""Sweeps: many points of a grid, computed in bundles by an executor, stored as they finish.

* :mod:`.grid` — the grid file and its points;
* :mod:`.store` — the append-only store of rows, its tidy and exported forms;
* :mod:`.theory` — the theory of a point (:func:`~modspec.numerics.expectation.expect`);
* :mod:`.run` — the task of a bundle of points, the executors and the driver :func:`sweep`;
* :mod:`.diagram` — phase diagrams of a store (:func:`plot`).

The names below are resolved on first access, so importing one submodule imports no other.
"""

from __future__ import annotations

from modspec.exports import lazy_exports

#: Public name -> (submodule, attribute).
_LAZY = {
    "EXECUTORS": ("run", "EXECUTORS"),
    "SweepResult": ("run", "SweepResult"),
    "bundles": ("run", "bundles"),
    "check_plot": ("run", "check_plot"),
    "export_sweep": ("store", "export_sweep"),
    "load_sweep": ("store", "load_sweep"),
    "plot": ("run", "plot"),
    "run_bundle": ("run", "run_bundle"),
    "sweep": ("run", "sweep"),
    "theory_values": ("theory", "theory_values"),
    "tidy_sweep": ("store", "tidy_sweep"),
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(
    __name__, {name: (f".{module}", attribute) for name, (module, attribute) in _LAZY.items()})
