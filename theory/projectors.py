"""Projector algebra in sample space: Gram matrices as coefficients on orthogonal projectors.

docs/theory/spectrum.md. For data ``X`` (features × P samples) split into row blocks ``X_B``, each
block has a P×P Gram matrix ``G_B = X_Bᵀ X_B``. When all block Gram matrices commute they are
simultaneously diagonal: sample space splits into orthogonal *atoms* Π_g (joint eigenspaces)
and

    G_B = Σ_g c_B(g) Π_g ,        rank Π_g = m_g .

Everything about the learning dynamics of linear modules reading and writing whole blocks
follows from the table ``c_B(g)`` and the ranks ``m_g``: singular values, input variances,
multiplicities, singular vectors, observables.

For the compositional family the atoms come from the Walsh basis of the binary features.
With ``w_T(j) = Π_{i∈T} Ωx[i, j]`` for subsets T of features, the ``P = 2**nx`` Walsh
functions are orthogonal with ``‖w_T‖² = P``. Two kinds of row blocks occur:

* *Walsh rows*: ``scale · w_T`` for every T in a set of atoms. Since
  ``Σ_{T∈A} w_T w_Tᵀ = P · Π_A``, the block contributes ``scale² · P`` on each atom it
  contains and 0 elsewhere.
* *identity rows*: ``copies`` stacked ``scale · I_P``. Its Gram matrix is
  ``copies · scale² · I = Σ_g copies · scale² · Π_g``.

The atoms of the family are the Walsh functions grouped by which blocks contain them:
π1 = output features (rank ``ny``), π2 = the other features (rank ``nx − ny``), π3 = the
rest, i.e. the constant and all products of features (rank ``P − nx``, never empty). The
ranks are SymPy expressions, so the algebra works for symbolic sizes at a cost independent
of them.

For general numeric data the atoms are found by joint diagonalisation (numerically with
``numpy.linalg.eigh``, or exactly with SymPy for small rational arrays).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from .atoms import Atom, SampleSpace
from .dataset import CompositionalDataset, Dataset, block_rows, exact
from .declaration import DeclaredDataset
from .declared_spaces import (
    declared_sample_space,
    tree_sample_space,
    walsh_matrix,
    walsh_sample_space,
)
from .equality import group_equal
from .errors import ModspecError

__all__ = ["Atom", "IdentityRows", "SampleSpace", "WalshRows", "declared_sample_space",
           "family_blocks", "family_sample_space", "joint_sample_space", "sample_space",
           "tree_sample_space", "walsh_matrix", "walsh_sample_space"]


# ------------------------------------------------------------------ block kinds
@dataclass(frozen=True)
class WalshRows:
    """Rows ``scale · w_T`` for every Walsh function T in the listed atoms."""

    atoms: tuple[str, ...]
    scale: Any = 1

    def gram_on(self, atom: str, P: sp.Expr) -> sp.Expr:
        return sp.sympify(self.scale) ** 2 * P if atom in self.atoms else sp.Integer(0)


@dataclass(frozen=True)
class IdentityRows:
    """``copies`` stacked copies of ``scale · I_P``."""

    copies: Any
    scale: Any

    def gram_on(self, atom: str, P: sp.Expr) -> sp.Expr:
        return sp.sympify(self.copies) * sp.sympify(self.scale) ** 2


def family_blocks(ds: CompositionalDataset) -> dict[str, WalshRows | IdentityRows]:
    """The row structure of the family (docs/theory/dataset.md) in terms of Walsh atoms."""
    return {
        "Ox": WalshRows(("pi1", "pi2")),
        "Gx": IdentityRows(exact(ds.kx), exact(ds.rx)),
        "Oy": WalshRows(("pi1",)),
        "Gy": IdentityRows(exact(ds.ky), exact(ds.ry)),
    }


def family_sample_space(ds: CompositionalDataset) -> SampleSpace:
    """The three Walsh atoms of the family and every block's Gram coefficients on them.

    Works for symbolic and numeric parameters alike, at a cost independent of the size; bases
    are attached when numeric and small enough to materialise (:attr:`CompositionalDataset.fits`).
    """
    P = sp.sympify(ds.P)
    nx, ny = sp.sympify(ds.nx), sp.sympify(ds.ny)
    ranks = {"pi1": ny, "pi2": nx - ny, "pi3": P - nx}
    blocks = family_blocks(ds)
    bases: dict[str, np.ndarray | None] = {k: None for k in ranks}
    if ds.fits:
        H = walsh_matrix(ds.nx) / np.sqrt(ds.P)
        out = [1 << f for f in ds.features]
        other = [1 << f for f in range(ds.nx) if f not in ds.features]
        rest = [m for m in range(ds.P) if m not in out and m not in other]
        bases = {"pi1": H[out].T, "pi2": H[other].T, "pi3": H[rest].T}
    atoms = tuple(
        Atom(
            label=label,
            rank=sp.simplify(rank),
            gram={name: sp.simplify(block.gram_on(label, P)) for name, block in blocks.items()},
            basis=bases[label],
            always_present=label == "pi3",
        )
        for label, rank in ranks.items()
    )
    return SampleSpace(P=P, atoms=atoms, input_blocks=("Ox", "Gx"), output_blocks=("Oy", "Gy"))


# ------------------------------------------------------- general data: joint eigenspaces
def _refine_numeric(spaces: list[np.ndarray], G: np.ndarray, tol: float) -> list[np.ndarray]:
    out = []
    for Q in spaces:
        R = Q.T @ G @ Q
        R = (R + R.T) / 2
        w, v = np.linalg.eigh(R)
        start = 0
        for i in range(1, len(w) + 1):
            if i == len(w) or abs(w[i] - w[start]) > tol:
                out.append(Q @ v[:, start:i])
                start = i
    return out


def _refine_exact(spaces: list[sp.Matrix], G: sp.Matrix) -> list[sp.Matrix]:
    out = []
    for Q in spaces:
        R = (Q.T * Q).inv() * Q.T * G * Q
        for _value, _mult, vecs in R.eigenvects():
            out.append(sp.Matrix.hstack(*[Q * v for v in vecs]))
    return out


def _commute_check(grams: dict[str, np.ndarray]) -> None:
    names = list(grams)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            A, B = grams[a], grams[b]
            err = np.linalg.norm(A @ B - B @ A)
            scale = max(np.linalg.norm(A) * np.linalg.norm(B), 1e-300)
            if err > 1e-9 * scale:
                raise ModspecError(
                    f"blocks {a!r} and {b!r}: their sample-space Gram matrices do not commute "
                    f"(relative error {err / scale:.2e}), so Σx and Σyx share no mode basis and "
                    "the dynamics do not decouple into modes (docs/theory/spectrum.md)"
                )


def joint_sample_space(ds: Dataset, exact: bool = False, tol: float = 1e-9) -> SampleSpace:
    """Atoms of general data by joint diagonalisation of all block Gram matrices.

    ``exact=True`` works in SymPy with rational arithmetic (small P only) and returns exact
    eigenvalues; otherwise eigenvalues closer than ``tol × max|G|`` are treated as equal.
    """
    blocks = {**{k: block_rows(ds.X, v) for k, v in ds.input_blocks.items()},
              **{k: block_rows(ds.Y, v) for k, v in ds.output_blocks.items()}}
    grams = {k: np.asarray(b, dtype=float).T @ np.asarray(b, dtype=float)
             for k, b in blocks.items()}
    _commute_check(grams)
    P = ds.P
    if exact:
        if P > 64:
            raise ModspecError(f"exact=True needs at most 64 samples; got P={P}")
        sym_grams = {k: (lambda M: M.T * M)(sp.Matrix(np.asarray(b)).applyfunc(sp.nsimplify))
                     for k, b in blocks.items()}
        spaces: list[Any] = [sp.eye(P)]
        for G in sym_grams.values():
            spaces = _refine_exact(spaces, G)
        atoms = []
        for n, Q in enumerate(spaces):
            gram = {}
            for k, G in sym_grams.items():
                q = Q[:, 0]
                gram[k] = sp.nsimplify(sp.simplify((q.T * G * q)[0] / (q.T * q)[0]))
            Qn = np.array(Q.evalf(), dtype=float)
            Qn, _ = np.linalg.qr(Qn)
            atoms.append(Atom(f"g{n + 1}", sp.Integer(Q.shape[1]), gram, Qn, True))
    else:
        scale = max(max(np.abs(G).max() for G in grams.values()), 1.0)
        spaces = [np.eye(P)]
        for G in grams.values():
            spaces = _refine_numeric(spaces, G, tol * scale)
        atoms = []
        for n, Q in enumerate(spaces):
            gram = {}
            for k, G in grams.items():
                value = float(np.mean(np.einsum("pi,pq,qi->i", Q, G, Q)))
                # round-off on a block that vanishes on this atom is exactly zero
                gram[k] = sp.Integer(0) if abs(value) <= tol * scale else sp.Float(value)
            atoms.append(Atom(f"g{n + 1}", sp.Integer(Q.shape[1]), gram, Q, True))
    atoms = _merge_equal(atoms, tol=0 if exact else tol)
    return SampleSpace(P=sp.Integer(P), atoms=tuple(atoms),
                       input_blocks=tuple(ds.input_blocks), output_blocks=tuple(ds.output_blocks))


def _merge_equal(atoms: Sequence[Atom], tol: float) -> list[Atom]:
    """Merge atoms whose Gram coefficients agree on every block (:func:`group_equal`): one
    atom per group, of the group's summed rank and joined bases, labelled ``g1, g2, …``."""
    groups = group_equal(atoms, lambda first, atom: all(_same(atom.gram[k], first.gram[k], tol)
                                                        for k in atom.gram))
    return [Atom(f"g{n + 1}", sum(a.rank for a in g), g[0].gram,
                 np.hstack([a.basis for a in g]), True) for n, g in enumerate(groups)]


def _same(a: sp.Expr, b: sp.Expr, tol: float) -> bool:
    if tol == 0:
        return sp.simplify(a - b) == 0
    fa, fb = float(a), float(b)
    return abs(fa - fb) <= tol * max(1.0, abs(fa), abs(fb))


def sample_space(ds: CompositionalDataset | DeclaredDataset | Dataset,
                 exact: bool = False) -> SampleSpace:
    """Atoms of any dataset: the Walsh route for the family, the declared sample space's atoms
    for a declaration, joint diagonalisation otherwise."""
    if isinstance(ds, CompositionalDataset):
        return family_sample_space(ds)
    if isinstance(ds, DeclaredDataset):
        return declared_sample_space(ds)
    if not isinstance(ds, Dataset):
        raise ModspecError(f"dataset={type(ds).__name__} is invalid: must be a "
                           "CompositionalDataset, a DeclaredDataset or a Dataset")
    return joint_sample_space(ds, exact=exact)
