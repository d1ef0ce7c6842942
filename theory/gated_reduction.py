"""Exact reductions of a mode that several pathways share: symmetry, conserved levels, one variable.

docs/theory/gated.md §3. Mode α's system ``τ db/dt = f(b)`` (one strength per edge that carries
it) is reduced in two exact steps, both derived by SymPy from the system itself:

1. **Symmetry.** Edges that the system treats alike — the orbits of the permutations σ with
   ``f(P_σ b) = P_σ f(b)`` (:func:`modspec.theory.gated_symmetry.edge_symmetry`) — keep equal
   strengths when they start equal, so a start equal on each orbit stays on the subspace of
   one variable ``u_c`` per orbit c: ``τ du_c/dt = f_e(b)|_{b_x = u_{c(x)}}`` for any e in c.
2. **Conserved quantities.** Each conserved quadratic form ``Σ_e c_e b_e²`` of the mode
   (:func:`modspec.theory.gated_modes.conserved_quantities`) is, on the subspace, a linear
   form in the squares ``u_c²``; its value ``Q_i`` is fixed by the start. With k orbits and
   ``m = k − 1`` independent forms, every ``u_c²`` but one driver's, ``x = u_d``, is solved
   linearly: ``u_c = √(α_c(Q) + β_c x²)`` (positive starts), and the mode is the one-variable
   ODE ``τ dx/dt = g(x) = f_d(u(x))``.

:func:`one_variable` tries each orbit as the driver at the start's levels and keeps the first
whose ``g`` is rational in x (then ``t(x) = τ ∫_{x0}^{x} dx'/g(x')`` is a sum of logarithms by
partial fractions, :mod:`modspec.numerics.gated_exact`). Where ``k − m > 1`` no one-variable
reduction follows from these quantities, and :attr:`ModeReduction.reason` says which are
missing (e.g. a shallow edge beside a deep pathway: the deep edges' balance vanishes on the
symmetric subspace and no quadratic quantity ties the shallow edge to them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy as sp

from .gated_symmetry import EdgeSymmetry, edge_symmetry

__all__ = ["ModeReduction", "reduce_mode", "OneVariable", "one_variable"]


@dataclass(frozen=True, eq=False)
class ModeReduction:
    """A mode on its symmetric subspace: ``symmetry`` (orbits and checked generators), one
    positive variable ``u[c]`` per orbit (named by its first edge), ``equations[u]`` the
    reduced ``τ du/dt``, ``conserved`` the independent conserved quantities restricted to the
    subspace (in ``u``), and ``reason``: empty when one variable remains after the conserved
    levels are fixed, else the one line saying why not."""

    symmetry: EdgeSymmetry
    u: tuple[sp.Symbol, ...]
    equations: dict[sp.Symbol, sp.Expr]
    conserved: tuple[sp.Expr, ...]
    reason: str

    def variable(self, edge: str) -> sp.Symbol:
        """The variable of the orbit holding ``edge``."""
        k = next(i for i, orbit in enumerate(self.symmetry.orbits) if edge in orbit)
        return self.u[k]


def _orbit_name(orbit: Sequence[str]) -> str:
    return " = ".join(orbit)


def reduce_mode(system: Mapping[str, sp.Expr], b: Mapping[str, sp.Symbol],
                conserved: Sequence[sp.Expr]) -> ModeReduction:
    """Steps 1–2 of the module docstring for the mode's system ``{edge: τ db_e/dt}`` and its
    conserved quantities (in the symbols ``b[edge]``)."""
    sym = edge_symmetry(system, b)
    u = tuple(sp.Symbol(f"u[{orbit[0]}]", positive=True) for orbit in sym.orbits)
    onto = {b[e]: u[k] for k, orbit in enumerate(sym.orbits) for e in orbit}
    equations = {u[k]: sp.expand(system[orbit[0]].xreplace(onto))
                 for k, orbit in enumerate(sym.orbits)}
    squares = [v ** 2 for v in u]
    rows, kept, vanish = [], [], []
    for q in conserved:
        form = sp.expand(q.xreplace(onto))
        row = [form.coeff(s2) for s2 in squares]
        if not any(row):
            vanish.append(q)
        elif sp.Matrix([*rows, row]).rank() > len(rows):
            rows.append(row)
            kept.append(form)
    missing = len(u) - 1 - len(kept)
    return ModeReduction(sym, u, equations, tuple(kept),
                         _why(sym, u, kept, vanish) if missing > 0 else "")


def _why(sym: EdgeSymmetry, u: Sequence[sp.Symbol], kept: Sequence[sp.Expr],
         vanish: Sequence[sp.Expr]) -> str:
    """Why no one-variable reduction: the variables left, the conserved quantities that fix
    some of them, those that vanish on the symmetric subspace, and the orbits none involves."""
    names = "; ".join(_orbit_name(o) for o in sym.orbits)
    free = [_orbit_name(o) for o, v in zip(sym.orbits, u, strict=True)
            if not any(q.has(v) for q in kept)]
    laws = ", ".join(str(q) for q in kept) or "none"
    why = (f"{len(u)} variables remain after the symmetry ({names}) and the conserved "
           f"quantities on them ({laws}) fix {len(kept)}: one-variable reduction needs "
           f"{len(u) - 1}")
    if vanish:
        why += f"; {', '.join(str(q) for q in vanish)} vanishes on the symmetric subspace"
    if free:
        why += f"; no conserved quantity involves {', '.join(free)}"
    return why



@dataclass(frozen=True, eq=False)
class OneVariable:
    """The one-variable ODE of a reduced mode at given conserved levels: ``driver`` x,
    ``others[u] = √(α + β x²)`` every other variable, ``rate`` ``g(x) = τ dx/dt``, and
    ``rational`` whether ``g`` is rational in x."""

    driver: sp.Symbol
    others: dict[sp.Symbol, sp.Expr]
    rate: sp.Expr
    rational: bool

    def strength(self, u: sp.Symbol) -> sp.Expr:
        """The variable ``u`` as a function of the driver."""
        return self.driver if u == self.driver else self.others[u]


def one_variable(reduction: ModeReduction, levels: Sequence[float | sp.Expr]
                 ) -> OneVariable | None:
    """The mode as ``τ dx/dt = g(x)`` on the level set ``conserved[i] = levels[i]``
    (step 2 of the module docstring): the first driver whose ``g`` is rational, else the
    first that solves the levels; None when the reduction leaves more than one variable."""
    if reduction.reason:
        return None
    u, found = reduction.u, None
    w = sp.symbols(f"w0:{len(u)}", positive=True)          # the squares u_c²
    forms = [q.xreplace({v: sp.sqrt(wk) for v, wk in zip(u, w, strict=True)})
             for q in reduction.conserved]
    for d, x in enumerate(u):
        rest = [wk for k, wk in enumerate(w) if k != d]
        eqs = [f - (sp.Integer(0) if level == 0 else sp.sympify(level))
               for f, level in zip(forms, levels, strict=True)]
        sol = sp.solve(eqs, rest, dict=True) if rest else [{}]
        if len(sol) != 1 or set(sol[0]) != set(rest):
            continue
        others = {u[k]: sp.sqrt(sp.expand(sol[0][w[k]].xreplace({w[d]: x ** 2})))
                  for k in range(len(u)) if k != d}
        rate = sp.expand(reduction.equations[x].xreplace(others))
        candidate = OneVariable(x, others, rate, bool(rate.is_rational_function(x)))
        if candidate.rational:
            return candidate
        found = found or candidate
    return found
