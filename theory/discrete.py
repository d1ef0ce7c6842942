"""Discrete-time mode dynamics: one epoch of gradient descent as an exact map of a mode.

The closed forms of :mod:`modspec.theory.dynamics` solve the gradient *flow*
``τ da/dt = f(a)``. Gradient descent takes finite steps: one epoch is one update of
docs/theory/learning-dynamics.md §1 with step ``1/τ`` (``τ = 1/(P·lr)``, P = number of samples). For
a balanced, aligned mode that update is an exact scalar map, derived here with SymPy.

Derivation (what :func:`layer_updates`, :func:`layer_map` and :func:`mode_map` compute)
------------------------------------------------------------------------------------------

1. *Covariance-form loss.* Full-batch GD with step η on ``½ Σ_samples ‖y − W x‖²`` (W the
   product ``W_L ⋯ W_1``) is ``W_i ← W_i − η P ∂E/∂W_i`` with the per-sample loss

       E = ½ tr(W Σx Wᵀ) − tr(Wᵀ Σyx) + const,      so   W_i ← W_i − (1/τ) ∂E/∂W_i.

2. *Aligned basis.* Write ``Σyx = U S Vᵀ``, ``Σx = V Λ Vᵀ`` (shared right singular vectors,
   docs/theory/spectrum.md) and ``W_i = R_i D_i R_{i−1}ᵀ`` with orthonormal ``R_0 = V``, ``R_L = U``
   and hidden bases ``R_i``. E is invariant under these rotations and the gradient is
   covariant, so the update may be computed on ``D_i`` with ``Σx = diag(λ, μ)``,
   ``Σyx = diag(s, σ)``: the mode of interest and one spectator mode. :func:`layer_updates`
   differentiates E entry by entry with SymPy on 2×2 layers of free symbols, then puts the
   layers in aligned form ``D_i = diag(c_i, d_i)``. Result: the off-diagonal updates vanish
   (alignment is preserved), the mode's entry does not involve the spectator (modes decouple)
   and

       c_i ← c_i + (1/τ) Π_{j≠i} c_j · (s − λ Π_j c_j),

   which is also ``c_i − (1/τ) ∂/∂c_i [½ λ (Π c)² − s Π c]`` (the scalar restricted loss,
   :func:`restricted_loss`; checked).

3. *Balanced mode.* With every ``c_i = c`` all layers receive the same update, so balance is
   preserved and one epoch is the **layer map**

       h(c) = c + (1/τ) c^{L−1} (s − λ c^L),

   and, with ``a = c^L`` (the mode strength ``uᵀ W v``), the **mode map**

       g(a) = h(a^{1/L})^L = a (1 + a^{1−2/L} (s − λ a)/τ)^L.

   L = 1: ``g(a) = a + (s − λ a)/τ``; L = 2: ``g(a) = a (1 + (s − λ a)/τ)²``.
   It is the forward-Euler step of the *layer* flow, not of the mode flow: as τ → ∞,
   ``τ (g(a) − a) → L a^{2−2/L} (s − λ a)``, the right-hand side of the mode ODE
   (:func:`flow_limit`), but at finite τ the mode lags the flow.

Fixed points and stability as a map
-----------------------------------

Fixed points of g are the images ``a = c^L`` of the roots of ``h(c) = c``: ``a = 0``
(L ≥ 2) and ``a* = s/λ`` (the same as the flow's). A fixed point is stable when
``|g'(a*)| < 1``. With ``g'(s/λ) = 1 − L λ (s/λ)^{2−2/L}/τ`` (derived, :func:`fixed_points`)
this is a lower bound on τ, an upper bound on the learning rate (:func:`stability_limit`):
for L = 1 ``lr < 2/(P λ)``, for L = 2 ``lr < 1/(P s)``. Above it the fixed point loses
stability (a period-doubling for L ≥ 2: the iteration settles on a cycle around ``a*`` or
diverges; for L = 1 it diverges). For L ≥ 2, ``g'(a*) ≥ 0`` (monotone approach, no overshoot)
holds for τ at least twice the limit. For even L, ``h(c) = −c`` adds points where the layers
flip sign every epoch while ``a`` stays fixed (L = 2: ``a = (s + 2τ)/λ``); they lie beyond
the fixed point and are not reached from a small start below the limit.

Closed forms
------------

L = 1: g is linear and ``sympy.rsolve`` gives ``a_n = s/λ + (a0 − s/λ)(1 − λ/τ)^n``
(:func:`discrete_solution`). Its limit τ → ∞ at fixed ``t/τ`` with ``n = t`` epochs is the
continuous closed form ``s/λ + (a0 − s/λ) e^{−λ t/τ}`` (:func:`continuous_limit`).
L ≥ 2: g is a polynomial map of degree ≥ 3 in c (L = 2: the cubic
``c ← c (1 + (s − λ c²)/τ)``); such recursions have no closed form in general (rsolve handles
linear recursions only): the map is iterated numerically (:mod:`modspec.numerics.discrete`).

Time ``n`` counts epochs of full-batch gradient descent; ``τ = 1/(P·lr)``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp

from . import dynamics
from . import symbols as sy
from .architectures import check_depth

__all__ = ["MapFixedPoint", "StabilityLimit", "c", "continuous_limit", "discrete_solution",
           "fixed_points", "flow_limit", "lag_order", "layer_map", "layer_updates", "mode_map", "n",
           "restricted_loss", "stability_limit"]

#: Epoch counter of the discrete dynamics (an integer ≥ 0).
n = sp.Symbol("n", integer=True, nonnegative=True)
# Positive symbols: ``c`` the strength of one layer along a balanced, aligned mode
# (``a = c^L``); ``a`` the mode strength (the maps involve ``a^{1/L}``); ``P`` the number of
# samples (``τ = 1/(P·lr)``); ``u`` the ratio ``t/τ`` held fixed in the continuous limit;
# ``_mu``, ``_sigma`` a spectator mode's variance and singular value.
c, a, P, u, _mu, _sigma = sp.symbols("c a P u mu sigma", positive=True)


def restricted_loss(depth: int) -> tuple[tuple[sp.Symbol, ...], sp.Expr]:
    """Layer strengths ``(c_1, …, c_L)`` and the per-sample loss restricted to one aligned mode,
    ``E = ½ λ (Π c_i)² − s Π c_i`` (up to a constant)."""
    L = check_depth(depth)
    cs = sp.symbols(f"c1:{L + 1}", positive=True)
    prod = sp.Mul(*cs)
    return cs, sy.lam * prod**2 / 2 - sy.s * prod


@functools.cache
def layer_updates(depth: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Expr, ...]]:
    """One epoch of §4.1 on an aligned mode: ``(c_1, …, c_L)`` and their updated values.

    Derived from the matrix update ``W_i ← W_i − (1/τ) ∂E/∂W_i`` with
    ``E = ½ tr(W Σx Wᵀ) − tr(Wᵀ Σyx)``, ``W = W_L ⋯ W_1``, on 2×2 layers of free symbols in
    the aligned basis (``Σx = diag(λ, μ)``, ``Σyx = diag(s, σ)``), then evaluated at
    ``W_i = diag(c_i, d_i)``. Checks (``RuntimeError`` if one fails): off-diagonal updates
    vanish, the mode's update does not involve the spectator ``(μ, σ, d_i)``, and it equals
    the gradient step on :func:`restricted_loss`.
    """
    L = check_depth(depth)
    layers = [sp.Matrix(2, 2, sp.symbols(f"w{i}_0:2_0:2", real=True)) for i in range(1, L + 1)]
    W = sp.eye(2)
    for Wi in layers:
        W = Wi * W
    sigma_x = sp.diag(sy.lam, _mu)
    sigma_yx = sp.diag(sy.s, _sigma)
    E = ((W * sigma_x * W.T).trace() / 2 - (W.T * sigma_yx).trace()).expand()
    cs, E_mode = restricted_loss(L)
    ds = sp.symbols(f"d1:{L + 1}", positive=True)
    aligned = {}
    for Wi, ci, di in zip(layers, cs, ds, strict=True):
        aligned.update({Wi[0, 0]: ci, Wi[1, 1]: di, Wi[0, 1]: 0, Wi[1, 0]: 0})
    updates = []
    for Wi, ci in zip(layers, cs, strict=True):
        new = Wi - Wi.applyfunc(lambda w: sp.diff(E, w)) / sy.tau
        new = new.xreplace(aligned).applyfunc(sp.expand)
        if new[0, 1] != 0 or new[1, 0] != 0:
            raise RuntimeError("the aligned form is not preserved by one update")
        if new[0, 0].free_symbols & {_mu, _sigma, *ds}:
            raise RuntimeError("the mode's update involves the spectator mode")
        if sp.expand(new[0, 0] - (ci - sp.diff(E_mode, ci) / sy.tau)) != 0:
            raise RuntimeError("matrix update and restricted-loss gradient step disagree")
        updates.append(sp.factor(new[0, 0]))
    return cs, tuple(updates)


@functools.cache
def layer_map(depth: int) -> sp.Expr:
    """``h(c) = c + (1/τ) c^{L−1} (s − λ c^L)``: one epoch of a balanced mode, per layer.

    Obtained from :func:`layer_updates` with every ``c_i = c``; all layers get the same
    update (checked), so balance is preserved.
    """
    cs, updates = layer_updates(depth)
    balanced = {ci: c for ci in cs}
    h = sp.factor(updates[0].xreplace(balanced))
    if any(sp.expand(upd.xreplace(balanced) - h) != 0 for upd in updates[1:]):
        raise RuntimeError("balanced layers receive different updates")
    return h


@functools.cache
def mode_map(depth: int) -> sp.Expr:
    """``g(a) = h(a^{1/L})^L``: the mode strength after one epoch, in the positive symbol
    :data:`a` (L = 1: ``a + (s − λa)/τ``; L = 2: ``a (1 + (s − λa)/τ)²``)."""
    L = check_depth(depth)
    g = layer_map(L).xreplace({c: a ** sp.Rational(1, L)}) ** L
    return sp.factor(sp.powsimp(sp.expand_power_base(g, force=True), force=True))


@functools.cache
def flow_limit(depth: int) -> sp.Expr:
    """``lim_{τ→∞} τ (g(a) − a)``: the right-hand side of the gradient-flow mode ODE.

    Equal to :func:`modspec.theory.dynamics.mode_rhs` (``L a^{2−2/L} (s − λa)``) — the map is
    a consistent discretisation of the flow (tests check the identity).
    """
    return sp.simplify(sp.limit(sy.tau * (mode_map(depth) - a), sy.tau, sp.oo))


@dataclass(frozen=True)
class MapFixedPoint:
    """A fixed point ``a*`` of the mode map with its slope ``g'(a*)`` (an expression in
    ``s, λ, τ``) and its stability: ``True``/``False``, or the condition on τ under which
    ``|g'(a*)| < 1``."""

    value: sp.Expr
    slope: sp.Expr
    stable: sp.Basic


@functools.cache
def fixed_points(depth: int) -> tuple[MapFixedPoint, ...]:
    """Fixed points of the mode map (images ``c^L`` of the roots of ``h(c) = c``) and their
    stability as a map, ``|g'(a*)| < 1``.

    ``a = 0`` (L ≥ 2) repels: ``g'(0) = (1 + s/τ)²`` for L = 2; for L > 2 ``g'(0) = 1`` and
    ``g(a) − a ≈ a^{2−2/L} s/τ > 0`` just above it. ``a* = s/λ`` is stable exactly when
    ``τ > τ_min`` (:func:`stability_limit`).
    """
    L = check_depth(depth)
    h, g = layer_map(L), mode_map(L)
    roots = sp.solve(sp.Eq(h, c), c)
    values = sorted({sp.simplify(r**L) for r in roots}, key=sp.default_sort_key)
    values = ([sp.Integer(0)] if L > 1 else []) + [v for v in values if v != 0]
    dg = sp.diff(g, a)
    out = []
    for v in values:
        if v == 0:
            slope = sp.simplify(sp.limit(dg, a, 0, "+"))
            if (slope - 1).is_positive:
                stable: sp.Basic = sp.false
            else:  # slope 1: repels when g(a) > a just above 0
                lead = sp.limit((g - a) / a ** (2 - sp.Rational(2, L)), a, 0, "+")
                stable = sp.false if lead.is_positive else sp.true
        else:
            slope = sp.simplify(dg.subs(a, v))
            limit = _tau_min(slope)
            stable = sp.StrictGreaterThan(sy.tau, limit)
        out.append(MapFixedPoint(sp.simplify(v), slope, stable))
    return tuple(out)


def _tau_min(slope: sp.Expr) -> sp.Expr:
    """τ above which ``−1 < slope < 1``, for a slope of the form ``1 − K/τ`` (K > 0):
    checked (``slope < 1`` for all τ > 0, increasing in τ), then solved ``slope = −1``."""
    if not sp.simplify(1 - slope).is_positive:
        raise RuntimeError(f"slope {slope} is not below 1 for every τ > 0")
    if not sp.simplify(sp.diff(slope, sy.tau)).is_positive:
        raise RuntimeError(f"slope {slope} does not increase with τ")
    roots = [r for r in sp.solve(sp.Eq(slope, -1), sy.tau) if sp.simplify(r).is_positive]
    if len(roots) != 1:
        raise RuntimeError(f"expected one positive τ with slope −1, found {roots}")
    return sp.simplify(roots[0])


@dataclass(frozen=True)
class StabilityLimit:
    """Learning-rate limit of the fixed point ``a* = s/λ`` of a depth-L mode.

    ``tau_min``: the fixed point is stable as a map iff ``τ > tau_min`` (in s, λ).
    ``lr_max``: the same as ``lr < lr_max`` (in :data:`P`, s, λ), with ``τ = 1/(P·lr)``.
    ``tau_monotone``: for ``τ ≥ tau_monotone`` also ``g'(a*) ≥ 0`` (no overshoot).
    """

    tau_min: sp.Expr
    lr_max: sp.Expr
    tau_monotone: sp.Expr


@functools.cache
def stability_limit(depth: int) -> StabilityLimit:
    """Derive the stability limit from the slope ``g'(s/λ)`` of :func:`fixed_points`
    (L = 1: ``τ > λ/2``, ``lr < 2/(P λ)``; L = 2: ``τ > s``, ``lr < 1/(P s)``)."""
    fp = [f for f in fixed_points(depth) if f.value != 0]
    slope = fp[0].slope
    tau_min = _tau_min(slope)
    lr_max = sp.solve(sp.Eq(tau_min, 1 / (P * sy.lr)), sy.lr)[0]
    tau_monotone = sp.solve(sp.Eq(slope, 0), sy.tau)[0]
    return StabilityLimit(tau_min, sp.simplify(lr_max), sp.simplify(tau_monotone))


@functools.cache
def discrete_solution(depth: int) -> sp.Expr | None:
    """Closed-form ``a_n`` (n epochs) with ``a_0 = a0``, or ``None`` when there is none.

    Depth 1: the linear recursion ``a_{n+1} = g(a_n)`` solved by ``sympy.rsolve`` —
    ``s/λ + (a0 − s/λ)(1 − λ/τ)^n`` — and checked against the recursion and ``a_0``.
    Depth ≥ 2: the map is a polynomial of degree ≥ 3 in the layer strength (no closed form
    in general; rsolve solves linear recursions only): ``None``.
    """
    L = check_depth(depth)
    if L > 1:
        return None
    seq = sp.Function("a")
    g = mode_map(L)
    if not sp.Poly(g, a).is_linear:
        raise RuntimeError("the depth-1 mode map is not linear")
    recursion = seq(n + 1) - g.xreplace({a: seq(n)})
    sol = sp.rsolve(recursion, seq(n), {seq(0): sy.a0})
    if sol is None:
        raise RuntimeError("rsolve found no solution of the depth-1 mode map")
    sol = sp.powsimp(sp.expand(sol), force=True)             # a0·q^n − (s/λ)·q^n + s/λ
    powers = {q: sp.Pow(sp.expand(q.base), q.exp) for q in sol.atoms(sp.Pow) if q.exp == n}
    sol = sp.collect(sol.xreplace(powers), list(powers.values()))
    if sp.simplify(sol.subs(n, n + 1) - g.xreplace({a: sol})) != 0 \
            or sp.simplify(sol.subs(n, 0) - sy.a0) != 0:
        raise RuntimeError("the rsolve solution does not satisfy the recursion")
    return sol


@functools.cache
def continuous_limit(depth: int) -> sp.Expr | None:
    """``lim_{τ→∞} a_n`` with ``n = t`` epochs at fixed ``t/τ``, rewritten in t and τ.

    For depth 1 this is the continuous closed form ``s/λ + (a0 − s/λ) e^{−λ t/τ}``
    (:func:`modspec.theory.dynamics.mode_solution`; tests check the identity): the learning
    rate shrinks while the number of epochs grows as ``1/lr``. ``None`` without a closed form.
    """
    sol = discrete_solution(depth)
    if sol is None:
        return None
    lim = sp.limit(sol.xreplace({n: u * sy.tau}), sy.tau, sp.oo)
    return sp.simplify(lim.xreplace({u: sy.t / sy.tau}))


def lag_order(depth: int) -> sp.Expr:
    """Leading per-epoch difference between the map and the exact flow over one epoch,
    ``g(a) − a(1)`` with ``a(0) = a``, to order ``1/τ²`` (the source of the lag).

    Uses the flow's Taylor series ``a(1) = a + f/τ + f f'/(2τ²) + …`` with ``f`` the mode ODE's
    right-hand side; the map's own second-order term differs (it steps the layers, not ``a``).
    """
    L = check_depth(depth)
    f = dynamics.mode_rhs(L, a)
    x = sp.Symbol("x", positive=True)   # x = 1/τ
    g = mode_map(L).xreplace({sy.tau: 1 / x})
    flow = a + f * x + f * sp.diff(f, a) * x**2 / 2
    diff = sp.series(g - flow, x, 0, 3).removeO()
    return sp.factor(sp.simplify(diff.xreplace({x: 1 / sy.tau})))
