"""Roots of a per-mode system of two polynomial equations, within a degree budget.

``sympy.solve`` on a system such as the output term plus Oja's term (two coefficients, four
parameters) runs a Gröbner basis over a field of rational functions and does not finish in
minutes. The system is instead split and solved piece by piece:

* each equation's numerator is factored; every root of the system is a root of one factor
  of the first equation and one of the second;
* a pair of factors that is the same irreducible polynomial is a curve of roots
  (``sympy.solve`` of that one equation, e.g. ``c_1 c_2 = s/λ`` under gradient descent);
* otherwise ``c_2`` is eliminated by the resultant ``Res_{c_2}(g_1, g_2)``, a polynomial in
  ``c_1`` whose roots contain every ``c_1`` of a common root. Each irreducible factor of
  degree at most :data:`MAX_DEGREE` in ``c_1`` is solved in closed form and ``c_2`` found
  from the pair at that ``c_1`` (a root of the resultant where the leading coefficients
  vanish has no ``c_2`` and is dropped). A factor of higher degree has no closed form in
  general: it is returned as an :class:`Implicit` set of roots, the equations they solve.

The cost is bounded by the degrees, not by a search: factoring and resultants of polynomials
of degree ≤ 3 in each strength.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

__all__ = ["MAX_DEGREE", "Implicit", "solve_pair"]

#: The largest degree in ``c_1`` of an irreducible factor solved in closed form (quadratics:
#: the cubic and quartic formulas in four symbolic parameters are pages long).
MAX_DEGREE = 2


@dataclass(frozen=True)
class Implicit:
    """Roots without a closed form: the real solutions of ``equations = 0``, of which the
    first is a polynomial in ``variable`` alone of degree ``degree``."""

    equations: tuple[sp.Expr, ...]
    variable: sp.Symbol
    degree: int


def _factors(expr: sp.Expr, c: Sequence[sp.Symbol]) -> list[sp.Expr]:
    """The distinct irreducible factors of ``expr``'s numerator that contain a strength."""
    _, factors = sp.factor_list(sp.numer(sp.together(expr)), *c)
    return [g for g, _ in factors if g.has(*c)]


def _second(g1: sp.Expr, g2: sp.Expr, c: Sequence[sp.Symbol], root: sp.Expr) -> list[sp.Expr]:
    """The ``c_2`` with ``g1 = g2 = 0`` at ``c_1 = root``: the roots of one of the pair in
    ``c_2`` at which the other vanishes too (checked by ``simplify``: a gcd of polynomials
    whose coefficients hold the radicals of ``root`` misses common factors)."""
    p1, p2 = (sp.expand(g.xreplace({c[0]: root})) for g in (g1, g2))
    if p1 == 0 and p2 == 0:
        return [c[1]]                     # both vanish: c_2 is free at this c_1
    first, other = (p1, p2) if p1 != 0 and (p2 == 0 or sp.degree(p1, c[1])
                                             <= sp.degree(p2, c[1])) else (p2, p1)
    if not first.has(c[1]):
        return []
    return [y for y in sp.solve(first, c[1])
            if other == 0 or sp.simplify(other.xreplace({c[1]: y})) == 0]


def _pair(g1: sp.Expr, g2: sp.Expr, c: Sequence[sp.Symbol]) -> tuple[list[dict], list[Implicit]]:
    """The common roots of two irreducible factors (module docstring)."""
    if sp.simplify(g1 / g2).free_symbols.isdisjoint(c):
        return list(sp.solve(g1, list(c), dict=True)), []
    resultant = sp.resultant(g1, g2, c[1])
    if resultant == 0:
        return list(sp.solve([g1, g2], list(c), dict=True)), []
    roots, implicit = [], []
    for h, _ in sp.factor_list(resultant, c[0])[1]:
        degree = sp.degree(h, c[0])
        if degree < 1:
            continue
        if degree > MAX_DEGREE:
            implicit.append(Implicit((h, g1, g2), c[0], int(degree)))
            continue
        for x in sp.solve(h, c[0]):
            roots += [{c[0]: x, c[1]: y} for y in _second(g1, g2, c, x)]
    return roots, implicit


def solve_pair(equations: Sequence[sp.Expr], c: Sequence[sp.Symbol]
               ) -> tuple[list[dict], list[Implicit]]:
    """The roots of ``equations = 0`` in the two strengths ``c`` (module docstring): closed-form
    solutions as ``sympy.solve`` gives them (dicts; a strength left out is free), and the
    :class:`Implicit` sets of roots beyond :data:`MAX_DEGREE`."""
    split = [_factors(e, c) for e in equations]
    if len(c) != 2 or len(equations) != 2 or any(
            sp.numer(sp.together(e)) == 0 for e in equations):
        return list(sp.solve(list(equations), list(c), dict=True)), []
    found: list[dict] = []
    implicit: list[Implicit] = []
    for g1 in split[0]:
        for g2 in split[1]:
            roots, rest = _pair(g1, g2, c)
            implicit += rest
            for root in roots:
                if not any(_same(root, other, c) for other in found):
                    found.append(root)
    found = [r for r in found if not any(_on_curve(r, curve, c) for curve in found
                                         if curve is not r and _free(curve, c))]
    # one order whatever the factoring found first: by the strengths (SymPy's canonical key)
    found.sort(key=lambda root: sp.default_sort_key(tuple(root.get(x, x) for x in c)))
    return found, implicit


def _free(root: dict, c: Sequence[sp.Symbol]) -> bool:
    """Whether ``root`` is a curve: a strength left free (absent, or equal to itself)."""
    return any(root.get(x, x) == x for x in c)


def _on_curve(point: dict, curve: dict, c: Sequence[sp.Symbol]) -> bool:
    """Whether the isolated ``point`` (no strength free) lies on ``curve``."""
    if _free(point, c):
        return False
    at = {x: point[x] for x in c}
    return all(sp.simplify(sp.sympify(curve.get(x, x)).xreplace(at) - at[x]) == 0 for x in c)


def _same(a: dict, b: dict, c: Sequence[sp.Symbol]) -> bool:
    return all(sp.simplify(a.get(x, x) - b.get(x, x)) == 0 for x in c)
