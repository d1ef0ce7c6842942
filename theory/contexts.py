"""The contexts family: the objects of a tree seen in C contexts (Jarvis, Klein, Rosman & Saxe,
"Make Haste Slowly", ICLR 2025); ``docs/theory/families.md``.

Samples are (context, object) pairs, context-major: sample ``j = c·N + o`` for context
``c < C`` and object ``o < N``, the ``N = b**(L−1)`` leaves of a tree with ``L = levels`` levels
and branching ``b`` (default the 8 leaves of a binary tree, ``L = 4``), so ``P = N·C``. ``T``
is the tree's feature block, one row per node (``1 + 2 + 4 + 8 = 15`` rows by default), on for
every leaf below the node. Blocks (``⊗`` the Kronecker product, contexts first):

* input ``objects`` = ``r · 1_Cᵀ ⊗ I_N`` (the object one-hot, repeated in every context);
* input ``contexts`` = ``rc · I_C ⊗ 1_Nᵀ`` (the context one-hot);
* output ``common`` = ``1_Cᵀ ⊗ T`` (the tree in every context);
* output ``specific`` = ``I_C ⊗ T``: one group of rows per context holding the tree in that
  context and 0 elsewhere. A :class:`Variant` replaces context c's ``T`` by
  ``sign · S[:, objects]`` (``S`` = ``T`` or a given matrix).

*The sample space is a product.* Each block is ``scale · A ⊗ B`` (:class:`Kron`) with ``A``
rows over the contexts and ``B`` rows over the objects, so its Gram matrix is
``scale² (AᵀA) ⊗ (BᵀB)``. The contexts are the leaves of a 2-level tree with branching C, whose
atoms are ``Q_0`` (constant, rank 1) and ``Q_1 = I − Q_0`` (rank ``C − 1``); the objects' tree
has atoms ``Π_h`` (ranks ``1, 1, 2, 4``). Both factors' Gram coefficients come from
:func:`~modspec.theory.projectors.tree_sample_space`; the atoms of the product are
``Q_k ⊗ Π_h``, of rank ``rank Q_k · rank Π_h``, on which a block has coefficient
``scale² · a_k · b_h``: ranks and coefficients are SymPy expressions in C. Atom ``level{h}`` is
``Q_0 ⊗ Π_h`` (the same in every context), ``context{h}`` is ``Q_1 ⊗ Π_h`` (summing to zero over
the contexts). A variant whose ``SᵀS`` equals ``TᵀT`` (a sign, an automorphism of the tree,
any matrix with the tree's Gram) keeps every Gram matrix and so the atoms; any other breaks
the commuting structure, and the atoms are then sought by numeric joint diagonalisation
(:func:`~modspec.theory.projectors.joint_sample_space`), which refuses in one line when the
Gram matrices do not commute (no modes).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from . import symbols as sy
from .dataset import MAX_LOG2, check_scale, check_size, exact, is_symbolic_value
from .declaration import DeclaredDataset, Identity, Tree, TreeFeatures
from .errors import bad
from .names import check_block_name
from .projectors import Atom, SampleSpace, joint_sample_space, tree_sample_space

__all__ = ["C", "DOMAIN", "KEYS", "SYMBOLS", "ContextSpace", "ContextsDataset", "Kron",
           "Variant", "contexts", "domain", "rc", "tree_block"]

#: The family's symbols: the number of contexts C (an integer ≥ 2) and the context one-hot's
#: scale ``rc``; the object one-hot's scale is the compositional ``r``.
C = sp.Symbol("C", integer=True, positive=True)
rc = sp.Symbol("rc", nonnegative=True)
SYMBOLS = {"C": C, "r": sy.r, "rc": rc}
#: The parameters a ``family = "contexts"`` table takes.
KEYS = ("C", "r", "rc", "variants", "levels", "branching")
DOMAIN = ("C >= 2", "r >= 0", "rc >= 0")


# ------------------------------------------------------------------ the sample space
@dataclass(frozen=True)
class ContextSpace:
    """(context, object) pairs: ``contexts`` = C contexts (≥ 2, may be a symbol) times the
    leaves of ``Tree(levels, branching)``; sample ``j = c·N + o``."""

    contexts: Any
    levels: int = 4
    branching: Any = 2

    def __post_init__(self) -> None:
        tree = Tree(self.levels, self.branching)
        object.__setattr__(self, "levels", tree.levels)
        object.__setattr__(self, "branching", tree.branching)
        n = check_size("C", self.contexts, 2, 2**MAX_LOG2)
        object.__setattr__(self, "contexts", n)
        if not is_symbolic_value(n) and not is_symbolic_value(tree.P) \
                and int(tree.P) * n > 2**MAX_LOG2:
            raise bad("C", n, f"must give P = C·{tree.P} ≤ 2**{MAX_LOG2}")

    @property
    def objects(self) -> Tree:
        return Tree(self.levels, self.branching)

    @property
    def context_tree(self) -> Tree:
        """The contexts as the C leaves of a 2-level tree (atoms: constant, rank C − 1)."""
        return Tree(2, self.contexts)

    @property
    def N(self) -> sp.Expr:
        return self.objects.P

    @property
    def P(self) -> sp.Expr:
        return self.N * sp.sympify(self.contexts, strict=True)


# ------------------------------------------------------------------ block kinds
@dataclass(frozen=True)
class Variant:
    """Context ``context``'s rows of a block with a context one-hot factor hold
    ``sign · S[:, objects]`` instead of ``S``: ``S`` is the block's object rows (the tree) or
    ``features`` (a numeric matrix of the same shape); object ``o`` takes the column of
    ``objects[o]`` (a permutation of the N objects)."""

    context: int
    sign: int = 1
    objects: tuple[int, ...] | None = None
    features: tuple[tuple[float, ...], ...] | None = None


@dataclass(frozen=True)
class Kron:
    """Rows ``scale · A ⊗ B``: ``context`` a block over the contexts (``Identity()``: the
    context one-hot, ``TreeFeatures(0)``: one row of ones), ``objects`` blocks over the objects'
    tree stacked (``Identity()``: the object one-hot, ``TreeFeatures(g)``: level g of the
    tree). ``variants`` (with a one-hot context factor) change single contexts' rows."""

    context: Identity | TreeFeatures
    objects: tuple[Identity | TreeFeatures, ...]
    scale: Any = 1
    variants: tuple[Variant, ...] = ()


def _factor(tree: Tree, blocks: Sequence[Identity | TreeFeatures]) -> DeclaredDataset:
    """A declaration over one factor: its blocks as inputs ``b0, b1, …``."""
    return DeclaredDataset(tree, tuple((f"b{i}", b) for i, b in enumerate(blocks)),
                           (("unit", Identity()),))


def tree_block(levels: int = 4, branching: Any = 2) -> tuple[TreeFeatures, ...]:
    """The tree's feature block ``T`` over the objects: one feature per node, every level."""
    return tuple(TreeFeatures(g) for g in range(Tree(levels, branching).levels))


# ------------------------------------------------------------------ the dataset
@dataclass(frozen=True)
class ContextsDataset(DeclaredDataset):
    """A declaration over a :class:`ContextSpace` whose blocks are :class:`Kron` rows."""

    space: ContextSpace
    inputs: tuple[tuple[str, Kron], ...]
    outputs: tuple[tuple[str, Kron], ...]

    def __post_init__(self) -> None:
        if not isinstance(self.space, ContextSpace):
            raise bad("space", type(self.space).__name__, "must be a ContextSpace")
        seen: set[str] = set()
        for side in ("inputs", "outputs"):
            pairs = tuple(getattr(self, side))
            if not pairs:
                raise bad(side, [], "must declare at least one block")
            for name, block in pairs:
                check_block_name(name, seen)
                if not isinstance(block, Kron):
                    raise bad(f"block {name!r} kind", type(block).__name__, "must be Kron")
                check_scale(f"block {name!r} scale", block.scale)
            object.__setattr__(self, side, pairs)

    def _factors(self, block: Kron) -> tuple[DeclaredDataset, DeclaredDataset]:
        return (_factor(self.space.context_tree, (block.context,)),
                _factor(self.space.objects, block.objects))

    def rows(self, name: str) -> Any:
        """Number of rows of block ``name``: rows of ``A`` times rows of ``B``."""
        ctx, obj = self._factors(self.blocks[name])
        rows = ctx.rows("b0") * sp.Add(*[obj.rows(b) for b in obj.input_blocks])
        rows = sp.sympify(rows)
        return int(rows) if rows.is_Integer else rows

    def _object_rows(self, obj: DeclaredDataset) -> np.ndarray:
        return np.vstack([obj.block_matrix(b) for b in obj.input_blocks])

    def block_matrix(self, name: str) -> np.ndarray:
        """The rows of block ``name`` (rows × P), variants applied."""
        self.require_fits()
        block = self.blocks[name]
        ctx, obj = self._factors(block)
        B = self._object_rows(obj)
        out = float(block.scale) * np.kron(ctx.block_matrix("b0"), B)
        n_rows, N = B.shape
        for v in block.variants:
            c = v.context
            out[c * n_rows:(c + 1) * n_rows, c * N:(c + 1) * N] = \
                float(block.scale) * _variant_rows(v, B)
        return out

    def keeps_gram(self) -> bool:
        """True when every variant's rows have the Gram matrix of the rows they replace (the
        product atoms hold)."""
        for _, block in self.blocks.items():
            # a sign alone keeps the Gram matrix whatever the tree (symbolic included)
            changed = [v for v in block.variants if v.objects is not None
                       or v.features is not None]
            if not changed:
                continue
            _, obj = self._factors(block)
            B = self._object_rows(obj)
            if any(not np.array_equal(_variant_rows(v, B).T @ _variant_rows(v, B), B.T @ B)
                   for v in changed):
                return False
        return True

    def sample_space(self) -> SampleSpace:
        """The product atoms ``Q_k ⊗ Π_h`` (module docstring), or the numeric joint
        diagonalisation when a variant changes a Gram matrix."""
        if not self.keeps_gram():
            self.require_fits()
            return joint_sample_space(self)
        grams = {}
        for name, block in self.blocks.items():
            ctx, obj = (tree_sample_space(f) for f in self._factors(block))
            grams[name] = (exact(block.scale) ** 2,
                           [a.gram["b0"] for a in ctx.atoms],
                           [sp.Add(*[a.gram[b] for b in obj.input_blocks]) for a in obj.atoms])
        ctx_atoms = tree_sample_space(_factor(self.space.context_tree, (Identity(),))).atoms
        obj_atoms = tree_sample_space(_factor(self.space.objects, (Identity(),))).atoms
        atoms = []
        for k, qa in enumerate(ctx_atoms):
            for h, pa in enumerate(obj_atoms):
                gram = {name: sp.simplify(s2 * a[k] * b[h]) for name, (s2, a, b) in grams.items()}
                basis = (np.kron(qa.basis, pa.basis)
                         if qa.basis is not None and pa.basis is not None else None)
                atoms.append(Atom(f"{('level', 'context')[k]}{h}", sp.factor(qa.rank * pa.rank),
                                  gram, basis, qa.always_present and pa.always_present))
        return SampleSpace(P=sp.sympify(self.P), atoms=tuple(atoms),
                           input_blocks=tuple(n for n, _ in self.inputs),
                           output_blocks=tuple(n for n, _ in self.outputs))


def _variant_rows(v: Variant, B: np.ndarray) -> np.ndarray:
    S = B if v.features is None else np.asarray(v.features, dtype=float)
    if v.objects is not None:
        S = S[:, list(v.objects)]
    return v.sign * S


# ------------------------------------------------------------------ the family
def _variants(variants: Any, C: Any, N: Any, shape: tuple[Any, Any]) -> tuple[Variant, ...]:
    """``variants`` (a list of :class:`Variant` or of tables ``{context, sign, objects,
    features}``) checked against C contexts, N objects and the tree block's shape."""
    if isinstance(variants, (str, bytes, Mapping)) or not isinstance(variants, Sequence):
        raise bad("variants", variants, "must be a list of {context, sign, objects, features}")
    out, seen = [], set()
    top = C - 1 if not is_symbolic_value(C) else 2**MAX_LOG2
    for entry in variants:
        if isinstance(entry, Mapping):
            unknown = set(entry) - {"context", "sign", "objects", "features"}
            if unknown or "context" not in entry:
                raise bad("variant", dict(entry), "takes context (required), sign, objects, "
                                                  "features")
            entry = Variant(**entry)
        if not isinstance(entry, Variant):
            raise bad("variant", entry, "must be a table {context, sign, objects, features}")
        c = check_size("variant context", entry.context, 0, top)
        if is_symbolic_value(c) or c in seen:
            raise bad("variant context", c, f"must be distinct integers in [0, {top}]")
        seen.add(c)
        if _is_bool(entry.sign) or entry.sign not in (1, -1):
            raise bad("variant sign", entry.sign, "must be 1 or -1")
        objects = features = None
        if (entry.objects is not None or entry.features is not None) and \
                (is_symbolic_value(N) or is_symbolic_value(shape[0])):
            raise bad("variant", c, "objects and features need a numeric tree")
        if entry.objects is not None:
            objects = _permutation(entry.objects, int(N))
        if entry.features is not None:
            features = _matrix(entry.features, (int(shape[0]), int(N)))
        out.append(Variant(c, int(entry.sign), objects, features))
    return tuple(out)


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _permutation(objects: Any, N: int) -> tuple[int, ...]:
    allowed = f"must be a permutation of 0 … {N - 1}"
    if isinstance(objects, (str, bytes)) or not isinstance(objects, Sequence):
        raise bad("variant objects", objects, allowed)
    if any(_is_bool(o) or not isinstance(o, numbers.Integral) for o in objects) \
            or sorted(int(o) for o in objects) != list(range(N)):
        raise bad("variant objects", list(objects), allowed)
    return tuple(int(o) for o in objects)


def _matrix(rows: Any, shape: tuple[int, int]) -> tuple[tuple[float, ...], ...]:
    allowed = f"must be a {shape[0]} × {shape[1]} list of rows of finite real numbers"
    if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence) or len(rows) != shape[0]:
        raise bad("variant features", rows, allowed)
    out = []
    for row in rows:
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence) \
                or len(row) != shape[1] or any(_is_bool(x) or not isinstance(x, numbers.Real)
                                               or not np.isfinite(float(x)) for x in row):
            raise bad("variant features", rows, allowed)
        out.append(tuple(float(x) for x in row))
    return tuple(out)


def contexts(C: Any, r: Any = 1, rc: Any = None, variants: Any = (), levels: int = 4,
             branching: Any = 2) -> ContextsDataset:
    """The contexts family (module docstring): C contexts (≥ 2, may be a symbol) of the
    leaves of a tree (``levels``, ``branching``; default 8 objects, a 15-row tree block);
    inputs ``objects`` (scale ``r``) and ``contexts`` (scale ``rc``, default ``r``), outputs
    ``common`` and ``specific``; ``variants`` change single contexts' ``specific`` rows."""
    r = check_scale("r", r)
    rc = r if rc is None else check_scale("rc", rc)
    space = ContextSpace(C, levels, branching)
    objects_tree = space.objects
    T = tree_block(objects_tree.levels, objects_tree.branching)
    shape = (_factor(objects_tree, T).shape_x[0], objects_tree.P)
    checked = _variants(variants, space.contexts, space.N, shape)
    one, ones = Identity(), TreeFeatures(0)
    ds = ContextsDataset(
        space,
        (("objects", Kron(ones, (one,), r)), ("contexts", Kron(one, (ones,), rc))),
        (("common", Kron(ones, T)), ("specific", Kron(one, T, 1, checked))),
        "contexts",
        tuple((k, v) for k, v in (("C", space.contexts), ("r", r), ("rc", rc),
                                  ("variants", [_table(v) for v in checked]),
                                  ("levels", space.levels), ("branching", space.branching))
              if k != "variants" or v))
    return ds


def _table(v: Variant) -> dict[str, Any]:
    out: dict[str, Any] = {"context": v.context, "sign": v.sign}
    if v.objects is not None:
        out["objects"] = list(v.objects)
    if v.features is not None:
        out["features"] = [list(row) for row in v.features]
    return out


def domain(dataset: ContextsDataset) -> tuple[str, ...]:
    """Where the symbolic family's results hold (relations :func:`sympy.sympify` reads): C ≥ 2
    and above every variant's context, P = N·C ≤ 2**255, scales ≥ 0."""
    tables = dict(dataset.params).get("variants", [])
    top = max((v["context"] + 1 for v in tables), default=2)
    N = dataset.space.N
    return (f"C >= {max(top, 2)}", f"C <= 2**{MAX_LOG2}/{N}", *DOMAIN[1:])
