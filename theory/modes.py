"""A mode of a module: its numbers, when it exists, and its LaTeX name.

The data of one mode of a module's spectrum (:mod:`modspec.theory.spectra` derives them
from the projector algebra; the named families of :mod:`modspec.theory.families` build some
symbolically), kept below both so that the families do not import the spectra that use them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from . import symbols as sy
from .symbols import to_latex as tex

__all__ = ["Mode", "existence", "mode_tex"]


@dataclass(frozen=True, eq=False)
class Mode:
    """One mode of a module: a group of atoms with equal Gram coefficients on its blocks.

    ``s`` singular value of Σyx, ``lam`` eigenvalue of Σx along the right singular vectors,
    ``multiplicity`` the number of singular values equal to ``s``, ``fixed_point = s/lam``.
    ``cx``/``cy`` hold the per-block Gram eigenvalues (their sums give ``cx``/``cy`` of the
    module). ``condition`` says when the mode exists (a SymPy boolean; ``True`` for numbers).
    ``U`` (outputs × m) and ``V`` (inputs × m) are the singular vectors for numeric data.
    """

    label: str
    s: sp.Expr
    lam: sp.Expr
    multiplicity: sp.Expr
    fixed_point: sp.Expr
    cx: Mapping[str, sp.Expr]
    cy: Mapping[str, sp.Expr]
    atoms: tuple[str, ...]
    condition: sp.Basic = sp.true
    U: np.ndarray | None = field(default=None, repr=False)
    V: np.ndarray | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        """One line with the mode's numbers (no singular vectors)."""
        cond = "" if self.condition is sp.true else f", if {sy.to_text(self.condition)}"
        return (f"Mode({self.label}: s={sy.to_text(self.s)}, lam={sy.to_text(self.lam)}, "
                f"multiplicity={sy.to_text(self.multiplicity)}, "
                f"fixed_point={sy.to_text(self.fixed_point)}{cond})")

    def _repr_latex_(self) -> str:
        k = mode_tex(self.label)
        cond = ("" if self.condition is sp.true
                else rf" \quad \text{{if }} {tex(self.condition)}")
        return (rf"$s_{{{k}}} = {tex(self.s)},\ \lambda_{{{k}}} = {tex(self.lam)},\ "
                rf"m_{{{k}}} = {tex(self.multiplicity)},\ a^*_{{{k}}} = "
                rf"{tex(self.fixed_point)}{cond}$")

    @property
    def cx_total(self) -> sp.Expr:
        return sp.Add(*self.cx.values())

    @property
    def cy_total(self) -> sp.Expr:
        return sp.Add(*self.cy.values())


def existence(rank: sp.Expr, cxcy: sp.Expr, always_present: bool = False) -> sp.Basic:
    """When a mode exists: its rank is positive and cx·cy > 0 (factor by factor; a factor
    positive by its symbols' assumptions needs no condition)."""
    conditions = [] if always_present else [sp.Gt(rank, 0)]
    for factor in sp.Mul.make_args(sp.factor(cxcy)):
        if factor.is_positive:
            continue
        base = factor.base if factor.is_Pow and factor.exp.is_positive else factor
        if base.is_positive:
            continue
        conditions.append(sp.Gt(base, 0))
    return sp.And(*conditions) if conditions else sp.true


_LABEL = re.compile(r"([A-Za-z]+)_?([0-9]+|[A-Za-z])")


def mode_tex(label: str) -> str:
    """LaTeX name of a mode label: ``pi1+pi2`` → ``\\pi_1{+}\\pi_2``, ``pi12`` →
    ``\\pi_{12}``, ``g3`` → ``g_3``, ``level0`` → ``\\mathrm{level}_0``, ``level_g`` →
    ``\\mathrm{level}_g``; any other label upright."""
    return "{+}".join(_part_tex(p) for p in label.split("+"))


def _part_tex(part: str) -> str:
    m = _LABEL.fullmatch(part)
    if m is None:
        return r"\mathrm{" + part.replace("_", r"\_") + "}"
    name, index = m.groups()
    head = r"\pi" if name == "pi" else name if len(name) == 1 else rf"\mathrm{{{name}}}"
    return f"{head}_{index}" if len(index) == 1 else f"{head}_{{{index}}}"
