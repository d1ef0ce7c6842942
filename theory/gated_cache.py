"""The on-disk cache of gated derivations: the matrix flow and each mode's system.

docs/theory/gated.md. Deriving the matrix flow of every edge
(:func:`modspec.theory.gated_flow.gated_flow`) and compiling each mode's system (its
Jacobian and conserved quantities, :func:`modspec.numerics.gated_race.mode_system`) take
seconds for the routing network; both are stored through :mod:`modspec.theory.cache`
(checksummed JSON entries, HMAC-keyed, atomic writes, off inside
:func:`~modspec.theory.cache.disabled`).

* **Keys hold everything the derivation depends on**: for the flow, the network's whole
  declaration (layers and sizes, edges, every gate value exactly, contexts, the number of
  items the gates are taken over) — sizes and data do not enter the symbolic flow, but are
  in the key anyway; for a mode's system, the mode's own equations (their JSON trees), from
  which everything else is derived. The modspec version and the cache schema are added by
  :func:`modspec.theory.cache.key_hash`.
* **Nothing read is evaluated.** Scalar expressions are :mod:`modspec.theory.exprtree`
  trees; a matrix expression is a tree of ``["MatAdd", …]``, ``["MatMul", …]``,
  ``["T", x]`` (transpose), ``["S", scalar tree]`` and ``["M", name]``, where ``name`` must
  be one of the network's own edge or statistic symbols (looked up, never built from the
  entry). An entry that fails any check — unknown tag or name, wrong shape, a symbol that is
  not the derivation's — is a miss: derived again and overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sympy as sp

from . import cache
from .exprtree import from_tree, to_tree
from .gated import GatedNetwork

__all__ = ["CACHE_SCHEMA", "network_key", "matrix_to_tree", "matrix_from_tree",
           "cached_rhs", "cached_exprs"]

#: Bump when the stored form of a gated derivation changes.
CACHE_SCHEMA = 1


def network_key(network: GatedNetwork) -> dict[str, Any]:
    """The network's whole declaration as plain JSON (gate values as exact strings)."""
    return {"name": network.name,
            "layers": [[x.name, x.size] for x in network.layers],
            "edges": [[e.name, e.source, e.target] for e in network.edges],
            "gates": [[g.target, g.by, [str(v) for v in g.values]] for g in network.gates],
            "contexts": list(network.contexts), "items": network.items}


def matrix_to_tree(expr: sp.Basic) -> Any:
    """The JSON tree of a matrix expression of the derived flow (see the module docstring);
    :class:`TypeError` for a node it does not cover (then nothing is stored)."""
    if isinstance(expr, sp.MatrixSymbol):
        return ["M", str(expr.name)]
    if isinstance(expr, sp.Transpose):
        return ["T", matrix_to_tree(expr.arg)]
    if isinstance(expr, (sp.MatAdd, sp.MatMul)):
        return [type(expr).__name__, *(matrix_to_tree(a) for a in expr.args)]
    if isinstance(expr, sp.Expr) and not getattr(expr, "is_Matrix", False):
        return ["S", to_tree(expr)]
    raise TypeError(f"cannot store {type(expr).__name__} in a gated flow entry")


def matrix_from_tree(tree: Any, symbols: Mapping[str, sp.MatrixSymbol]) -> sp.Basic:
    """Rebuild a matrix expression; every ``["M", name]`` must name one of ``symbols``.
    :class:`ValueError` for anything else."""
    if not isinstance(tree, list) or not tree or not isinstance(tree[0], str):
        raise ValueError("not a matrix expression node")
    tag, rest = tree[0], tree[1:]
    if tag == "M":
        if len(rest) != 1 or not isinstance(rest[0], str) or rest[0] not in symbols:
            raise ValueError("unknown matrix symbol")
        return symbols[rest[0]]
    if tag == "T" and len(rest) == 1:
        return sp.Transpose(matrix_from_tree(rest[0], symbols))
    if tag == "S" and len(rest) == 1:
        return from_tree(rest[0])
    if tag in ("MatAdd", "MatMul") and rest:
        args = [matrix_from_tree(a, symbols) for a in rest]
        try:
            return (sp.MatAdd if tag == "MatAdd" else sp.MatMul)(*args)
        except (TypeError, ValueError, sp.ShapeError) as exc:
            raise ValueError(f"cannot build {tag}: {exc}") from exc
    raise ValueError(f"not a matrix expression node: {tag}")


def cached_rhs(network: GatedNetwork, symbols: Mapping[str, sp.MatrixSymbol],
               compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``τ dW_e/dt`` of every edge through the disk cache: a stored entry is used only when
    every edge is present, rebuilt from the network's own ``symbols`` with the edge's shape;
    otherwise ``compute()`` and store."""
    key = {"gated": "flow", "schema": CACHE_SCHEMA, "network": network_key(network)}
    stored = cache.load(key)
    edges = {e.name: e for e in network.edges}
    if isinstance(stored, dict) and set(stored) == set(edges):
        try:
            out = {}
            for name, tree in stored.items():
                W = symbols[name]
                out[name] = (sp.ZeroMatrix(*W.shape) if tree == ["Z"]
                             else matrix_from_tree(tree, symbols))
                if out[name].shape != W.shape:
                    raise ValueError("wrong shape")
            return out
        except (ValueError, RecursionError, TypeError):
            pass
    rhs = compute()
    try:
        cache.store(key, {e: ["Z"] if isinstance(r, sp.ZeroMatrix) else matrix_to_tree(r)
                          for e, r in rhs.items()})
    except TypeError:
        pass
    return rhs


def cached_exprs(key: Any, compute: Callable[[], list[sp.Expr]], allowed: set[sp.Symbol]
                 ) -> list[sp.Expr]:
    """A list of scalar expressions through the disk cache (stored as one ``Tuple``); an
    entry is used only when every symbol it holds is in ``allowed``."""
    def valid(t: Any) -> bool:
        return isinstance(t, sp.Tuple) and t.free_symbols <= allowed

    full = {"gated": "exprs", "schema": CACHE_SCHEMA, "key": key}
    return list(cache.cached_expr(full, lambda: sp.Tuple(*compute()), valid))
