"""Declared datasets: a sample space and named row blocks of declared kinds.

A dataset is a declaration (see ``docs/theory/families.md``): a *sample space* of P objects,
one sample each, and named *row blocks* over it, some read as inputs, some written as outputs.
Two sample spaces:

* :class:`Hypercube` ``(n)``: the ``P = 2**n`` sign patterns of n binary features. Row blocks
  are Walsh rows ``w_T(j) = Π_{i∈T} Ωx[i, j]`` (``Ωx[i, j] = (−1)^(bit i of j)``):
  :class:`Features` (order-1 rows, chosen indices or all) and :class:`Parities` (products of
  listed feature subsets, or every subset of one order).
* :class:`Tree` ``(levels, branching)``: the ``P = c**(D−1)`` leaves of a c-ary tree with D levels
  (root at level 0). :class:`TreeFeatures` puts ``f`` features on every node of one level, each
  on for every leaf below the node.

:class:`Identity` (``copies`` stacked ``scale · I_P``) fits either space. Every block has a
``scale``; sizes and scales may be SymPy symbols (the projector algebra of
:mod:`modspec.theory.projectors` derives the spectrum without building any array), and numeric
declarations small enough (:data:`~modspec.theory.dataset.MAX_ENTRIES`) materialise ``X`` and
``Y`` for simulation and training.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from .dataset import (
    MAX_ENTRIES,
    MAX_LOG2,
    check_scale,
    check_size,
    is_symbolic_value,
    least_squares_rule,
    materialisable,
)
from .errors import ModspecError, bad
from .names import check_block_name

__all__ = ["Block", "DeclaredDataset", "Features", "Hypercube", "Identity", "Parities",
           "SampleSpaceDecl", "Tree", "TreeFeatures", "walsh_row"]

Span = tuple[Any, Any]


# ------------------------------------------------------------------ sample spaces
@dataclass(frozen=True)
class Hypercube:
    """``P = 2**n`` objects, the sign patterns of ``n`` binary features (1 ≤ n ≤ 255)."""

    n: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", check_size("n", self.n, 1, MAX_LOG2))

    @property
    def P(self) -> sp.Expr:
        return sp.Integer(2) ** sp.sympify(self.n, strict=True)


@dataclass(frozen=True)
class Tree:
    """The ``P = c**(D−1)`` leaves of a tree with ``levels = D`` levels (root at level 0,
    an integer ≥ 1) and ``branching = c`` (≥ 2, may be a symbol)."""

    levels: int
    branching: Any

    def __post_init__(self) -> None:
        levels = check_size("levels", self.levels, 1, MAX_LOG2)
        if is_symbolic_value(levels):
            raise bad("levels", levels, "must be an integer in [1, 255] (the number of atoms)")
        object.__setattr__(self, "levels", levels)
        c = check_size("branching", self.branching, 2, 2**MAX_LOG2)
        object.__setattr__(self, "branching", c)
        if not is_symbolic_value(c) and (levels - 1) * math.log2(c) > MAX_LOG2:
            raise bad("levels", levels, f"must give P = branching**(levels-1) ≤ 2**{MAX_LOG2}")

    @property
    def P(self) -> sp.Expr:
        return sp.sympify(self.branching, strict=True) ** (self.levels - 1)


SampleSpaceDecl = Hypercube | Tree


# ------------------------------------------------------------------ block kinds
@dataclass(frozen=True)
class Features:
    """Order-1 Walsh rows ``scale · w_{i}``: the features ``indices`` (a tuple; an index listed
    twice is two rows), the first
    ``count`` features (``count`` may be a symbol), or all n features (neither given)."""

    indices: tuple[int, ...] | None = None
    count: Any = None
    scale: Any = 1


@dataclass(frozen=True)
class Parities:
    """Walsh rows ``scale · w_T``: one per listed subset T (``subsets``, each a tuple of distinct
    feature indices, a subset listed twice is two rows), or every subset of size ``order``."""

    subsets: tuple[tuple[int, ...], ...] | None = None
    order: int | None = None
    scale: Any = 1


@dataclass(frozen=True)
class Identity:
    """``copies`` stacked copies of ``scale · I_P`` (one-hot object identity)."""

    copies: Any = 1
    scale: Any = 1


@dataclass(frozen=True)
class TreeFeatures:
    """``features`` rows per node of tree level ``level``, ``scale`` on every leaf below the
    node and 0 elsewhere."""

    level: int
    features: Any = 1
    scale: Any = 1


Block = Features | Parities | Identity | TreeFeatures
_KINDS = {Hypercube: (Features, Parities, Identity), Tree: (TreeFeatures, Identity)}


def _check_block(name: str, block: Any, space: SampleSpaceDecl) -> Block:
    """``block`` checked against ``space``; errors name the block."""
    who = f"block {name!r}"
    kinds = _KINDS[type(space)]
    if not isinstance(block, kinds):
        raise bad(f"{who} kind", type(block).__name__,
                  f"must be one of {[k.__name__ for k in kinds]} on a {type(space).__name__}")
    scale = check_scale(f"{who} scale", block.scale)
    if isinstance(block, Identity):
        copies = check_size(f"{who} copies", block.copies, 0, 2**MAX_LOG2)
        return Identity(copies, scale)
    if isinstance(block, TreeFeatures):
        level = check_size(f"{who} level", block.level, 0, space.levels - 1)
        if is_symbolic_value(level):
            raise bad(f"{who} level", level, f"must be an integer in [0, {space.levels - 1}]")
        feats = check_size(f"{who} features", block.features, 0, 2**MAX_LOG2)
        return TreeFeatures(level, feats, scale)
    n = space.n
    top = n - 1 if not is_symbolic_value(n) else 2**MAX_LOG2

    def index_list(what: str, items: Any, distinct: bool = True) -> tuple[int, ...]:
        allowed = f"must be {'distinct ' if distinct else ''}feature indices in [0, {n})"
        try:
            out = tuple(check_size(what, i, 0, top) for i in items)
        except (TypeError, ModspecError):
            raise bad(what, items, allowed) from None
        if any(is_symbolic_value(i) for i in out) or (distinct and len(set(out)) != len(out)):
            raise bad(what, items, allowed)
        return out

    if isinstance(block, Features):
        if block.indices is not None and block.count is not None:
            raise bad(f"{who} count", block.count, "must not be given together with indices")
        if block.indices is not None:
            return Features(index_list(f"{who} indices", block.indices, False), None, scale)
        if block.count is not None:
            count = check_size(f"{who} count", block.count, 0, MAX_LOG2)
            if not is_symbolic_value(count) and not is_symbolic_value(n) and count > n:
                raise bad(f"{who} count", count, f"must be in [0, {n}]")
            if not is_symbolic_value(count):
                return Features(tuple(range(count)), None, scale)
            return Features(None, count, scale)
        return Features(None, None, scale)
    if (block.subsets is None) == (block.order is None):
        raise bad(f"{who} subsets", block.subsets, "give exactly one of subsets or order")
    if block.order is not None:
        order = check_size(f"{who} order", block.order, 1, top + 1)
        if is_symbolic_value(order):
            raise bad(f"{who} order", order, "must be an integer ≥ 1")
        return Parities(None, order, scale)
    if isinstance(block.subsets, (str, bytes)):
        raise bad(f"{who} subsets", block.subsets, "must be a list of feature-index lists")
    try:
        subsets = tuple(index_list(f"{who} subset", T) for T in block.subsets)
    except TypeError:
        raise bad(f"{who} subsets", block.subsets,
                  "must be a list of feature-index lists") from None
    if any(not T for T in subsets):
        raise bad(f"{who} subset", [], "must name at least one feature")
    return Parities(tuple(tuple(sorted(T)) for T in subsets), None, scale)


def walsh_row(subset: tuple[int, ...], n: int) -> np.ndarray:
    """``w_T(j) = Π_{i∈T} (−1)^(bit i of j)`` for ``j = 0 … 2**n − 1``."""
    j = np.arange(2**n)
    mask = sum(1 << i for i in subset)
    parity = np.zeros(2**n, dtype=np.int64)
    anded = j & mask
    for bit in range(n):
        parity ^= (anded >> bit) & 1
    return (1 - 2 * parity).astype(float)


# ------------------------------------------------------------------ the declaration
@dataclass(frozen=True)
class DeclaredDataset:
    """A sample space and named input and output row blocks (see the module docstring).

    ``inputs`` and ``outputs`` are tuples of ``(name, block)`` pairs, in row order; names are
    unique across both. ``family`` and ``params`` record where the declaration came from
    (:mod:`modspec.theory.families`).
    """

    space: SampleSpaceDecl
    inputs: tuple[tuple[str, Block], ...]
    outputs: tuple[tuple[str, Block], ...]
    family: str = "declared"
    params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.space, (Hypercube, Tree)):
            raise bad("space", type(self.space).__name__, "must be a Hypercube or a Tree")
        seen: set[str] = set()
        for side in ("inputs", "outputs"):
            pairs = getattr(self, side)
            if isinstance(pairs, dict):
                pairs = tuple(pairs.items())
            try:
                pairs = tuple((name, block) for name, block in pairs)
            except (TypeError, ValueError):
                raise bad(side, pairs, "must be (name, block) pairs") from None
            if not pairs:
                raise bad(side, [], "must declare at least one block")
            checked = []
            for name, block in pairs:
                check_block_name(name, seen)
                checked.append((name, _check_block(name, block, self.space)))
            object.__setattr__(self, side, tuple(checked))

    # ------------------------------------------------------------- properties
    @property
    def blocks(self) -> dict[str, Block]:
        """Every block by name, inputs first."""
        return dict(self.inputs + self.outputs)

    @property
    def P(self) -> Any:
        """Number of objects (samples)."""
        P = sp.simplify(self.space.P)
        return int(P) if P.is_number else P

    @property
    def is_symbolic(self) -> bool:
        """True when any size or scale is a free SymPy symbol."""
        return bool(sp.sympify(self.P).free_symbols) or any(
            is_symbolic_value(v) for b in self.blocks.values() for v in vars(b).values())

    def rows(self, name: str) -> Any:
        """Number of rows of block ``name``."""
        block, space = self.blocks[name], self.space
        if isinstance(block, Identity):
            return block.copies * self.P
        if isinstance(block, TreeFeatures):
            return block.features * sp.sympify(space.branching, strict=True) ** block.level
        if isinstance(block, Features):
            if block.indices is not None:
                return len(block.indices)
            return space.n if block.count is None else block.count
        if block.subsets is not None:
            return len(block.subsets)
        return sp.binomial(space.n, block.order) if is_symbolic_value(space.n) else \
            int(sp.binomial(space.n, block.order))

    def _spans(self, pairs: tuple[tuple[str, Block], ...]) -> dict[str, Span]:
        out, edge = {}, 0
        for name, _ in pairs:
            stop = edge + self.rows(name)
            if isinstance(stop, sp.Basic) and stop.is_Integer:
                stop = int(stop)   # numeric spans are Python ints (NumPy indexes with them)
            out[name] = (edge, stop)
            edge = stop
        return out

    @property
    def input_blocks(self) -> dict[str, Span]:
        """Row ranges ``(start, stop)`` of the input blocks in ``X``."""
        return self._spans(self.inputs)

    @property
    def output_blocks(self) -> dict[str, Span]:
        """Row ranges ``(start, stop)`` of the output blocks in ``Y``."""
        return self._spans(self.outputs)

    @property
    def shape_x(self) -> tuple[Any, Any]:
        return (list(self.input_blocks.values())[-1][1], self.P)

    @property
    def shape_y(self) -> tuple[Any, Any]:
        return (list(self.output_blocks.values())[-1][1], self.P)

    # ------------------------------------------------------------- materialise
    @property
    def fits(self) -> bool:
        """True when ``X`` and ``Y`` are numeric and small enough to build."""
        return materialisable(self)

    def require_fits(self) -> None:
        """Raise :class:`ModspecError` unless ``X`` and ``Y`` can be built (:attr:`fits`)."""
        if self.is_symbolic:
            raise ModspecError("materialising X and Y needs numeric sizes and scales; use the "
                               "symbolic route (modspec.spectrum / modspec.derive)")
        if not self.fits:
            raise ModspecError(
                f"the {self.family} dataset has X and Y with "
                f"{(self.shape_x[0] + self.shape_y[0]) * self.P:.3g} entries "
                f"(> {MAX_ENTRIES:.0e}): too large to materialise; use the symbolic route")

    def block_matrix(self, name: str) -> np.ndarray:
        """The rows of block ``name`` (rows × P)."""
        self.require_fits()
        block, P = self.blocks[name], self.P
        scale = float(block.scale)
        if isinstance(block, Identity):
            return np.tile(scale * np.eye(P), (int(block.copies), 1))
        if isinstance(block, TreeFeatures):
            c, D = int(self.space.branching), self.space.levels
            node = np.arange(P) // c ** (D - 1 - block.level)
            ind = (node[None, :] == np.arange(c**block.level)[:, None]).astype(float)
            return scale * np.repeat(ind, int(block.features), axis=0)
        n = self.space.n
        if isinstance(block, Features):
            subsets = [(i,) for i in (block.indices if block.indices is not None
                                      else range(n))]
        elif block.subsets is not None:
            subsets = list(block.subsets)
        else:
            subsets = list(itertools.combinations(range(n), block.order))
        rows = [scale * walsh_row(T, n) for T in subsets]
        return np.vstack(rows) if rows else np.zeros((0, P))

    @property
    def selection(self) -> np.ndarray | None:
        """The compositional rule ``S`` (:func:`~modspec.theory.dataset.least_squares_rule`;
        for the compositional family its output-feature selection), None without ``Ox``/``Oy``."""
        return least_squares_rule(self)

    @property
    def X(self) -> np.ndarray:
        """Input matrix: the input blocks stacked in order (features × samples)."""
        return np.vstack([self.block_matrix(name) for name, _ in self.inputs])

    @property
    def Y(self) -> np.ndarray:
        """Output matrix: the output blocks stacked in order (features × samples)."""
        return np.vstack([self.block_matrix(name) for name, _ in self.outputs])

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description: the family and its parameters (symbols as strings)."""
        def conv(v: Any) -> Any:
            if isinstance(v, sp.Basic):
                return str(v) if not v.is_number else (int(v) if v.is_Integer else float(v))
            if isinstance(v, (list, tuple)):
                return [conv(x) for x in v]
            return v

        return {"family": self.family, **{k: conv(v) for k, v in self.params}}

