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

    The same algebra as :func:`~modspec.theory.projectors.tree_sample_space`, with the level an
    index: on ``Π_g`` the level-l block has coefficient ``f r_out² c^(D−1−l)`` for ``l ≥ g``, so
    ``cy(g) = Σ_{l=g}^{D−1} f c^(D−1−l)`` (summed by SymPy), ``cx = r²`` (one-hot identity) and
    ``rank Π_g = c^g − c^(g−1)``. Two modes whatever D: the derivation's cost does not depend
    on the size. Defaults are the symbols ``D, c, f`` (:data:`D`, :data:`c`, :data:`f`) and ``r``.
    """
    D = _TREE_SYMBOLS[0] if levels is None else _value("levels", levels)
    c = _TREE_SYMBOLS[1] if branching is None else _value("branching", branching)
    f = _TREE_SYMBOLS[2] if features is None else _value("features", features)
    r = sy.r if r is None else _value("r", r)
    g, level = sp.Symbol("g", integer=True, positive=True), sp.Symbol("l", integer=True)
    P = c ** (D - 1)
    cx = r**2

    def cy(h: sp.Expr) -> sp.Expr:
        total = sp.Sum(f * c ** (D - 1 - level), (level, h, D - 1)).doit()
        # the geometric sum's branch c = 1 does not occur (c ≥ 2)
        return sp.simplify(total.replace(lambda e: isinstance(e, sp.Piecewise),
                                         lambda e: e.args[-1].expr))

    modes = []
    for label, h, rank, cond in (("level0", sp.Integer(0), sp.Integer(1), sp.true),
                                 ("level_g", g, c ** (g - 1) * sp.simplify(c**g / c ** (g - 1) - 1),
                                  sp.And(sp.Ge(g, 1), sp.Le(g, D - 1)))):
        cy_h = cy(h)
        s = sp.simplify(sp.sqrt(cx * cy_h) / P)
        lam = sp.simplify(cx / P)
        # where the mode exists: its level is one of the tree's, and cx·cy > 0; cy is f times
        # a sum of powers of c ≥ 2 over the levels from g on, so that is r > 0 and f > 0
        cond = sp.And(cond, existence(rank, cx * f, always_present=True))
        modes.append(Mode(label, s, lam, rank, sp.simplify(s / lam), {"items": cx},
                          {"levels": cy_h}, (label,), cond))
    return modes[0], modes[1]


register(Family("hierarchical", hierarchical, ("levels", "branching", "features", "r"),
                symbols={"branching": c, "features": f, "r": sy.r}, fixed=("levels",),
                domain=lambda ds: _DOMAIN, any_depth=hierarchical_levels))
