"""Matrix gradient flow of every module, derived from the loss with SymPy matrix calculus.

docs/theory/learning-dynamics.md §1. Module m of depth L maps its input stack ``X_m`` (its input
blocks' rows of ``X``, in the module's order) through ``W_{m,L} ⋯ W_{m,1}``. The network's output on
block o is the sum of the contributions of the modules that write o, and

    L = ½ Σ_o tr(E_oᵀ E_o),     E_o = Y_o − Σ_{m writes o} W_{m,L}^{(o)} W_{m,L−1} ⋯ W_{m,1} X_m

(``W_{m,L}^{(o)}`` are the rows of the last layer that write block o). SymPy differentiates
``Trace(E.T*E)/2`` with respect to each ``MatrixSymbol`` and gradient descent with step lr on
this loss is, per epoch, the flow

    τ dW/dt = −(1/P) ∂L/∂W,        τ = 1/(P·lr),

which we rewrite in the covariances ``Σx^{m,m'} = X_m X_{m'}ᵀ/P`` and
``Σyx^{o,m} = Y_o X_mᵀ/P`` by replacing every adjacent pair ``X_m X_{m'}ᵀ`` / ``Y_o X_mᵀ``.

* **Decoupled** networks (modules write disjoint output blocks): the loss is a sum of module
  losses and, with ``Y_m`` the module's output stack, e.g. for depth 2
  ``τ dW1/dt = W2ᵀ(Σyx − W2 W1 Σx)``, ``τ dW2/dt = (Σyx − W2 W1 Σx) W1ᵀ``.
* **Coupled** networks (a block written by several modules): the equations contain the
  cross-covariances ``Σx^{m,m'}`` of different modules' inputs — the exact coupled system,
  integrated numerically (no closed form is claimed).

:func:`covariance_values` gives the numeric matrices for a dataset and :func:`evaluate` evaluates a
right-hand side with NumPy (``@`` for products), so a numerical integrator can use exactly the
derived equations. :func:`shallow_converged_map` gives the exact end point of a depth-1 network
(coupled or not) from zero initialisation: the minimum-parameter-norm least-squares map.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from . import symbols as sy
from .architectures import Module, Network
from .dataset import CompositionalDataset, Dataset, block_index
from .errors import ModspecError

__all__ = ["MatrixFlow", "covariance_values", "data_pairs", "evaluate", "matrix_flow",
           "matrix_odes", "minimum_norm_map", "shallow_converged_map"]

_P = sp.Symbol("P", positive=True, integer=True)


@dataclass(frozen=True, eq=False)
class MatrixFlow:
    """The derived flow of a network.

    ``weights[module]`` lists the layer symbols ``W_{m,1} … W_{m,L}`` (for a coupled module
    writing several blocks, the last layer appears once per block, ``W_{m,L}^{(o)}``);
    ``rhs[name]`` is the right-hand side of ``τ dW/dt`` for the weight symbol of that name;
    ``odes[module]`` the equations; ``covariance_symbols[name] = (kind, left, right)`` with kind
    ``"x"`` (``X_left X_rightᵀ/P``, left/right module names) or ``"yx"`` (``Y_left X_rightᵀ/P``,
    left an output block when coupled or a module name when decoupled); ``loss`` the loss.
    """

    network: Network
    coupled: bool
    weights: dict[str, list[sp.MatrixSymbol]]
    rhs: dict[str, sp.MatrixExpr]
    odes: dict[str, list[sp.Eq]]
    covariance_symbols: dict[str, tuple[str, str, str]]
    loss: sp.Expr
    out_groups: dict[str, tuple[str, ...]]


def _tag(network: Network, name: str) -> str:
    return "" if len(network.modules) == 1 else name


def _wname(network: Network, m: Module, i: int, block: str | None = None) -> str:
    tag = _tag(network, m.name)
    base = f"W_{tag},{i}" if tag else f"W_{i}"
    return base + (f"^{block}" if block else "")


def matrix_flow(network: Network, dataset: CompositionalDataset | Dataset | None = None
                ) -> MatrixFlow:
    """Derive ``τ dW/dt`` for every layer of every module (see the module docstring).

    The result is symbolic in the shapes and independent of the data values; ``dataset`` only
    fixes the block names to check against (defaults Ox, Gx → Oy, Gy). Derived once per
    network in a process (the matrix calculus takes about a second): treat it as read-only.
    """
    if dataset is not None:
        network.check(tuple(dataset.input_blocks), tuple(dataset.output_blocks))
    return _matrix_flow(network)


@functools.cache
def _matrix_flow(network: Network) -> MatrixFlow:
    mods = network.modules
    n_in = {m.name: sp.Symbol(f"n_{m.name}", positive=True, integer=True) for m in mods}
    single = len(mods) == 1
    X = {m.name: sp.MatrixSymbol("X" if single else f"X_{m.name}", n_in[m.name], _P)
         for m in mods}
    n_blk, out_groups, group_rows = _output_groups(network)
    weights, heads = _weights(network, n_in, X, out_groups, group_rows)
    targets, traces = _loss_terms(network, n_blk, out_groups, group_rows, heads)
    loss = sp.Add(*traces)

    xnames = {sym.name: name for name, sym in X.items()}
    ynames = {sym.name: name for name, sym in targets.items()}
    cov_syms: dict[str, tuple[str, str, str]] = {}

    def cov(kind: str, left: str, right: str) -> sp.MatrixSymbol:
        if single:
            name = "Sigma_x" if kind == "x" else "Sigma_yx"
        elif left == right:
            name = f"Sigma_{kind}^{left}"
        else:
            name = f"Sigma_{kind}^{left},{right}"
        rows = n_in[left] if kind == "x" else targets[left].shape[0]
        cov_syms[name] = (kind, left, right)
        return sp.MatrixSymbol(name, rows, n_in[right])

    rhs: dict[str, sp.MatrixExpr] = {}
    odes: dict[str, list[sp.Eq]] = {}
    for m in mods:
        odes[m.name] = []
        for W in weights[m.name]:
            # term by term: SymPy 1.14 returns 0 for the derivative of a sum of traces
            grad = sp.expand(sp.MatAdd(*[tr.diff(W) for tr in traces]).doit())
            flow = _to_covariances(-grad, xnames, ynames, cov)
            rhs[W.name] = flow
            lhs = sy.tau * sp.Derivative(W, sy.t, evaluate=False)
            odes[m.name].append(sp.Eq(lhs, flow, evaluate=False))
    return MatrixFlow(network, network.coupled, weights, rhs, odes, cov_syms, loss, out_groups)


def _output_groups(network: Network) -> tuple[dict[str, sp.Symbol], dict[str, tuple[str, ...]],
                                              dict[str, sp.Expr]]:
    """The size symbol ``n_b`` of each output block, each module's output groups (one per
    block when coupled, all its blocks joined by ``+`` otherwise) and each group's rows."""
    n_blk = {}
    for m in network.modules:
        for b in m.outputs:
            n_blk[b] = sp.Symbol(f"n_{b}", positive=True, integer=True)
    if network.coupled:
        out_groups = {m.name: tuple(m.outputs) for m in network.modules}
    else:
        out_groups = {m.name: ("+".join(m.outputs),) for m in network.modules}
    group_rows = {}
    for m in network.modules:
        for g in out_groups[m.name]:
            group_rows[g] = sp.Add(*[n_blk[b] for b in g.split("+")])
    return n_blk, out_groups, group_rows


def _weights(network: Network, n_in: dict[str, sp.Symbol], X: dict[str, sp.MatrixSymbol],
             out_groups: dict[str, tuple[str, ...]], group_rows: dict[str, sp.Expr]
             ) -> tuple[dict[str, list[sp.MatrixSymbol]], dict[tuple[str, str], sp.MatrixExpr]]:
    """Each module's weight matrices ``[W_1, …, W_L^(o)…]`` and its heads
    ``{(module, out group): W_L^(o) ⋯ W_1 X}``."""
    weights: dict[str, list[sp.MatrixSymbol]] = {}
    heads: dict[tuple[str, str], sp.MatrixExpr] = {}
    for m in network.modules:
        L = m.depth
        h = sp.Symbol(f"h_{m.name}", positive=True, integer=True)
        layers = []
        for i in range(1, L):
            cols = n_in[m.name] if i == 1 else h
            layers.append(sp.MatrixSymbol(_wname(network, m, i), h, cols))
        trunk = X[m.name]
        for W in layers:
            trunk = W * trunk
        groups = out_groups[m.name]
        last = []
        for g in groups:
            cols = n_in[m.name] if L == 1 else h
            block = g if (network.coupled and len(groups) > 1) else None
            Wl = sp.MatrixSymbol(_wname(network, m, L, block), group_rows[g], cols)
            last.append(Wl)
            heads[(m.name, g)] = Wl * trunk
        weights[m.name] = layers + last
    return weights, heads


def _loss_terms(network: Network, n_blk: dict[str, sp.Symbol],
                out_groups: dict[str, tuple[str, ...]], group_rows: dict[str, sp.Expr],
                heads: dict[tuple[str, str], sp.MatrixExpr]
                ) -> tuple[dict[str, sp.MatrixSymbol], list[sp.Expr]]:
    """The targets ``Y`` (per block when coupled, per module otherwise) and the loss terms
    ``tr(Eᵀ E)/2`` of each output group's error ``E = Y − Σ heads``."""
    mods = network.modules
    if network.coupled:
        targets = {b: sp.MatrixSymbol(f"Y_{b}", n_blk[b], _P) for b in n_blk}
        errors = {}
        for b, Yb in targets.items():
            pred = [heads[(m.name, b)] for m in mods if (m.name, b) in heads]
            errors[b] = Yb - sp.MatAdd(*pred)
    else:
        single = len(mods) == 1
        targets = {m.name: sp.MatrixSymbol("Y" if single else f"Y_{m.name}",
                                           group_rows[out_groups[m.name][0]], _P)
                   for m in mods}
        errors = {m.name: targets[m.name] - heads[(m.name, out_groups[m.name][0])]
                  for m in mods}
    return targets, [sp.Trace(E.T * E) / 2 for E in errors.values()]


def matrix_odes(network: Network, dataset: Any = None) -> dict[str, list[sp.Eq]]:
    """``{module name: [τ dW_1/dt = …, …]}`` (see :func:`matrix_flow`)."""
    return matrix_flow(network, dataset).odes


def data_pairs(expr: sp.MatrixExpr, pair: Callable[[str, str], sp.MatrixExpr | None]
               ) -> list[tuple[sp.Expr, list[sp.MatrixExpr], int]]:
    """Split ``expr`` into its terms and, in each, replace every adjacent ``A Bᵀ`` of matrix
    symbols for which ``pair(A.name, B.name)`` gives a replacement (e.g. ``X Xᵀ → P Σx``):
    ``[(scalar factor, matrix factors, number of pairs replaced)]`` per term."""
    terms = sp.Add.make_args(expr) if not isinstance(expr, sp.MatAdd) else expr.args
    out = []
    for term in terms:
        if term == 0 or isinstance(term, sp.ZeroMatrix):
            continue
        coeff, mats = term.as_coeff_mmul()
        args = list(mats.args) if isinstance(mats, sp.MatMul) else [mats]
        scalar = sp.Mul(coeff, *[a for a in args if not getattr(a, "is_Matrix", False)])
        args = [a for a in args if getattr(a, "is_Matrix", False)]
        new: list[sp.MatrixExpr] = []
        i = found = 0
        while i < len(args):
            a, b = args[i], args[i + 1] if i + 1 < len(args) else None
            rep = (pair(a.name, b.arg.name)
                   if isinstance(a, sp.MatrixSymbol) and isinstance(b, sp.Transpose)
                   and isinstance(b.arg, sp.MatrixSymbol) else None)
            if rep is not None:
                new.append(rep)
                i += 2
                found += 1
                continue
            new.append(a)
            i += 1
        out.append((scalar, new, found))
    return out


def _to_covariances(expr: sp.MatrixExpr, xnames: Mapping[str, str],
                    ynames: Mapping[str, str], cov: Any) -> sp.MatrixExpr:
    """Replace adjacent ``X_a X_bᵀ`` by ``P Σx^{a,b}`` and ``Y_o X_bᵀ`` by ``P Σyx^{o,b}``,
    then divide by P (every term of a gradient carries exactly one such pair)."""
    def pair(a: str, b: str) -> sp.MatrixExpr | None:
        if b not in xnames:
            return None
        if a in xnames:
            return cov("x", xnames[a], xnames[b])
        return cov("yx", ynames[a], xnames[b]) if a in ynames else None

    out = []
    for scalar, factors, found in data_pairs(expr, pair):
        if found != 1:
            raise RuntimeError(f"gradient term {scalar * sp.MatMul(*factors)} has {found} "
                               "data pairs, expected one")
        out.append(scalar * sp.MatMul(*factors))
    return sp.MatAdd(*out).doit() if len(out) > 1 else out[0]


# ----------------------------------------------------------------------- numerics
def _stack(matrix: np.ndarray, spans: Mapping[str, tuple[int, int]], blocks: Any) -> np.ndarray:
    return np.vstack([matrix[spans[b][0]:spans[b][1]] for b in blocks])


def covariance_values(flow: MatrixFlow, dataset: CompositionalDataset | Dataset
                      ) -> dict[str, np.ndarray]:
    """Numeric values of every covariance symbol of ``flow`` for ``dataset`` (float64)."""
    X = np.asarray(dataset.X, dtype=float)
    Y = np.asarray(dataset.Y, dtype=float)
    P = X.shape[1]
    mods = {m.name: m for m in flow.network.modules}
    out = {}
    for name, (kind, left, right) in flow.covariance_symbols.items():
        xr = _stack(X, dataset.input_blocks, mods[right].inputs)
        if kind == "x":
            xl = _stack(X, dataset.input_blocks, mods[left].inputs)
            out[name] = xl @ xr.T / P
        else:
            blocks = (left,) if left not in mods else mods[left].outputs
            yl = _stack(Y, dataset.output_blocks, blocks)
            out[name] = yl @ xr.T / P
    return out


def evaluate(expr: sp.MatrixExpr, env: Mapping[str, np.ndarray]) -> np.ndarray:
    """Evaluate a matrix expression with NumPy, ``env`` mapping symbol names to arrays."""
    if isinstance(expr, sp.MatrixSymbol):
        return np.asarray(env[expr.name])
    if isinstance(expr, sp.Transpose):
        return np.swapaxes(evaluate(expr.arg, env), -1, -2)     # leading axes batch
    if isinstance(expr, sp.MatAdd):
        return sum(evaluate(a, env) for a in expr.args)
    if isinstance(expr, sp.MatMul):
        coeff = 1.0
        result = None
        for a in expr.args:
            if getattr(a, "is_Matrix", False):
                val = evaluate(a, env)
                result = val if result is None else result @ val
            else:
                coeff *= float(a)
        return coeff * result
    raise TypeError(f"cannot evaluate {type(expr).__name__}: {expr}")


# ------------------------------------------------------------ shallow end point
def shallow_converged_map(dataset: CompositionalDataset | Dataset, network: Network,
                          train_objects: Any = None, exact: bool = False) -> Any:
    """End point of gradient flow from zero for a network of depth-1 modules.

    Each parameter moves only along its gradient, which lies in the row space of the data,
    so the flow converges to the least-squares map of *minimum parameter norm*
    (:func:`minimum_norm_map`). Deep coupled networks have no such characterisation: integrate
    their matrix flow (:mod:`modspec.numerics`).
    """
    if any(m.depth != 1 for m in network.modules):
        raise ModspecError("shallow_converged_map needs depth-1 modules; deep coupled networks "
                           "are integrated numerically (modspec.numerics)")
    return minimum_norm_map(dataset, network, train_objects, exact)


def minimum_norm_map(dataset: CompositionalDataset | Dataset, network: Network,
                     train_objects: Any = None, exact: bool = False) -> Any:
    """The least-squares map of minimum parameter norm, as a total map (rows ``Y``, cols ``X``).

    An entry of the total map covered by ``c`` modules (``W_eff = Σ_m W_m`` there) costs
    ``W²/c`` at the minimum, so, row by row of ``Y``, with ``D = diag(√c)`` on the covered
    columns, ``w = (y (D X_c)⁺) D``: the weighted minimum-norm solution. For a decoupled
    network this is each module's ``Y_m X_m⁺`` — the end point from small initialisation for
    any depth (the part of each first layer outside the data's span keeps its tiny initial
    value). ``train_objects`` selects the columns (objects) trained on. Float64, or a SymPy
    ``Matrix`` in exact arithmetic with ``exact=True`` (uses the small P×P Gram matrix).
    """
    network.check(tuple(dataset.input_blocks), tuple(dataset.output_blocks))
    X = np.asarray(dataset.X, dtype=float)
    Y = np.asarray(dataset.Y, dtype=float)
    if train_objects is not None:
        cols = np.asarray(list(train_objects), dtype=int)
        X, Y = X[:, cols], Y[:, cols]
    count = np.zeros((Y.shape[0], X.shape[0]))
    for m in network.modules:
        rows = block_index(dataset.output_blocks, m.outputs)
        cols = block_index(dataset.input_blocks, m.inputs)
        count[np.ix_(rows, cols)] += 1
    W = sp.zeros(*count.shape) if exact else np.zeros(count.shape)
    patterns: dict[bytes, list[int]] = {}
    for i in range(count.shape[0]):
        patterns.setdefault(count[i].tobytes(), []).append(i)
    for rows in patterns.values():
        c = count[rows[0]]
        cols = np.flatnonzero(c)
        if cols.size == 0:
            continue
        if exact:
            D = sp.diag(*[sp.sqrt(int(round(ci))) for ci in c[cols]])
            sol = _exact(Y[rows]) * _pinv(D * _exact(X[cols])) * D
            for a, r in enumerate(rows):
                for b, col in enumerate(cols):
                    W[r, int(col)] = sol[a, b]
        else:
            d = np.sqrt(c[cols])
            W[np.ix_(rows, cols)] = (Y[rows] @ np.linalg.pinv(d[:, None] * X[cols])) * d[None, :]
    return W


def _exact(a: np.ndarray) -> sp.Matrix:
    return sp.Matrix(a.tolist()).applyfunc(sp.nsimplify)


def _pinv(A: sp.Matrix) -> sp.Matrix:
    """Exact ``A⁺ = (AᵀA)⁺ Aᵀ`` through the small P×P sample Gram matrix ``AᵀA``."""
    G = A.T * A
    Gp = G.inv() if G.det() != 0 else G.pinv()
    return Gp * A.T
