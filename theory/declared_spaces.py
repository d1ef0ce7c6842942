"""Atoms of declared datasets: the Walsh atoms of the hypercube and the level atoms of a tree.

``docs/theory/spectrum.md``. A declaration's blocks (:mod:`modspec.theory.declaration`) have
Gram matrices that are diagonal on the Walsh functions (hypercube) or on the level spaces of a
tree; the atoms and every block's coefficients follow from the declaration for numeric and
symbolic sizes at a cost independent of P, with orthonormal bases attached when the data
are small enough to materialise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp

from .atoms import Atom, SampleSpace
from .dataset import exact
from .declaration import (
    DeclaredDataset,
    Features,
    Hypercube,
    Identity,
    Parities,
    Tree,
    TreeFeatures,
)
from .errors import ModspecError

__all__ = ["ATOMS", "declared_sample_space", "tree_sample_space", "walsh_matrix",
           "walsh_sample_space"]


def walsh_matrix(nx: int) -> np.ndarray:
    """All P Walsh functions as rows: ``H[T, j] = (−1)^popcount(T & j)`` (T a bitmask)."""
    P = 2**nx
    idx = np.arange(P)
    parity = np.zeros((P, P), dtype=np.int64)
    anded = idx[:, None] & idx[None, :]
    for bit in range(nx):
        parity ^= (anded >> bit) & 1
    return (1 - 2 * parity).astype(float)



def declared_sample_space(ds: DeclaredDataset) -> SampleSpace:
    """The atoms of a declared dataset (:mod:`modspec.theory.declaration`) and every block's
    Gram coefficients on them, for numeric and symbolic sizes at a cost independent of P."""
    if hasattr(ds, "sample_space"):   # a family with its own atoms (theory/contexts.py)
        return ds.sample_space()
    return ATOMS[type(ds.space)](ds)


def _identity_gram(block: Identity) -> sp.Expr:
    return exact(block.copies) * exact(block.scale) ** 2


def _space(ds: DeclaredDataset, atoms: list[Atom]) -> SampleSpace:
    return SampleSpace(P=sp.sympify(ds.P), atoms=tuple(atoms),
                       input_blocks=tuple(n for n, _ in ds.inputs),
                       output_blocks=tuple(n for n, _ in ds.outputs))


def walsh_sample_space(ds: DeclaredDataset) -> SampleSpace:
    """Walsh atoms of a declaration on the hypercube.

    A Walsh block holds ``count_B(T)`` rows ``scale_B · w_T`` for each subset T, so its Gram
    matrix is ``Σ_T count_B(T) scale_B² P Π_T``: diagonal on the Walsh functions. Grouping the
    subsets by their counts in every Walsh block gives the atoms; each block has coefficient
    ``count_B · scale_B² · P`` on an atom (identity blocks ``copies · scale²`` on every atom).
    The subsets are never enumerated: *cells* of subsets with equal counts are built from the
    declaration (:func:`_walsh_cells`), then merged.
    """
    P = sp.sympify(ds.P)
    walsh = [(name, b) for name, b in ds.blocks.items() if not isinstance(b, Identity)]
    listed, cells = _walsh_cells(ds, walsh)
    merged: dict[tuple[int, ...], sp.Expr] = {}
    for rank, counts in cells:
        merged[counts] = merged.get(counts, sp.Integer(0)) + rank
    zero = (0,) * len(walsh)
    atoms, labels = [], {}
    for counts, rank in merged.items():
        rank = sp.simplify(sp.expand_func(rank))
        if rank.is_number and rank == 0:
            continue
        labels[counts] = f"pi{len(labels) + 1}"
        gram = {name: counts[j] * exact(b.scale) ** 2 * P for j, (name, b) in enumerate(walsh)}
        gram |= {name: _identity_gram(b) for name, b in ds.blocks.items()
                 if isinstance(b, Identity)}
        atoms.append(Atom(labels[counts], rank, {k: sp.simplify(v) for k, v in gram.items()},
                          None, counts == zero or bool(rank.is_number and rank > 0)))
    if ds.fits:
        atoms = _walsh_bases(ds, walsh, listed, labels, atoms)
    return _space(ds, atoms)


def _order_of(b: Features | Parities) -> int | None:
    """The order a Walsh block takes whole (all features: 1), else None."""
    if isinstance(b, Features):
        return 1 if b.indices is None and b.count is None else None
    return b.order


def _walsh_cells(ds: DeclaredDataset, walsh: list[tuple[str, Any]]
                 ) -> tuple[dict[tuple[int, ...], list[int]], list[tuple[sp.Expr, tuple]]]:
    """The listed subsets (subset → rows per Walsh block) and the *cells* ``(rank, counts)``:
    each listed subset; the first ``count`` features when ``count`` is a symbol; the unlisted
    subsets of each order some block takes whole (``binomial(n, k)`` minus the listed ones);
    the rest, ``P`` minus all of those, which holds the constant."""
    n, P = sp.sympify(ds.space.n), sp.sympify(ds.P)
    listed: dict[tuple[int, ...], list[int]] = {}
    for j, (_, b) in enumerate(walsh):
        subsets = ([(i,) for i in b.indices] if isinstance(b, Features) and b.indices is not None
                   else list(b.subsets) if isinstance(b, Parities) and b.subsets is not None
                   else [])
        for T in subsets:
            listed.setdefault(T, [0] * len(walsh))[j] += 1
    prefix = {b.count for _, b in walsh if isinstance(b, Features) and b.count is not None}
    if len(prefix) > 1 or (prefix and any(len(T) == 1 for T in listed)):
        raise ModspecError("blocks with a symbolic feature count cannot be combined with other "
                           "chosen features or counts: give the indices as numbers")
    cells: list[tuple[sp.Expr, tuple[int, ...]]] = []
    for T, counts in listed.items():
        cells.append((sp.Integer(1), tuple(c + (_order_of(b) == len(T))
                                           for c, (_, b) in zip(counts, walsh, strict=True))))
    orders = sorted({_order_of(b) for _, b in walsh if _order_of(b) is not None}
                    | ({1} if prefix else set()))
    for k in orders:
        whole = tuple(int(_order_of(b) == k) for _, b in walsh)
        if k == 1 and prefix:
            m = next(iter(prefix))
            on = tuple(w or int(isinstance(b, Features) and b.count is not None)
                       for w, (_, b) in zip(whole, walsh, strict=True))
            cells += [(m, on), (n - m, whole)]
        else:
            cells.append((sp.binomial(n, k) - sum(1 for T in listed if len(T) == k), whole))
    cells.append((P - sp.Add(*[rank for rank, _ in cells]), (0,) * len(walsh)))
    return listed, cells


def _walsh_bases(ds: DeclaredDataset, walsh: list[tuple[str, Any]],
                 listed: dict[tuple[int, ...], list[int]], labels: dict[tuple, str],
                 atoms: list[Atom]) -> list[Atom]:
    """The atoms with their orthonormal bases: the Walsh functions of each atom's cell."""
    H = walsh_matrix(ds.space.n) / np.sqrt(ds.P)
    members: dict[str, list[int]] = {a.label: [] for a in atoms}
    for mask in range(ds.P):
        T = tuple(i for i in range(ds.space.n) if mask >> i & 1)
        counts = tuple(listed.get(T, [0] * len(walsh))[j] + (_order_of(b) == len(T))
                       for j, (_, b) in enumerate(walsh))
        members[labels[counts]].append(mask)
    return [Atom(a.label, a.rank, a.gram, H[members[a.label]].T, a.always_present)
            for a in atoms]


def tree_sample_space(ds: DeclaredDataset) -> SampleSpace:
    """Tree atoms of a declaration: ``Π_0 = E_0`` and ``Π_g = E_g − E_{g−1}``.

    ``E_g`` projects on the functions constant within each level-g subtree (a node's leaves).
    A level-g block of ``f`` features per node, scale ``s``, has Gram matrix
    ``f s² Σ_nodes 1_node 1_nodeᵀ = f s² c^(D−1−g) E_g`` (each node has ``c^(D−1−g)`` leaves),
    so its coefficient on ``Π_h`` is ``f s² c^(D−1−g)`` for ``h ≤ g`` and 0 above. Ranks:
    ``rank Π_0 = 1``, ``rank Π_g = c^g − c^(g−1)`` (the number of level-g nodes less those of
    level g − 1). D atoms, whatever the size c.
    """
    c, D = sp.sympify(ds.space.branching), ds.space.levels
    atoms = []
    for h in range(D):
        rank = sp.factor(c**h - (c ** (h - 1) if h else 0))
        gram = {}
        for name, b in ds.blocks.items():
            if isinstance(b, Identity):
                gram[name] = _identity_gram(b)
            elif isinstance(b, TreeFeatures):
                gram[name] = (exact(b.features) * exact(b.scale) ** 2 * c ** (D - 1 - b.level)
                              if h <= b.level else sp.Integer(0))
        atoms.append(Atom(f"level{h}", rank, gram, None, True))
    if ds.fits:
        P, cn = ds.P, int(c)
        previous = np.zeros((P, 0))
        bases = []
        for h in range(D):
            node = np.arange(P) // cn ** (D - 1 - h)
            E = (node[:, None] == np.arange(cn**h)[None, :]).astype(float)
            E = E - previous @ (previous.T @ E)
            u, sv, _ = np.linalg.svd(E, full_matrices=False)
            basis = u[:, sv > 1e-9 * max(sv.max(), 1.0)]
            bases.append(basis)
            previous = np.hstack([previous, basis])
        atoms = [Atom(a.label, a.rank, a.gram, B, True) for a, B in zip(atoms, bases,
                                                                         strict=True)]
    return _space(ds, atoms)


#: The atoms of each declared sample space, by its class: a new sample space adds its own
#: here (or its dataset class has a ``sample_space()`` method, as the contexts family's).
ATOMS: dict[type, Callable[[DeclaredDataset], SampleSpace]] = {
    Hypercube: walsh_sample_space, Tree: tree_sample_space}
