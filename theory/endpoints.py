"""A plug-in point: the end point of a deep coupled network, which needs integration.

When modules share an output block (the leaky network) and are deeper than one layer, the
converged map has no closed form: it is where the exact matrix gradient flow from small
random weights comes to rest, found by integrating that flow. The theory layer states the
flow (:mod:`modspec.theory.matrix_flow`) but does not integrate; whoever can integrate
registers a function here, and :attr:`modspec.theory.derivation.Derivation.converged` calls
it. The ``modspec`` package registers the numerics layer's integrator
(:func:`modspec.numerics.integrate.converged_map`) when it is imported, so every user of
modspec has one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import ModspecError

__all__ = ["CoupledEndPoint", "coupled_end_point", "register_coupled_end_point"]

#: ``solver(dataset, network, train_objects) -> (W, method)``: the total maps (rows as ``Y``,
#: columns as ``X``) at the end of the exact flow from one or several starts (then stacked
#: ``(starts, outputs, inputs)``), and a sentence saying how they were found.
CoupledEndPoint = Callable[[Any, Any, Any], tuple[Any, str]]

_solvers: list[CoupledEndPoint] = []


def register_coupled_end_point(solver: CoupledEndPoint) -> None:
    """Install ``solver`` as the way deep coupled end points are computed (last one wins)."""
    _solvers.append(solver)


def coupled_end_point(dataset: Any, network: Any, train_objects: Any = None
                      ) -> tuple[Any, str]:
    """The end map of a deep coupled network and how it was obtained (the registered
    solver's answer)."""
    if not _solvers:
        raise ModspecError(f"architecture {network.name!r} is coupled and deep: its converged "
                           "map needs the numerical integrator of modspec.numerics, which is "
                           "not registered")
    return _solvers[-1](dataset, network, train_objects)
