"""The modes of a symbolic tree derived once for a symbolic level, then substituted per level.

``docs/theory/families.md``. A tree of ``D`` levels (:class:`~modspec.theory.declaration.Tree`)
has one atom ``Π_h`` per level (:func:`~modspec.theory.declared_spaces.tree_sample_space`):
``rank Π_0 = 1``, ``rank Π_h = c^h − c^(h−1)``; a level-``l`` block of ``f`` features per
node, scale ``σ``, has the coefficient ``q c^(D−1−l)`` (``q = f σ²``) on ``Π_h`` for ``h ≤ l``
and 0 above; an identity block ``copies · scale²`` on every atom. A module that reads identity
blocks (``cx = X`` on every atom) and writes the levels ``lo … hi`` therefore groups the atoms
into *runs* ``[a, b]`` of equal coefficients: ``[0, lo]``, each ``h`` with ``lo < h ≤ hi``
alone, and the silent run ``[hi + 1, D − 1]`` (no output there). With ``a, b, hi, D`` symbols
SymPy sums, once, what the projector algebra (:mod:`modspec.theory.spectra`) gives a run:

    G = Σ_{k=D−1−hi}^{D−1−b} c^k      (cy = q G: the levels l = b … hi; G > 0)
    rank = Σ_{h=a}^{b} rank Π_h
    s = sqrt(X q G) / c^(D−1),   λ = X / c^(D−1),   a* = sqrt(q G / X)

and the modes of a tree of any number of levels are these expressions at numbers
(:func:`run_numbers`: an ``xreplace`` and the factoring of a two-term rank, no simplification
per level): the symbolic work does not grow with the levels. The same holds for ``W*``
(:func:`fixed_norm_sq`, :func:`fixed_coefficient`), and the hierarchical family for a symbolic
number of levels D (:func:`~modspec.theory.families.hierarchical_levels`) is the same run with
the levels a symbol. The route applies
to a symbolic dataset on a tree whose module reads identity blocks and writes a contiguous
range of levels with one ``q`` (every network of the hierarchical family: shallow, dense,
split); other modules keep the general algebra (:func:`plan` returns None).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp

from .atoms import SampleSpace
from .declaration import DeclaredDataset, Identity, Tree, TreeFeatures
from .equality import clean
from .modes import Mode, existence
from .values import exact

__all__ = ["LevelPlan", "applies", "fixed_coefficient", "fixed_norm_sq", "level_symbols", "plan",
           "run_numbers", "tree_modes"]

_D, _A, _B, _HI, _L, _H, _K = (sp.Symbol(n, integer=True, nonnegative=True)
                               for n in ("D", "a", "b", "hi", "l", "h", "k"))
#: The sum of powers ``G`` of a run (positive: b ≤ hi and c ≥ 2), a symbol while simplifying.
_G = sp.Symbol("G", positive=True)


@dataclass(frozen=True)
class LevelPlan:
    """One module on a symbolic tree: it writes the levels ``lo … hi`` of a tree of ``levels``
    levels and branching ``c``, each with ``q = f σ²``; ``x`` is its identity inputs' ``copies ·
    scale²`` (``X`` their sum)."""

    levels: int
    lo: int
    hi: int
    c: sp.Expr
    q: sp.Expr
    x: dict[str, sp.Expr]

    @property
    def X(self) -> sp.Expr:  # noqa: N802
        return sp.Add(*self.x.values())

    def runs(self) -> list[tuple[int, int]]:
        """The runs ``[a, b]`` of atoms with a mode, in the order of the atoms."""
        return [(0, self.lo)] + [(h, h) for h in range(self.lo + 1, self.hi + 1)]


def plan(space: SampleSpace | None, dataset: Any, inputs: Sequence[str],
         outputs: Sequence[str]) -> LevelPlan | None:
    """The module reading ``inputs`` and writing ``outputs`` as a :class:`LevelPlan`, or None
    when the route does not apply (module docstring); ``space`` None: before it is built."""
    decl = getattr(dataset, "space", None)
    if not (isinstance(dataset, DeclaredDataset) and isinstance(decl, Tree)
            and dataset.is_symbolic and (space is None or (
                len(space.atoms) == decl.levels and all(a.always_present for a in space.atoms)))):
        return None
    blocks = dataset.blocks
    if not outputs or any(b not in blocks for b in (*inputs, *outputs)):
        return None
    ins, outs = [blocks[b] for b in inputs], [blocks[b] for b in outputs]
    if not (all(isinstance(b, Identity) for b in ins)
            and all(isinstance(b, TreeFeatures) for b in outs)):
        return None
    levels = sorted(b.level for b in outs)
    q = {exact(b.features) * exact(b.scale) ** 2 for b in outs}
    x = {name: exact(b.copies) * exact(b.scale) ** 2 for name, b in zip(inputs, ins, strict=True)}
    if (levels != list(range(levels[0], levels[-1] + 1)) or len(q) != 1
            or any(v.is_zero for v in (*q, *x.values()))):
        return None
    return LevelPlan(decl.levels, levels[0], levels[-1], sp.sympify(decl.branching), q.pop(), x)


def applies(dataset: Any, network: Any, space: SampleSpace | None = None) -> bool:
    """Whether every module of ``network`` takes the route on ``dataset`` (:func:`plan`)."""
    modules = getattr(network, "modules", None)
    return bool(modules) and all(plan(space, dataset, m.inputs, m.outputs) is not None
                                 for m in modules)


def _summed(term: sp.Expr, limits: tuple[sp.Symbol, sp.Expr, sp.Expr]) -> sp.Expr:
    """``Σ term`` over ``limits``, summed by SymPy; the geometric sum's branch ``c = 1`` does
    not occur (c ≥ 2)."""
    total = sp.Sum(term, limits).doit()
    return sp.simplify(total.replace(lambda e: isinstance(e, sp.Piecewise),
                                     lambda e: e.args[-1].expr))


@functools.lru_cache(maxsize=32)
def _generic(c: sp.Expr, q: sp.Expr, X: sp.Expr) -> dict[str, sp.Expr]:
    """A run's numbers in the symbols ``a, b, hi, D`` (module docstring), derived once."""
    P = c ** (_D - 1)
    cy = q * _G
    return {"G": _summed(c**_K, (_K, _D - 1 - _HI, _D - 1 - _B)),
            "rank": _summed(c**_H - c ** (_H - 1), (_H, _A, _B)),   # a ≥ 1; Π_0 has rank 1
            "head": sp.simplify(1 + _summed(c**_H - c ** (_H - 1), (_H, 1, _B))),
            "s": clean(sp.sqrt(X * cy) / P), "lam": clean(X / P),
            "fixed": clean(sp.sqrt(cy / X))}


def _at(expr: sp.Expr, values: dict[sp.Symbol, Any]) -> sp.Expr:
    return expr.xreplace(values)


def tree_modes(space: SampleSpace, p: LevelPlan, inputs: Sequence[str],
               outputs: Sequence[str]) -> tuple[list[Mode], list[Mode]]:
    """The modes and the silent directions of the module of ``p``: the generic run at each
    run's numbers. The existence condition is the same for every run (``cx cy = X q G`` with
    ``G > 0``; tree atoms are always present)."""
    cond = existence(sp.Integer(1), p.X * p.q, always_present=True)
    modes = [_mode(space, inputs, outputs, a, b,
                   run_numbers(p.c, p.q, p.X, a, b, p.hi, p.levels), cond)
             for a, b in p.runs()]
    silent = []
    if p.hi < p.levels - 1:
        a, b = p.hi + 1, p.levels - 1
        run = run_numbers(p.c, p.q, p.X, a, b, p.hi, p.levels, silent=True)
        silent.append(_mode(space, inputs, outputs, a, b, run,
                            existence(run["rank"], sp.Integer(0), always_present=True)))
    return modes, silent


def run_numbers(c: Any, q: Any, X: Any, a: Any, b: Any, hi: Any, levels: Any,
                silent: bool = False) -> dict[str, sp.Expr]:
    """The numbers of the run ``[a, b]`` of a module writing the levels up to ``hi`` of a tree
    of ``levels`` levels (module docstring): ``s``, ``lam``, ``fixed``, ``rank`` and ``G``
    (``cy = q G``), the generic run's expressions at these values (numbers or symbols: the
    hierarchical family for any number of levels D is the run ``[g, g]`` at ``hi = D − 1``).
    ``silent``: the run above ``hi`` (no output; ``s = a* = 0``)."""
    gen = _generic(sp.sympify(c), sp.sympify(q), sp.sympify(X))
    at = {_A: a, _B: b, _HI: hi, _D: levels}
    rank = _at(gen["head"], at) if sp.sympify(a).is_zero else _at(gen["rank"], at)
    out = {"rank": sp.factor(rank), "lam": _at(gen["lam"], at)}
    if silent:
        return out | {"s": sp.Integer(0), "fixed": sp.Integer(0), "G": sp.Integer(0)}
    at[_G] = _at(gen["G"], at)
    return out | {"G": at[_G], "s": _at(gen["s"], at), "fixed": _at(gen["fixed"], at)}


def _mode(space: SampleSpace, inputs: Sequence[str], outputs: Sequence[str], a: int, b: int,
          numbers: dict[str, sp.Expr], cond: sp.Basic) -> Mode:
    first, atoms = space.atoms[a], space.atoms[a:b + 1]
    return Mode("+".join(x.label for x in atoms), numbers["s"], numbers["lam"], numbers["rank"],
                numbers["fixed"], {i: first.gram[i] for i in inputs},
                {o: first.gram[o] for o in outputs}, tuple(x.label for x in atoms), cond)


@functools.lru_cache(maxsize=32)
def _norm_sq(c: sp.Expr, q: sp.Expr, X: sp.Expr, x: sp.Expr) -> sp.Expr | None:
    gen = _generic(c, q, X)
    # every run up to level l adds rank · a*² (cy_l/cy)(x/X); a*²/cy is the same for all
    term = sp.simplify(gen["fixed"] ** 2 * q * c ** (_D - 1 - _L) / (q * _G) * x / X)
    if term.has(_A, _B, _HI, _G):
        return None
    return sp.simplify(_at(gen["head"], {_B: _L}) * term)


def fixed_norm_sq(p: LevelPlan, inp: str) -> sp.Expr | None:
    """``‖W*[inp → level l]‖²`` in the symbols ``l`` and ``D`` (:func:`level_symbols`) for
    the levels the module of ``p`` writes: the runs up to ``l`` each add ``rank · a*² ·
    (cy_l/cy)(cx_inp/cx)``, summed over the atoms ``Π_0 … Π_l`` by SymPy; None when the terms
    do not cancel to one per atom."""
    return _norm_sq(p.c, p.q, p.X, p.x[inp])


@functools.lru_cache(maxsize=32)
def _coefficient(c: sp.Expr, q: sp.Expr, X: sp.Expr) -> sp.Expr | None:
    gen = _generic(c, q, X)
    coeff = sp.simplify(gen["fixed"] / sp.sqrt(X * q * _G))
    return None if coeff.has(_A, _B, _HI, _G, _D) else coeff


def fixed_coefficient(p: LevelPlan) -> sp.Expr | None:
    """The coefficient ``a*/sqrt(cx cy)`` of ``W*`` on every atom of the module of ``p``
    (:func:`~modspec.theory.converged.map_blocks`): the same for every run, or None."""
    return _coefficient(p.c, p.q, p.X)


def level_symbols() -> tuple[sp.Symbol, sp.Symbol]:
    """The symbols ``(l, D)`` of :func:`fixed_norm_sq`: an output level and the levels."""
    return _L, _D
