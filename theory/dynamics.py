"""Mode dynamics: the scalar gradient-flow ODE of one mode and its closed-form solution.

theory.md §4.2. For balanced, aligned, small initial weights, a module of depth L whose map is
``W = U diag(a) Vᵀ`` learns each mode independently:

    τ da/dt = L · a^(2 − 2/L) · (s − λ a)        (L = 1: τ da/dt = s − λ a;
                                                  L = 2: τ da/dt = 2 a (s − λ a))

t and τ are in epochs of full-batch gradient descent, ``τ = 1 / (P · lr)``.

The ODE is separable, ``t = τ ∫_{a0}^{a} da' / f(a')``. When ``τ / f`` is rational in ``a``
(depth 1 and 2) SymPy integrates it by partial fractions and solves for ``a`` — giving, for
example, the deep sigmoid ``a0 s e^{2st/τ} / (a0 λ e^{2st/τ} − a0 λ + s)``; every solution is
checked by substitution into the ODE and the initial condition. Otherwise (L > 2) there is no
elementary closed form and the ODE is integrated numerically (:mod:`modspec.numerics`).

Fixed points are the roots of the right-hand side; stability is the sign of its derivative.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp

from . import symbols as sy
from .architectures import _check_depth

#: The mode strength as a positive symbol, used while separating variables.
_a = sp.Symbol("a", positive=True)


def mode_rhs(depth: int, a: sp.Expr = sy.a) -> sp.Expr:
    """``f(a)`` in ``τ da/dt = f(a) = L a^(2−2/L) (s − λ a)`` for depth L."""
    L = _check_depth(depth)
    return sp.Integer(L) * a ** (2 - sp.Rational(2, L)) * (sy.s - sy.lam * a)


def mode_ode(depth: int) -> sp.Eq:
    """The mode ODE ``τ da/dt = f(a)`` with ``a`` a function of ``t``."""
    a_t = sp.Function("a")(sy.t)
    return sp.Eq(sy.tau * a_t.diff(sy.t), mode_rhs(depth, a_t))


@dataclass(frozen=True)
class FixedPoint:
    """A root of the mode ODE's right-hand side and its stability for ``s, λ > 0``."""

    value: sp.Expr
    stable: bool
    slope: sp.Expr


def fixed_points(depth: int) -> tuple[FixedPoint, ...]:
    """Roots of ``f(a)`` with stability from ``f'(a)`` (stable when ``f' < 0``).

    For depth ≥ 2 the root ``a = 0`` has ``f'(0) = 0`` for L > 2 and ``2s > 0`` for L = 2:
    unstable either way (a small positive start grows). ``a = s/λ`` has ``f' < 0``: stable.
    """
    f = mode_rhs(depth, _a)
    found = [sp.simplify(r) for r in sp.solve(sp.Eq(f, 0), _a)]
    found += [sp.Integer(0)] if depth > 1 else []
    roots: list[sp.Expr] = []
    for root in found:
        if not any(sp.simplify(root - other) == 0 for other in roots):
            roots.append(root)
    roots.sort(key=sp.default_sort_key)
    out = []
    for root in roots:
        slope = sp.simplify(sp.limit(sp.diff(f, _a), _a, root, "+") if root == 0
                            else sp.diff(f, _a).subs(_a, root))
        if slope.is_negative:
            stable = True
        elif slope.is_positive:
            stable = False
        else:  # zero slope at a = 0 (L > 2): f > 0 just above, so it repels
            stable = not bool(sp.simplify(f.subs(_a, sy.s / (2 * sy.lam))).is_positive)
        out.append(FixedPoint(sp.simplify(root), stable, slope))
    return tuple(out)


@functools.cache
def mode_solution(depth: int) -> sp.Expr | None:
    """Closed-form ``a(t)`` with ``a(0) = a0``, derived by separation of variables.

    Returns ``None`` when ``τ/f(a)`` is not rational in ``a`` (depth > 2: no elementary
    closed form). The result is in the canonical symbols ``t, tau, a0, s, lambda`` and has been
    verified by substitution into the ODE and at t = 0.
    """
    L = _check_depth(depth)
    integrand = sp.together(sy.tau / mode_rhs(L, _a))
    if not integrand.is_rational_function(_a):
        return None
    F = sp.integrate(sp.apart(integrand, _a), _a)
    candidates = sp.solve(sp.Eq(F - F.subs(_a, sy.a0), sy.t), _a)
    for cand in candidates:
        cand = _tidy(cand)
        if check_solution(cand, L):
            return cand
    raise RuntimeError(f"no candidate solution of the depth-{L} mode ODE passed its check")


def check_solution(expr: sp.Expr, depth: int) -> bool:
    """True when ``expr`` satisfies ``τ a' = f(a)`` identically and ``a(0) = a0``."""
    residual = sy.tau * sp.diff(expr, sy.t) - mode_rhs(depth, expr)
    return sp.simplify(residual) == 0 and sp.simplify(expr.subs(sy.t, 0) - sy.a0) == 0


def _tidy(expr: sp.Expr) -> sp.Expr:
    """Prefer the shortest of a few equivalent forms (exponentials of sums split)."""
    forms = [expr, sp.simplify(expr), sp.simplify(sp.expand_log(sp.powsimp(sp.expand(expr)),
                                                                 force=True))]
    forms += [sp.collect(sp.expand(f), sp.exp(-sy.lam * sy.t / sy.tau)) for f in forms[1:]]
    return min(forms, key=sp.count_ops)


@functools.cache
def half_rise_time(depth: int) -> sp.Expr | None:
    """Time at which ``a(t)`` reaches half its fixed point ``s/(2λ)`` (from ``a0`` below it)."""
    sol = mode_solution(depth)
    if sol is None:
        return None
    roots = sp.solve(sp.Eq(sol, sy.s / (2 * sy.lam)), sy.t)
    return sp.simplify(roots[0]) if roots else None
