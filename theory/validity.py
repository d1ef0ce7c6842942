"""Where a symbolic derivation holds: the family's parameter domain and each mode's condition.

:func:`validity` is what ``modspec derive --symbolic --format json`` reports as ``validity``
(:mod:`modspec.theory.export`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import symbols as sy
from .dataset import MAX_LOG2

if TYPE_CHECKING:
    from .derivation import Derivation

__all__ = ["DOMAIN", "validity"]

#: Where the symbolic results hold: the family's parameter domain, as relations that plain
#: ``sympy.sympify`` reads.
DOMAIN = ("nx >= 1", f"nx <= {MAX_LOG2}", "ny >= 0", "ny <= nx", "kx >= 0",
          f"kx <= 2**{MAX_LOG2}", "ky >= 0", f"ky <= 2**{MAX_LOG2}", "rx >= 0", "ry >= 0")


def validity(th: Derivation) -> dict[str, Any]:
    """The range of validity of a symbolic derivation, as text :func:`sympy.sympify` reads.

    ``domain``: the parameter values the expressions hold for (sizes are integers, and non-zero
    ``kx·rx²``, ``ky·ry²`` lie within ``2**±255``, :data:`modspec.theory.dataset.MAX_LOG2`; for
    the hierarchical and parity families their own, :func:`modspec.theory.families.domain`);
    ``modes``: for each mode key, where the mode exists. The observables hold on the whole
    domain: a term that would be ``0/0`` where its mode vanishes carries that mode's condition
    (``Piecewise``), so substituting a point gives the value of the numeric data there.
    """
    family = getattr(th.dataset, "family", "compositional")
    if family in ("hierarchical", "parity", "contexts"):
        from .families import domain

        where = list(domain(th.dataset))
    else:
        where = list(DOMAIN)
    return {"domain": where,
            "modes": {key: sy.to_text(m.condition) for key, m in th.modes.items()}}
