"""The exact matrix gradient flow of every edge of a gated network, derived with SymPy.

docs/theory/gated.md §2. Expanding the square in the loss and averaging over samples (the
weights do not depend on the sample) writes it in the gated statistics of
:mod:`modspec.theory.gated_data`,

    ℓ = Σ_k ½ Σy(k) − Σ_p tr(W_pᵀ Σyx(p)) + ½ Σ_{j,p: t(j)=t(p)} tr(W_jᵀ W_p Σx(p, j)),

with ``Σx(p, j) = Σx(j, p)ᵀ``; pathways never active and pairs never active together
(:func:`active_pathways`, :func:`coactive_pairs`) are absent. Every edge ``W_e`` and every
statistic is a ``MatrixSymbol`` of symbolic size (``n_l`` units in layer l), and SymPy
differentiates each trace with respect to each edge. Gradient descent with learning rate lr
on the loss summed over the N samples is, per epoch, the flow

    τ dW_e/dt = −∂ℓ/∂W_e = Σ_{p ∋ e} A_pᵀ (Σyx(p) − Σ_j W_j Σx(j, p)) B_pᵀ,   τ = 1/(N·lr)

(``A_p`` the edges of p after e, ``B_p`` those before): the convention of
:mod:`modspec.theory.matrix_flow`, for any start and width.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp

from .gated import GatedNetwork
from .gated_data import GatedStatistics, Path, active_pathways, coactive_pairs, path_label
from .matrix_flow import evaluate

__all__ = ["GatedFlow", "gated_flow", "stat_name", "flow_values", "evaluate_flow",
           "scalar_image"]


def stat_name(kind: str, *paths: Path) -> str:
    """``Sigma_yx[p]`` or ``Sigma_x[j|p]`` (pathways by :func:`path_label`)."""
    return f"Sigma_{kind}[{'|'.join(path_label(p) for p in paths)}]"


@dataclass(frozen=True, eq=False)
class GatedFlow:
    """``weights[e]`` the edge symbols; ``stats[name]`` what each statistic symbol stands for
    (``("yx", (p,))`` or ``("x", (j, p))``); ``loss`` ℓ; ``rhs[e]`` the right-hand side of
    ``τ dW_e/dt``; ``pairs`` the co-active pairs."""

    network: GatedNetwork
    weights: dict[str, sp.MatrixSymbol]
    stats: dict[str, tuple[str, tuple[Path, ...]]]
    sigma_y: dict[str, sp.Symbol]
    loss: sp.Expr
    rhs: dict[str, sp.MatrixExpr]
    pairs: tuple[tuple[Path, Path], ...]


def _product(W: Mapping[str, sp.MatrixExpr], path: Sequence[Any]) -> sp.MatrixExpr:
    out = W[path[0]]
    for e in path[1:]:
        out = W[e] * out
    return out


def _term(kind: str, paths: tuple[Any, ...], W: Mapping[Any, sp.MatrixExpr],
          S: sp.MatrixExpr) -> sp.Expr:
    """``−tr(W_pᵀ Σyx(p))`` or ``c·tr(W_pᵀ W_j Σx(j, p))`` (c = ½ when j = p: the ordered
    pairs (j, p) and (p, j) of the double sum give the same trace)."""
    if kind == "yx":
        return -sp.Trace(_product(W, paths[0]).T * S)
    j, p = paths
    half = sp.Rational(1, 2) if j == p else 1
    return half * sp.Trace(_product(W, p).T * _product(W, j) * S)


def _derivative(network: GatedNetwork, kind: str, paths: tuple[Path, ...], e: str,
                W: Mapping[str, sp.MatrixSymbol], n: Mapping[str, sp.Symbol],
                S: sp.MatrixSymbol) -> sp.MatrixExpr:
    """``∂ term/∂W_e``: SymPy differentiates the term's *shape* once — its pathways with layers
    and edges renumbered in order of appearance (:func:`_shape_derivative`) — and the names
    are put back. Terms of one shape (every trained pair of a routing network) share it."""
    layers: dict[str, int] = {}
    edges: dict[str, int] = {}
    shape = []
    for path in paths:
        ids = []
        for name in network.path_layers(path):
            ids.append(layers.setdefault(name, len(layers)))
        shape.append((tuple(ids), tuple(edges.setdefault(x, len(edges)) for x in path)))
    tmpl, E, D, S0 = _shape_derivative(kind, tuple(shape), edges[e])
    subs: dict[Any, Any] = {E[k]: W[x] for x, k in edges.items()}
    subs.update({D[k]: n[x] for x, k in layers.items()})
    subs[S0] = S
    return tmpl.xreplace(subs)


@lru_cache(maxsize=256)
def _shape_derivative(kind: str, shape: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...],
                      edge: int) -> tuple[sp.MatrixExpr, list, list, sp.MatrixSymbol]:
    """The derivative of a term of this shape with respect to edge number ``edge``, in
    placeholder edges ``E_k`` and sizes ``D_k``."""
    count = 1 + max(i for ids, _ in shape for i in ids)
    D = [sp.Symbol(f"D_{k}", positive=True, integer=True) for k in range(count)]
    ends: dict[int, tuple[int, int]] = {}
    for ids, es in shape:
        for a, k in enumerate(es):
            ends[k] = (ids[a], ids[a + 1])
    E = [sp.MatrixSymbol(f"E_{k}", D[ends[k][1]], D[ends[k][0]]) for k in range(len(ends))]
    paths = tuple(tuple(es) for _, es in shape)
    if kind == "yx":
        ids = shape[0][0]
        S0 = sp.MatrixSymbol("S_0", D[ids[-1]], D[ids[0]])
    else:
        S0 = sp.MatrixSymbol("S_0", D[shape[0][0][0]], D[shape[1][0][0]])
    return _term(kind, paths, dict(enumerate(E)), S0).diff(E[edge]), E, D, S0


def gated_flow(network: GatedNetwork) -> GatedFlow:
    """Derive ℓ and ``τ dW_e/dt`` for every edge (see the module docstring). Kept in memory
    for the last few networks (SymPy results are immutable) and on disk
    (:mod:`modspec.theory.gated_cache`)."""
    return _derive(network)


@lru_cache(maxsize=8)
def _derive(network: GatedNetwork) -> GatedFlow:
    n = {x.name: sp.Symbol(f"n_{x.name}", positive=True, integer=True) for x in network.layers}
    W = {e.name: sp.MatrixSymbol(e.name, n[e.target], n[e.source]) for e in network.edges}
    stats: dict[str, tuple[str, tuple[Path, ...]]] = {}
    S: dict[tuple[Path, ...], sp.MatrixSymbol] = {}
    items = network.items or 1
    active = active_pathways(network, items)
    for p in active:
        name = stat_name("yx", p)
        stats[name] = ("yx", (p,))
        S[("yx", p)] = sp.MatrixSymbol(name, n[network.target(p)], n[network.source(p)])
    pairs = coactive_pairs(network, items)
    for j, p in pairs:
        name = stat_name("x", j, p)
        stats[name] = ("x", (j, p))
        S[("x", j, p)] = sp.MatrixSymbol(name, n[network.source(j)], n[network.source(p)])
    sigma_y = {k: sp.Symbol(f"Sigma_y[{k}]") for k in network.output_layers}

    terms: list[tuple[str, tuple[Path, ...], sp.Expr]] = []
    for p in active:
        terms.append(("yx", (p,), _term("yx", (p,), W, S[("yx", p)])))
    for j, p in pairs:
        terms.append(("x", (j, p), _term("x", (j, p), W, S[("x", j, p)])))
    loss = sp.Add(*[v / 2 for v in sigma_y.values()], *[t for _, _, t in terms])

    def derive_rhs() -> dict[str, sp.MatrixExpr]:
        rhs = {}
        for e, We in W.items():
            # term by term (SymPy returns 0 for the derivative of some sums of traces), each
            # derivative taken once per shape of term (:func:`_derivative`)
            parts = [_derivative(network, kind, paths, e, W, n, S[(kind, *paths)])
                     for kind, paths, t in terms if t.has(We)]
            if not parts:       # every pathway through e is gated off in every sample
                rhs[e] = sp.ZeroMatrix(*We.shape)
                continue
            grad = sp.MatAdd(*parts).doit() if len(parts) > 1 else parts[0].doit()
            rhs[e] = sp.expand(-grad)
        return rhs

    from .gated_cache import cached_rhs

    symbols = {**W, **{str(m.name): m for m in S.values()}}
    rhs = cached_rhs(network, symbols, derive_rhs)
    return GatedFlow(network, W, stats, sigma_y, loss, rhs, pairs)


def flow_values(flow: GatedFlow, stats: GatedStatistics) -> dict[str, np.ndarray]:
    """Float64 values of every statistic symbol of ``flow`` (zero for an absent pair)."""
    num = stats.numeric()
    out = {}
    for name, (kind, paths) in flow.stats.items():
        out[name] = num.yx[paths[0]] if kind == "yx" else num.x[paths]
    return out


def evaluate_flow(flow: GatedFlow, values: Mapping[str, np.ndarray],
                  weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``τ dW_e/dt`` for every edge at ``weights`` (edge name → array), with NumPy."""
    env = {**values, **weights}
    return {e: np.zeros(np.shape(weights[e])) if isinstance(r, sp.ZeroMatrix)
            else np.asarray(evaluate(r, env), dtype=float) for e, r in flow.rhs.items()}


def scalar_image(expr: sp.Basic, scalars: Mapping[str, sp.Expr]) -> sp.Expr:
    """The matrix expression with every ``MatrixSymbol`` replaced by a scalar (``scalars`` by
    name) and transposes dropped: its value on one aligned mode, where every matrix is
    ``c · u vᵀ`` with unit vectors shared by adjacent factors (docs/theory/gated.md §3)."""
    if isinstance(expr, sp.MatrixSymbol):
        return scalars[expr.name]
    if isinstance(expr, sp.ZeroMatrix):
        return sp.Integer(0)
    if isinstance(expr, sp.Transpose):
        return scalar_image(expr.arg, scalars)
    if isinstance(expr, sp.MatAdd):
        return sp.Add(*[scalar_image(a, scalars) for a in expr.args])
    if isinstance(expr, sp.MatMul):
        return sp.Mul(*[scalar_image(a, scalars) if getattr(a, "is_Matrix", False) else a
                        for a in expr.args])
    if isinstance(expr, sp.Trace):
        return scalar_image(expr.arg, scalars)
    if isinstance(expr, (sp.Add, sp.Mul)):
        return expr.func(*[scalar_image(a, scalars) for a in expr.args])
    if isinstance(expr, sp.Expr) and not getattr(expr, "is_Matrix", False):
        return expr.xreplace({s: scalars.get(s.name, s) for s in expr.free_symbols})
    raise TypeError(f"cannot reduce {type(expr).__name__}: {expr}")
