"""The race of pathways, mode by mode: the per-mode map, its end points and their stability.

docs/theory/gated.md §3. For a network where the basis condition holds
(:func:`modspec.theory.gated_modes.pathway_modes`), each mode α is a small polynomial system
``τ db/dt = f_α(b)`` over the strengths of the edges that carry it. Gradient descent at
learning rate lr is exactly its per-epoch map ``b ← b + f_α(b)/τ`` (``τ = 1/(N·lr)``) from an
aligned start. :func:`race` iterates it for a batch of starts; a pathway's strength on the
mode is the product of its edges' strengths, its half-rise the first epoch at which that
product reaches half its final value, and the pathway that gets there first wins the race.

:func:`end_point` finds where a start ends: a zero of ``f_α`` on the level set of the
conserved quantities through the start (Newton's method on ``f_α(b) = 0``, ``Q(b) = Q(b₀)``
from the end of the iterated map), with the eigenvalues of the flow's Jacobian there (the
conserved directions give zeros) and of the gradient-descent map ``I + J/τ``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp

from modspec.theory.exprtree import to_tree
from modspec.theory.gated_cache import cached_exprs
from modspec.theory.gated_data import path_label
from modspec.theory.gated_modes import PathwayModes, conserved_quantities

__all__ = ["ModeSystem", "mode_system", "race", "end_point", "EndPoint", "half_rise_time"]


@dataclass(frozen=True, eq=False)
class ModeSystem:
    """One mode's compiled system: ``edges`` (order of the state vector), ``f(b)``, its
    Jacobian ``jac(b)``, the conserved quantities ``conserved`` (SymPy, in ``b[e]``) and
    their values ``q(b)`` and gradients ``dq(b)``."""

    mode: int
    edges: tuple[str, ...]
    rhs: dict[str, sp.Expr]
    conserved: tuple[sp.Expr, ...]
    f: Any
    jac: Any
    q: Any
    dq: Any

    def __call__(self, b: np.ndarray) -> np.ndarray:
        return np.asarray(self.f(*b), dtype=float)


@lru_cache(maxsize=64)
def mode_system(modes: PathwayModes, mode: int) -> ModeSystem:
    """Compile mode ``mode``'s per-mode system (SymPy → NumPy; kept for the last few)."""
    rhs = modes.system(mode)
    edges = tuple(rhs)
    structure = modes.structure(mode)
    # compile in plain symbols: names such as b[in0] are not Python identifiers
    plain = [sp.Symbol(f"b{k}", real=True) for k in range(len(edges))]
    to_plain = dict(zip((modes.b[e] for e in edges), plain, strict=True))
    exprs = [rhs[e].xreplace(to_plain) for e in edges]
    n = len(edges)

    def derive() -> list[sp.Expr]:
        laws = conserved_quantities(structure, modes.b)
        qs = [q.xreplace(to_plain) for q in laws]
        J = sp.Matrix(exprs).jacobian(plain)
        dQ = [sp.diff(q, s) for q in qs for s in plain]
        return [sp.Tuple(*laws), sp.Tuple(*J), sp.Tuple(*dQ)]

    # through the disk cache, keyed by the mode's own equations (modspec.theory.gated_cache)
    key = {"mode_system": [[e, to_tree(rhs[e]), to_tree(structure[e])] for e in edges]}
    laws_t, J_t, dQ_t = cached_exprs(key, derive, {*plain, *modes.b.values()})
    laws = tuple(laws_t)
    qs = [q.xreplace(to_plain) for q in laws]
    if len(J_t) != n * n or len(dQ_t) != n * len(qs):
        laws_t, J_t, dQ_t = derive()
        laws, qs = tuple(laws_t), [q.xreplace(to_plain) for q in laws_t]
    J = sp.Matrix(n, n, list(J_t))
    dQ = sp.Matrix(len(qs), n, list(dQ_t)) if qs else sp.zeros(0, 0)
    return ModeSystem(mode, edges, rhs, laws, _compiled(plain, exprs, (n,), "f", True),
                      _compiled(plain, list(J), (n, n), "jac"),
                      _compiled(plain, qs, (len(qs),), "q"),
                      _compiled(plain, list(dQ), (len(qs), n), "dq"))


def _compiled(args: list[sp.Symbol], exprs: list[sp.Expr], shape: tuple[int, ...], name: str,
              use_cse: bool = False) -> Any:
    """``exprs`` as one NumPy function of ``args`` returning an array of ``shape``, through
    the code generator and its disk cache (:func:`modspec.numerics.codegen.generate`: every
    printed name an identifier, the source checksummed); common subexpressions only for
    the map itself, called every epoch."""
    if not exprs:
        return lambda *b: np.zeros(shape)
    from .codegen import generate

    gen = generate({f"{name}{k}": e for k, e in enumerate(exprs)}, args, use_cse=use_cse,
                   name=f"gated_{name}", description="a mode of a gated network's race "
                   "(modspec.numerics.gated_race)")
    return lambda *b: np.asarray(gen(*b), dtype=float).reshape(shape)


def race(modes: PathwayModes, start: Mapping[int, Mapping[str, float]], lr: float,
         epochs: int) -> dict[str, Any]:
    """Iterate every mode's per-epoch map from ``start[α][e]`` for ``epochs`` epochs.

    Returns ``strengths[α][e]`` (epochs + 1,), ``pathways[α][label]`` the product of the
    pathway's strengths on the mode (epochs + 1,), ``half_rise[α][label]`` (epochs, or None
    when the pathway does not rise), and ``winner[α]`` the label that rises first.
    """
    net = modes.network
    tau = 1.0 / (modes.samples * lr)
    out: dict[str, Any] = {"strengths": {}, "pathways": {}, "half_rise": {}, "winner": {}}
    for a, es in modes.edges.items():
        if not es:
            continue
        sys_a = mode_system(modes, a)
        b = np.array([float(start.get(a, {}).get(e, 0.0)) for e in sys_a.edges])
        hist = [b]
        for _ in range(epochs):
            b = b + sys_a(b) / tau
            hist.append(b)
        H = np.array(hist)
        out["strengths"][a] = {e: H[:, k] for k, e in enumerate(sys_a.edges)}
        paths, rise = {}, {}
        for p in net.pathways:
            if all(e in sys_a.edges for e in p):
                prod = np.prod([H[:, sys_a.edges.index(e)] for e in p], axis=0)
                paths[path_label(p)] = prod
                rise[path_label(p)] = half_rise_time(prod)
        out["pathways"][a] = paths
        out["half_rise"][a] = rise
        risen = {k: v for k, v in rise.items() if v is not None}
        out["winner"][a] = min(risen, key=risen.get) if risen else None
    return out


def half_rise_time(x: np.ndarray) -> float | None:
    """First epoch (linearly interpolated) at which ``x`` reaches half-way from its start to
    its end; None when it does not move."""
    a, z = x[0], x[-1]
    if abs(z - a) <= 1e-12 * max(1.0, abs(z)):
        return None
    level = (a + z) / 2
    sign = np.sign(z - a)
    k = int(np.argmax(sign * (x - level) >= 0))
    if k == 0:
        return 0.0
    x0, x1 = x[k - 1], x[k]
    return float(k - 1 + (level - x0) / (x1 - x0))


@dataclass(frozen=True, eq=False)
class EndPoint:
    """A fixed point ``b[e]``, the flow's Jacobian eigenvalues ``flow_eigs``, the
    gradient-descent map's ``map_eigs`` (at the given lr), and ``attracting`` (every flow
    eigenvalue off the conserved directions < 0 and every map eigenvalue inside the unit
    circle, up to the conserved ones at 1)."""

    b: dict[str, float]
    flow_eigs: np.ndarray
    map_eigs: np.ndarray
    attracting: bool
    residual: float


def end_point(system: ModeSystem, guess: Mapping[str, float], tau: float,
              start: Mapping[str, float] | None = None, tol: float = 1e-13) -> EndPoint:
    """A zero of the mode's system by Newton's method (least squares) from ``guess``.

    With ``start``: the zero on the level set of the conserved quantities through the start,
    where the gradient *flow* from the start ends. Without: the zero nearest ``guess`` — from
    the end of the iterated per-epoch map (:func:`race`), where *gradient descent* at that
    learning rate ends (its steps do not keep the conserved quantities exactly, so the two
    end points differ by O(lr))."""
    b = np.array([float(guess[e]) for e in system.edges])
    level = start is not None and bool(system.conserved)
    if level:
        b0 = np.array([float(start.get(e, 0.0)) for e in system.edges])
        q0 = np.asarray(system.q(*b0), dtype=float)
    for _ in range(100):
        F = system(b)
        Jf = np.asarray(system.jac(*b), dtype=float)
        if level:
            F = np.concatenate([F, np.asarray(system.q(*b), dtype=float) - q0])
            Jf = np.vstack([Jf, np.asarray(system.dq(*b), dtype=float)])
        # directions along the manifold of fixed points have (near-)zero singular values:
        # cut them, or rounding in F is amplified along the manifold
        step = np.linalg.lstsq(Jf, -F, rcond=1e-9)[0]
        b = b + step
        if np.linalg.norm(step) < tol * max(1.0, np.linalg.norm(b)):
            break
    J = np.asarray(system.jac(*b), dtype=float)
    flow = np.linalg.eigvals(J)
    gd = np.linalg.eigvals(np.eye(len(b)) + J / tau)
    k = len(system.conserved)
    order = np.argsort(np.abs(flow))
    attracting = bool(np.all(flow[order[k:]].real < 0)
                      and np.all(np.abs(gd[np.argsort(np.abs(gd - 1))[k:]]) < 1))
    return EndPoint(dict(zip(system.edges, b.tolist(), strict=True)), flow, gd, attracting,
                    float(np.linalg.norm(system(b))))
