"""The hierarchical family: items at the leaves of a tree (Saxe, McClelland & Ganguli 2019);
``docs/theory/families.md``. Input ``items`` (one-hot item identity, scale r), outputs
``level0 … level{D−1}`` (the features of every node of that level); symbolic in the
branching ``c``, the features per node ``f`` and ``r`` at a given number of levels, and in
any number of levels ``D`` for the dense network (:func:`hierarchical_levels`).
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from .. import symbols as sy
from ..declaration import DeclaredDataset, Identity, Tree, TreeFeatures
from ..errors import bad
from ..modes import Mode, existence
from ..tree_levels import run_numbers
from ..values import MAX_LOG2
from .compositional import params_of
from .registry import Family, register

__all__ = ["D", "c", "f", "hierarchical", "hierarchical_levels"]

#: The hierarchical family's symbols: levels ``D``, branching ``c``, features per node ``f``
#: (positive integers); its identity scale is the compositional ``r`` (≥ 0).
D = sp.Symbol("D", integer=True, positive=True)
c = sp.Symbol("c", integer=True, positive=True)
f = sp.Symbol("f", integer=True, nonnegative=True)
_TREE_SYMBOLS = (D, c, f)
_DOMAIN = ("c >= 2", f"c <= 2**{MAX_LOG2}", "f >= 0", f"f <= 2**{MAX_LOG2}", "r >= 0")


def hierarchical(levels: int, branching: Any, features: Any = 1, r: Any = 1) -> DeclaredDataset:
    """Items at the leaves of a tree with ``levels`` levels and ``branching`` children per node;
    ``features`` features per node, on for every item below it; input the items' one-hot
    identity scaled ``r``. Output block ``level{g}`` holds the features of level g."""
    space = Tree(levels, branching)
    outputs = tuple((f"level{g}", TreeFeatures(g, features)) for g in range(space.levels))
    return DeclaredDataset(space, (("items", Identity(1, r)),), outputs, "hierarchical",
                           params_of(levels=levels, branching=branching, features=features, r=r))


def _value(param: str, value: Any) -> sp.Expr:
    """A number or SymPy expression as SymPy; text is refused, never parsed."""
    try:
        return sp.sympify(value, strict=True)
    except sp.SympifyError:
        raise bad(param, value, "must be a number or a SymPy expression") from None


def hierarchical_levels(levels: Any = None, branching: Any = None, features: Any = None,
                        r: Any = None) -> tuple[Mode, Mode]:
    """The dense spectrum of the hierarchical family for a symbolic number of levels D: the root
    mode and the mode of a generic level ``g`` (the symbol ``g``, ``1 ≤ g ≤ D − 1``).

    The runs of :mod:`~modspec.theory.tree_levels` with the levels a symbol: the dense network
    writes every level, so level g is the run ``[g, g]`` at ``hi = D − 1``, with ``cy(g) =
    f Σ_{l=g}^{D−1} c^(D−1−l)`` (summed by SymPy), ``cx = r²`` (one-hot identity) and ``rank
    Π_g = c^g − c^(g−1)``; the derivation at a number of levels substitutes the same
    expressions. Two modes whatever D. Defaults are the symbols ``D, c, f``
    (:data:`D`, :data:`c`, :data:`f`) and ``r``.
    """
    D = _TREE_SYMBOLS[0] if levels is None else _value("levels", levels)
    c = _TREE_SYMBOLS[1] if branching is None else _value("branching", branching)
    f = _TREE_SYMBOLS[2] if features is None else _value("features", features)
    r = sy.r if r is None else _value("r", r)
    g = sp.Symbol("g", integer=True, positive=True)
    cx = r**2
    modes = []
    for label, h, cond in (("level0", sp.Integer(0), sp.true),
                           ("level_g", g, sp.And(sp.Ge(g, 1), sp.Le(g, D - 1)))):
        run = run_numbers(c, f, cx, h, h, D - 1, D)
        # where the mode exists: its level is one of the tree's, and cx·cy > 0; cy is f times
        # a sum of powers of c ≥ 2 over the levels from g on, so that is r > 0 and f > 0
        cond = sp.And(cond, existence(run["rank"], cx * f, always_present=True))
        modes.append(Mode(label, run["s"], run["lam"], run["rank"], run["fixed"],
                          {"items": cx}, {"levels": f * run["G"]}, (label,), cond))
    return modes[0], modes[1]


register(Family("hierarchical", hierarchical, ("levels", "branching", "features", "r"),
                symbols={"branching": c, "features": f, "r": sy.r}, fixed=("levels",),
                domain=lambda ds: _DOMAIN, any_depth=hierarchical_levels))
