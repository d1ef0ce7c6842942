"""Atoms of sample space: the joint eigenspaces of a dataset's block Gram matrices.

``docs/theory/spectrum.md``. A :class:`SampleSpace` lists its :class:`Atom` s, each with its
rank and every block's Gram coefficient on it; the projector algebra
(:mod:`modspec.theory.projectors`) and the spectra read nothing else about a dataset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .errors import ModspecError

__all__ = ["Atom", "SampleSpace"]


@dataclass(frozen=True, eq=False)
class Atom:
    """One joint eigenspace Π_g of all block Gram matrices.

    ``rank`` is its dimension (a SymPy expression); ``gram[B]`` the eigenvalue of
    ``X_Bᵀ X_B`` (or ``Y_Bᵀ Y_B``) on it; ``basis`` an orthonormal P×rank NumPy basis when the
    data are numeric. ``always_present`` marks atoms that are non-empty for every valid
    parameter value (so no existence condition on the rank is needed).
    """

    label: str
    rank: sp.Expr
    gram: Mapping[str, sp.Expr]
    basis: np.ndarray | None = None
    always_present: bool = False


@dataclass(frozen=True, eq=False)
class SampleSpace:
    """Sample space of P samples split into atoms; see the module docstring."""

    P: sp.Expr
    atoms: tuple[Atom, ...]
    input_blocks: tuple[str, ...]
    output_blocks: tuple[str, ...]

    def gram(self, block: str) -> dict[str, sp.Expr]:
        """Coefficients of the Gram matrix of ``block`` on each atom."""
        return {atom.label: atom.gram[block] for atom in self.atoms}

    def gram_matrix(self, block: str) -> np.ndarray:
        """Numeric P×P Gram matrix ``Σ_g c_B(g) Π_g`` rebuilt from the atoms."""
        P = int(self.P)
        out = np.zeros((P, P))
        for atom in self.atoms:
            if atom.basis is None:
                raise ModspecError("gram_matrix needs a numeric sample space (with bases)")
            out += float(atom.gram[block]) * atom.basis @ atom.basis.T
        return out
