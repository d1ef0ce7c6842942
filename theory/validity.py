"""Where a symbolic derivation holds: the family's parameter domain and each mode's condition.

:func:`validity` is what ``modspec derive --symbolic --format json`` reports as ``validity``
(:mod:`modspec.theory.export`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import symbols as sy
from .dataset import DOMAIN

if TYPE_CHECKING:
    from .derivation import Derivation

__all__ = ["DOMAIN", "validity"]

def validity(th: Derivation) -> dict[str, Any]:
    """The range of validity of a symbolic derivation, as text :func:`sympy.sympify` reads.

    ``domain``: the parameter values the expressions hold for (sizes are integers, and non-zero
    ``kx·rx²``, ``ky·ry²`` lie within ``2**±255``, :data:`modspec.theory.dataset.MAX_LOG2`; for
    the hierarchical and parity families their own, :func:`modspec.theory.families.domain`);
    ``modes``: for each mode key, where the mode exists. The observables hold on the whole
    domain: a term that would be ``0/0`` where its mode vanishes carries that mode's condition
    (``Piecewise``), so substituting a point gives the value of the numeric data there.
    """
    from .families import domain

    return {"domain": list(domain(th.dataset)),
            "modes": {key: sy.to_text(m.condition) for key, m in th.modes.items()}}
