"""The size of a derivation a run may start, checked before any symbolic work.

A derivation's symbolic work grows with the number of atoms of the sample space (its modes)
times the number of blocks (each mode's Gram coefficients, each block's observables, each
mode pair's comparison): the hierarchical family with ``D`` levels has ``D`` atoms and ``D + 1``
blocks, so its cost grows as ``D²`` (measured with an empty cache on one core: about 8 s at
40 levels numerically; by the explicit algebra with symbolic branching, features and scale
1.9 s at 6 levels, 4.3 s at 10, 29 s at 20). Beyond :data:`MAX_PAIRS` (numeric) or
:data:`MAX_SYMBOLIC_PAIRS` (symbolic) atom-block pairs a derivation is refused in one line
before it starts.

A symbolic tree whose every module takes the level-generic route
(:mod:`modspec.theory.tree_levels`: modules reading identity blocks and writing a run of
levels, i.e. every network of the hierarchical family, shallow, dense and split) derives its
modes and ``W*`` once for a symbolic level and substitutes each level's numbers, so its
symbolic work does not grow with the levels (cold, child CPU seconds on a shared core,
``benchmarks/bench_cold_derive.py``: 2.0 s at 4 levels, 2.2 s at 10, 2.6 s at 40, 4.1 s at
100 with the mode solution cached); it is budgeted to :data:`MAX_TREE_PAIRS` (a tree of
:data:`TREE_LEVELS` levels: what still grows per level is substitution and bookkeeping).
Other symbolic networks on a tree (a module writing levels that are not consecutive, a
tree-feature input, levels with different features) keep :data:`MAX_SYMBOLIC_PAIRS`, and so
do the observables in the mode strengths of any symbolic derivation (derived when read, by
the explicit algebra: :func:`check_observables`). The
hierarchical family for any number of levels is
:func:`~modspec.theory.families.hierarchical_levels` (symbolic in ``D``).
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from . import tree_levels
from .declaration import Tree
from .errors import bad

__all__ = ["MAX_PAIRS", "MAX_SYMBOLIC_PAIRS", "MAX_TREE_PAIRS", "TREE_LEVELS", "check_observables",
           "check_work"]

#: Atom-block pairs of a numeric derivation (a tree of 40 levels: 40 × 41 = 1640).
MAX_PAIRS = 1640
#: Atom-block pairs of a symbolic derivation (a tree of 12 levels: 12 × 13 = 156, seconds).
MAX_SYMBOLIC_PAIRS = 156
#: Levels of a symbolic tree on the level-generic route (:mod:`modspec.theory.tree_levels`).
TREE_LEVELS = 100
#: Atom-block pairs of a symbolic tree on the level-generic route (100 levels: 100 × 101).
MAX_TREE_PAIRS = TREE_LEVELS * (TREE_LEVELS + 1)


def _symbolic(dataset: Any) -> bool:
    params = getattr(dataset, "params", ())
    values = params.values() if isinstance(params, dict) else (v for _, v in params)
    return any(isinstance(v, sp.Basic) and bool(v.free_symbols) for v in values)


def _size(dataset: Any, space: Any) -> tuple[int, int] | None:
    """``(atoms, blocks)``: of ``space`` when given, else counted from a tree's levels (one
    atom per level) without building the sample space; None when it needs the space."""
    if space is not None:
        return len(space.atoms), len(space.input_blocks) + len(space.output_blocks)
    if isinstance(getattr(dataset, "space", None), Tree):
        return dataset.space.levels, len(dataset.inputs) + len(dataset.outputs)
    return None


def check_work(dataset: Any, space: Any = None, network: Any = None) -> None:
    """Refuse a dataset whose atoms × blocks exceeds the budget (module docstring), from its
    sample ``space`` or, for a tree, before the space is built; a symbolic tree whose every
    module of ``network`` takes the level-generic route has the budget :data:`MAX_TREE_PAIRS`."""
    size = _size(dataset, space)
    symbolic = size is not None and _symbolic(dataset)
    generic = symbolic and network is not None and tree_levels.applies(dataset, network, space)
    limit = MAX_TREE_PAIRS if generic else MAX_SYMBOLIC_PAIRS if symbolic else MAX_PAIRS
    if size is None or size[0] * size[1] <= limit:
        return
    kind = "symbolic" if symbolic else "numeric"
    levels = {MAX_TREE_PAIRS: TREE_LEVELS, MAX_SYMBOLIC_PAIRS: 12, MAX_PAIRS: 40}[limit]
    any_levels = (" (the hierarchical family for any number of levels D: derive --symbolic of "
                  f"a file with at most {TREE_LEVELS} levels prints its modes in D)"
                  if symbolic else "")
    raise bad("dataset", f"{size[0]} atoms x {size[1]} blocks",
              f"a {kind} derivation is budgeted to {limit} atom-block pairs, e.g. a tree of "
              f"{levels} levels (its work grows with their product){any_levels}")


def check_observables(dataset: Any, space: Any) -> None:
    """Refuse to derive the observables in the mode strengths (quadrant norms and losses, read
    by ``--format latex`` and by a compiled predictor) of a symbolic dataset beyond
    :data:`MAX_SYMBOLIC_PAIRS`: they are sums over the modes, simplified by the explicit
    algebra whatever the route of the modes (:data:`MAX_TREE_PAIRS` budgets the modes only)."""
    size = _size(dataset, space)
    if size is None or not _symbolic(dataset) or size[0] * size[1] <= MAX_SYMBOLIC_PAIRS:
        return
    raise bad("dataset", f"{size[0]} atoms x {size[1]} blocks",
              f"the observables of a symbolic derivation (the quadrant norms and losses in "
              f"the mode strengths: --format latex, a compiled predictor) are budgeted to "
              f"{MAX_SYMBOLIC_PAIRS} atom-block pairs, e.g. a tree of 12 levels; its modes "
              f"and W* are not (--format json or text), nor numeric sizes")
