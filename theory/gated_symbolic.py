"""Symbolic per-mode statistics of a gated network: pathway singular values and mode ODEs.

docs/theory/gated.md §3. When the data carry symbols (feature scales, say ``a, b, c`` in the
routing example's targets) whose values do not move the shared singular vectors, each mode's
statistics are functions of the symbols. With a frame ``r`` found on a generic numeric
instance (:func:`modspec.theory.gated_modes.basis_condition`), write every symbolic
statistic as a sum over monomials of the symbols, ``Σyx(p)ᵀΣyx(p) = Σ_k m_k G_k``; then

    s_{p,α}² = Σ_k m_k (r_αᵀ G_k r_α),     s_{p,α} = sign · √(s_{p,α}²),
    d_{jp,α} = Σ_k m_k (r_{s(j),α}ᵀ X_k r_{s(p),α}),

where each coefficient ``rᵀ G_k r`` is a number of the frame — the same on every vector of a
degenerate singular space when the frame does not depend on the symbols — recovered exactly
as a rational (the sign of ``s`` is the numeric instance's). Substituted into the generic
per-mode system (:meth:`PathwayModes.structure`), these give the per-mode pathway ODEs in
the symbols. The result is checked: at a second numeric instance every symbolic value must
equal the numeric derivation (to 1e-9), else the singular vectors depend on the symbols and a
one-line error says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from .errors import ModspecError
from .gated_data import GatedData, gated_statistics
from .gated_flow import gated_flow
from .gated_modes import PathwayModes, pathway_modes

__all__ = ["SymbolicModes", "symbolic_modes"]


@dataclass(frozen=True, eq=False)
class SymbolicModes:
    """``values[α]`` the mode's statistics ``{s[p] or d[j|p]: expression in the data's
    symbols}``; ``modes`` the numeric derivation at ``at`` (a generic value of every
    symbol) it was read from; ``system(α)`` the mode's ODEs ``{edge: τ db_e/dt}``."""

    modes: PathwayModes
    values: dict[int, dict[sp.Symbol, sp.Expr]]
    symbols: tuple[sp.Symbol, ...]
    at: dict[sp.Symbol, Any]

    def system(self, mode: int) -> dict[str, sp.Expr]:
        zero = {self.modes.b[e]: 0 for e in self.modes.b if e not in self.modes.edges[mode]}
        vals = {**zero, **self.values[mode]}
        return {e: sp.expand(self.modes.rhs[e].xreplace(vals))
                for e in self.modes.edges[mode]}


def _parts(M: sp.MatrixBase, symbols: tuple[sp.Symbol, ...]) -> list[tuple[sp.Expr, np.ndarray]]:
    """``M = Σ_k m_k C_k``: the monomials ``m_k`` of the symbols and numeric ``C_k``."""
    out: dict[sp.Expr, np.ndarray] = {}
    for (i, j), v in np.ndenumerate(np.array(M.tolist(), dtype=object)):
        poly = sp.Poly(sp.expand(v), *symbols)
        for powers, coeff in poly.terms():
            m = sp.Mul(*[s ** k for s, k in zip(symbols, powers, strict=True)])
            out.setdefault(m, np.zeros(M.shape))[i, j] = float(coeff)
    return list(out.items())


def _exact(x: float) -> sp.Expr:
    return sp.nsimplify(x, rational=True, tolerance=1e-10)


def _quadratic(parts: list, u: np.ndarray, v: np.ndarray) -> sp.Expr:
    return sp.Add(*[m * _exact(float(u @ C @ v)) for m, C in parts])


def symbolic_modes(network: Any, data: GatedData, at: Mapping[sp.Symbol, Any] | None = None
                   ) -> SymbolicModes:
    """The per-mode statistics of ``network`` on symbolic ``data`` (see the module
    docstring); ``at`` a generic value of each symbol (default 2, 3, 5, …, divided by 7)."""
    syms = tuple(sorted({s for m in (*data.inputs.values(), *data.targets.values())
                         for s in m.free_symbols}, key=str))
    if not syms:
        raise ModspecError("data has no symbols: the symbolic per-mode statistics need "
                           "symbolic entries (use pathway_modes for numbers)")
    primes = [2, 3, 5, 11, 13, 17, 19, 23, 29, 31]
    at = dict(at or {s: sp.Rational(primes[k % 10], 7) for k, s in enumerate(syms)})
    stats = gated_statistics(network, data)
    modes = pathway_modes(gated_flow(network), gated_statistics(network, _subs(data, at)))
    net = modes.network
    values: dict[int, dict[sp.Symbol, sp.Expr]] = {}
    for a in modes.edges:
        vals: dict[sp.Symbol, sp.Expr] = {}
        for key, num in modes.values[a].items():
            if num == 0:
                vals[key] = sp.Integer(0)
                continue
            labels = key.name[2:-1].split("|")
            paths = [next(p for p in net.pathways if ".".join(p) == lab) for lab in labels]
            if key.name.startswith("s["):
                S = stats.yx[paths[0]]
                r = modes.frames[net.source(paths[0])][a]
                square = _quadratic(_parts(S.T * S, syms), r, r)
                vals[key] = sp.sign(num) * sp.sqrt(sp.factor(square))
            else:
                S = stats.x[tuple(paths)]
                vals[key] = sp.factor(_quadratic(
                    _parts(S, syms), modes.frames[net.source(paths[0])][a],
                    modes.frames[net.source(paths[1])][a]))
        values[a] = vals
    result = SymbolicModes(modes, values, syms, at)
    _check(result, network, data)
    return result


def _subs(data: GatedData, at: Mapping[sp.Symbol, Any]) -> GatedData:
    return GatedData({k: v.subs(at) for k, v in data.inputs.items()},
                     {k: v.subs(at) for k, v in data.targets.items()})


def _check(result: SymbolicModes, network: Any, data: GatedData) -> None:
    """At a second generic point the symbolic values equal the numeric derivation."""
    other = {s: v * sp.Rational(9, 8) + sp.Rational(1, 3) for s, v in result.at.items()}
    modes = pathway_modes(gated_flow(network), gated_statistics(network, _subs(data, other)))
    for a, vals in result.values.items():
        for key, expr in vals.items():
            want = modes.values.get(a, {}).get(key, 0.0)
            got = float(expr.subs(other))
            if abs(abs(got) - abs(want)) > 1e-9 * max(1.0, abs(want)):
                raise ModspecError(
                    f"data symbols {', '.join(map(str, result.symbols))} move the shared "
                    f"singular vectors (mode {a}, {key}: {got:.6g} ≠ {want:.6g}): no symbolic "
                    "per-mode statistics")
