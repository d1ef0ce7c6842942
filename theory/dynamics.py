"""Mode dynamics: the scalar gradient-flow ODE of one mode and its closed-form solution.

docs/theory/learning-dynamics.md §2–3. For balanced, aligned, small initial weights, a module of
depth L whose map is ``W = U diag(a) Vᵀ`` learns each mode independently:

    τ da/dt = L · a^(2 − 2/L) · (s − λ a)        (L = 1: τ da/dt = s − λ a;
                                                  L = 2: τ da/dt = 2 a (s − λ a))

t and τ are in epochs of full-batch gradient descent, ``τ = 1 / (P · lr)``.

The ODE is separable, ``t = τ ∫_{a0}^{a} da' / f(a')``. When ``τ / f`` is rational in ``a``
(depth 1 and 2) SymPy integrates it by partial fractions and solves for ``a`` — giving, for
example, the deep sigmoid ``a0 s e^{2st/τ} / (a0 λ e^{2st/τ} − a0 λ + s)``; every solution is
checked by substitution into the ODE and the initial condition.

For L > 2 ``a(t)`` is not elementary, but ``t(a)`` is (:func:`mode_time`). With the per-layer
strength scaled to its fixed point, ``a = (s/λ) w^L``, the integrand becomes rational in ``w``::

    t(a) = (τ/s) (s/λ)^((2−L)/L) · [G_L(w) − G_L(w0)],   G_L(w) = ∫ dw / (w^(L−1) (1 − w^L))

and SymPy integrates ``G_L`` by partial fractions into logarithms and arctangents (depth 3:
``G_3 = −1/w − ln|1 − w|/3 + ln(w² + w + 1)/6 − atan((2w + 1)/√3)/√3``). The implicit solution
is checked by differentiation, and :mod:`modspec.numerics` inverts it to predict ``a(t)``.
It gives the half-rise time of every depth in closed form; from a small start
(``a0 → 0``) it is ``τ/(2s) · ln(s/(λ a0))`` for L = 2 and ``τ / ((L − 2) s a0^((L−2)/L))``
for L > 2 — set by ``s`` alone (:func:`half_rise_leading`).

Fixed points are the roots of the right-hand side; stability is the sign of its derivative.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from . import symbols as sy
from .architectures import check_depth
from .names import checked_lambdify

__all__ = ["FixedPoint", "check_solution", "check_time", "fixed_points", "half_rise_leading",
           "half_rise_time", "mode_ode", "mode_rhs", "mode_solution", "mode_time", "reaches_half",
           "scaled_rate", "scaled_strength", "scaled_time", "solves_at_points", "time_scale",
           "w"]

#: The mode strength as a positive symbol, used while separating variables.
_a = sp.Symbol("a", positive=True)
#: The per-layer strength relative to its fixed point, ``a = (s/λ) w^L``.
w = sp.Symbol("w", positive=True)


def mode_rhs(depth: int, a: sp.Expr = sy.a) -> sp.Expr:
    """``f(a)`` in ``τ da/dt = f(a) = L a^(2−2/L) (s − λ a)`` for depth L.

    Derived, not typed in: the aligned ansatz reduces the derived matrix flow of every layer
    to ``τ dc_l/dt = (Π_{k≠l} c_k)(s − λ Π_k c_k)`` and balanced layers ``c_l = a^{1/L}`` give
    ``f`` (:func:`modspec.theory.alignment.balanced_rhs`, docs/theory/learning-rules.md).
    """
    return _balanced(check_depth(depth)).xreplace({_a: a})


@functools.cache
def _balanced(L: int) -> sp.Expr:
    """The derived balanced right-hand side in the positive symbol ``_a``, through the disk
    cache (the derivation takes a second at depth 6)."""
    from . import cache as disk

    def derive() -> sp.Expr:
        from .alignment import balanced_rhs

        f = balanced_rhs(L)
        return sp.factor_terms(f.xreplace({s: _a for s in f.free_symbols if s.name == "a"}))

    return disk.cached_expr({"what": "balanced_mode_rhs", "depth": L}, derive,
                            lambda e: e.free_symbols <= {_a, sy.s, sy.lam})


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
def mode_solution(depth: int, cache: bool = True) -> sp.Expr | None:
    """Closed-form ``a(t)`` with ``a(0) = a0``, derived by separation of variables.

    Returns ``None`` when ``τ/f(a)`` is not rational in ``a`` (depth > 2: no elementary
    ``a(t)``; see :func:`mode_time` for the implicit solution). The result is in the
    canonical symbols ``t, tau, a0, s, lambda`` and has been verified by substitution into
    the ODE and at t = 0. Deriving it takes seconds, so it goes through the disk cache of
    :mod:`modspec.theory.cache` (``cache=False`` skips it); a stored expression (checksummed
    by the cache) is accepted only if it solves the ODE at sample points
    (:func:`solves_at_points`, milliseconds, where the symbolic check takes most of a second).
    """
    L = check_depth(depth)
    integrand = sp.together(sy.tau / mode_rhs(L, _a))
    if not integrand.is_rational_function(_a):
        return None
    from . import cache as disk

    return disk.cached_expr({"what": "mode_solution", "depth": L},
                            lambda: _separate(integrand, L),
                            lambda e: solves_at_points(e, L), use_cache=cache)


def _separate(integrand: sp.Expr, L: int) -> sp.Expr:
    """Integrate ``τ/f`` by partial fractions and solve ``t(a) = t`` for ``a``.

    ``t(a)`` is a sum of logarithms; :func:`_exponentiate` turns ``t(a) = t`` into a
    polynomial equation in ``a`` (fast), and ``sympy.solve`` on the transcendental equation is
    the fallback. Every candidate is checked by substitution into the ODE."""
    F = sp.integrate(sp.apart(integrand, _a), _a)
    for candidates in (lambda: _exponentiate(F - F.subs(_a, sy.a0)),
                       lambda: sp.solve(sp.Eq(F - F.subs(_a, sy.a0), sy.t), _a)):
        for cand in candidates():
            cand = _tidy(cand)
            if check_solution(cand, L):
                return cand
    raise RuntimeError(f"no candidate solution of the depth-{L} mode ODE passed its check")


def _exponentiate(T: sp.Expr) -> list[sp.Expr]:
    """Roots in ``a`` of ``T(a) = t`` when ``T = Σ c_i log g_i(a) + rest`` with rational ratios
    ``c_i/c_0``: with ``q`` the common denominator, ``Π g_i^(q c_i/c_0) = e^(q (t − rest)/c_0)``
    is rational in ``a``, and its numerator a polynomial that ``sympy.solve`` factors quickly.
    An empty list when ``T`` has another shape (the caller falls back)."""
    logs, rest = [], []
    for term in sp.Add.make_args(sp.expand(sp.expand_log(T, force=True))):
        coeff, dep = term.as_independent(_a, as_Add=False)
        if dep == 1:
            rest.append(term)
        elif isinstance(dep, sp.log):
            logs.append((coeff, dep.args[0]))
        else:
            return []
    if not logs:
        return []
    c0 = logs[0][0]
    ratios = [sp.simplify(c / c0) for c, _ in logs]
    if not all(r.is_Rational for r in ratios):
        return []
    q = sp.ilcm(1, *[r.q for r in ratios])
    lhs = sp.Mul(*[g ** (q * r) for r, (_, g) in zip(ratios, logs, strict=True)])
    rhs = sp.exp(sp.expand(q * (sy.t - sp.Add(*rest)) / c0))
    rhs = sp.powsimp(sp.expand_power_exp(sp.expand_log(rhs, force=True)))
    numerator, _ = sp.fraction(sp.together(lhs - rhs))
    return list(sp.solve(numerator, _a))


def check_solution(expr: sp.Expr, depth: int) -> bool:
    """True when ``expr`` satisfies ``τ a' = f(a)`` identically and ``a(0) = a0``."""
    residual = sy.tau * sp.diff(expr, sy.t) - mode_rhs(depth, expr)
    return sp.simplify(residual) == 0 and sp.simplify(expr.subs(sy.t, 0) - sy.a0) == 0


def solves_at_points(expr: sp.Expr, depth: int) -> bool:
    """True when ``expr`` satisfies ``τ a' = f(a)`` (relative 1e-9) and ``a(0) = a0`` at a few
    sample points of ``(t, τ, a0, s, λ)``: the cheap check of a stored solution."""
    args = (sy.t, sy.tau, sy.a0, sy.s, sy.lam)

    def check() -> bool:
        lhs, f, a = (checked_lambdify(args, e, "math")
                     for e in (sy.tau * sp.diff(expr, sy.t), mode_rhs(depth, expr), expr))
        return all(abs(lhs(*p) - f(*p)) <= 1e-9 * abs(f(*p)) + 1e-15
                   and abs(a(0.0, *p[1:]) - p[2]) <= 1e-12 * p[2]
                   for p in ((3.0, 25.0, 1e-3, 1.2, 1.4), (40.0, 6.25, 0.3, 0.4, 1.4),
                             (0.7, 2.0, 0.9, 0.2, 0.375)))

    return _holds(expr, args, check)


def _holds(expr: sp.Expr, args: tuple[sp.Symbol, ...], check: Callable[[], bool]) -> bool:
    """``check()`` (numbers at sample points) when the symbols of ``expr`` are among ``args``;
    False when they are not or the numbers cannot be computed."""
    if not expr.free_symbols <= set(args):
        return False
    try:
        return bool(check())
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return False


def _tidy(expr: sp.Expr) -> sp.Expr:
    """Prefer the shortest of a few equivalent forms (exponentials of sums split)."""
    forms = [expr, sp.simplify(expr), sp.simplify(sp.expand_log(sp.powsimp(sp.expand(expr)),
                                                                 force=True))]
    forms += [sp.collect(sp.expand(f), sp.exp(-sy.lam * sy.t / sy.tau)) for f in forms[1:]]
    return min(forms, key=sp.count_ops)


@functools.cache
def scaled_time(depth: int, cache: bool = True) -> sp.Expr:
    """``G_L(w) = ∫ dw / (w^(L−1) (1 − w^L))``, real for ``w > 0, w ≠ 1``, in the symbol
    :data:`w`.

    SymPy's antiderivative of the rational integrand may contain ``log(x)`` with ``x < 0`` on
    ``0 < w < 1``; it is replaced by ``log|x|``, which has the same derivative, so one real
    expression serves starts below (``w0 < 1``) and above (``w0 > 1``) the fixed point. A
    derived antiderivative is checked by symbolic differentiation; one read from the disk
    cache (:mod:`modspec.theory.cache`; deriving it takes seconds at depth 5) is checked by
    comparing its derivative with the integrand at points on both sides of ``w = 1``.
    """
    L = check_depth(depth)
    integrand = scaled_rate(L)
    from . import cache as disk

    def derive() -> sp.Expr:
        G = sp.integrate(sp.apart(integrand, w), w)
        if G.has(sp.Integral) or sp.simplify(sp.diff(G, w) - integrand) != 0:
            raise RuntimeError(f"no elementary antiderivative found for depth {L}")
        return G.replace(sp.log, lambda x: sp.log(sp.Abs(x)))

    return disk.cached_expr({"what": "scaled_time", "depth": L}, derive,
                            lambda G: _derivative_matches(G, integrand), use_cache=cache)


def _derivative_matches(G: sp.Expr, integrand: sp.Expr) -> bool:
    """``dG/dw`` equals ``integrand`` to 1e-12 (relative) at points in (0, 1) and (1, 3)."""
    try:
        dG, f = (checked_lambdify((w,), e, "math") for e in (sp.diff(G, w), integrand))
        return all(abs(dG(x) - f(x)) <= 1e-12 * abs(f(x)) for x in (0.1, 0.37, 0.8, 1.3, 2.6))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return False


def scaled_rate(depth: int) -> sp.Expr:
    """``dG_L/dw = 1 / (w^(L−1) (1 − w^L))`` — the integrand of :func:`scaled_time`."""
    L = check_depth(depth)
    return 1 / (w ** (L - 1) * (1 - w ** L))


def time_scale(depth: int) -> sp.Expr:
    """``(τ/s) (s/λ)^((2−L)/L)``: the factor turning ``G_L`` differences into epochs."""
    L = check_depth(depth)
    return sy.tau / sy.s * (sy.s / sy.lam) ** sp.Rational(2 - L, L)


def scaled_strength(depth: int, a: sp.Expr) -> sp.Expr:
    """``w = (λ a / s)^(1/L)``: the per-layer strength relative to its fixed point."""
    L = check_depth(depth)
    return (sy.lam * a / sy.s) ** sp.Rational(1, L)


@functools.cache
def mode_time(depth: int) -> sp.Expr:
    """Implicit solution ``t(a)`` (epochs) of ``τ da/dt = f(a)`` with ``a(0) = a0``, any depth.

    ``t = (τ/s) (s/λ)^((2−L)/L) [G_L(w) − G_L(w0)]`` with ``w = (λ a/s)^(1/L)`` (module
    docstring), in the symbols ``a, a0, tau, s, lambda``; valid while ``a`` lies between
    ``a0`` and the fixed point ``s/λ``. Checked by :func:`check_time`.
    """
    L = check_depth(depth)
    G = scaled_time(L)
    expr = time_scale(L) * (G.subs(w, scaled_strength(L, _a))
                            - G.subs(w, scaled_strength(L, sy.a0)))
    expr = expr.xreplace({_a: sy.a})
    if not check_time(expr, L):
        raise RuntimeError(f"the depth-{L} implicit solution failed its check")
    return expr


def check_time(expr: sp.Expr, depth: int) -> bool:
    """True when ``dt/da = τ / f(a)`` identically and ``t(a0) = 0``.

    The derivative is compared in the scaled variable (``a = (s/λ) w^L``, a bijection of
    ``w > 0``): ``dt/dw = τ/f(a(w)) · da/dw``, where the fractional powers cancel. ``log|x|``
    and ``log x`` have the same derivative, so the absolute values are dropped first (one
    branch, no piecewise derivative).
    """
    L = check_depth(depth)
    a_w = sy.s / sy.lam * w ** L
    e = expr.replace(sp.Abs, lambda x: x).subs(sy.a, a_w)
    residual = sp.diff(e, w) - sy.tau / mode_rhs(L, a_w) * sp.diff(a_w, w)
    return (sp.simplify(residual) == 0
            and sp.simplify(expr.subs(sy.a, sy.a0)) == 0)


@functools.cache
def half_rise_time(depth: int) -> sp.Expr:
    """Time at which ``a(t)`` reaches half its fixed point ``s/(2λ)`` (from ``a0`` below it).

    From the closed form for L ≤ 2 (through the disk cache: a stored time is accepted when
    :func:`reaches_half` holds); from the implicit solution :func:`mode_time` (an explicit
    expression in ``a0``) for deeper modes.
    """
    sol = mode_solution(depth)
    L = check_depth(depth)
    if sol is not None:
        from . import cache as disk

        found = disk.cached_expr({"what": "half_rise_time", "depth": L},
                                 lambda: _half_rise_closed(sol),
                                 lambda e: reaches_half(e, sol))
        if found is not None:
            return found
    G = scaled_time(L)
    return time_scale(L) * (sp.nsimplify(G.subs(w, sp.Rational(1, 2) ** sp.Rational(1, L)))
                            - G.subs(w, scaled_strength(L, sy.a0)))


def _half_rise_closed(sol: sp.Expr) -> sp.Expr | None:
    """``t`` with ``a(t) = s/(2λ)`` solved from the closed form ``sol``, or None."""
    roots = sp.solve(sp.Eq(sol, sy.s / (2 * sy.lam)), sy.t)
    return sp.simplify(roots[0]) if roots else None


def reaches_half(expr: sp.Expr, sol: sp.Expr) -> bool:
    """True when the closed form ``sol`` is ``s/(2λ)`` (relative 1e-9) at ``t = expr`` at a
    few sample points of ``(τ, a0, s, λ)`` with ``a0 < s/(2λ)``: the cheap check of a stored
    half-rise time."""
    args = (sy.tau, sy.a0, sy.s, sy.lam)

    def check() -> bool:
        t_half = checked_lambdify(args, expr, "math")
        a = checked_lambdify((sy.t, *args), sol, "math")
        return all(abs(a(t_half(*p), *p) - p[2] / (2 * p[3])) <= 1e-9 * p[2] / (2 * p[3])
                   for p in ((25.0, 1e-3, 1.2, 1.4), (6.25, 0.1, 0.4, 0.2),
                             (2.0, 0.05, 0.2, 0.375)))

    return _holds(expr, args, check)


@functools.cache
def half_rise_leading(depth: int) -> sp.Expr:
    """Leading behaviour of :func:`half_rise_time` for a small start (``a0 → 0``), derived:
    ``τ ln(2)/λ`` (L = 1), ``τ/(2s) ln(s/(λ a0))`` (L = 2), ``τ/((L−2) s a0^((L−2)/L))``
    (L > 2). The limit of the ratio to this form is checked to be 1."""
    L = check_depth(depth)
    exact = half_rise_time(L)
    if L == 1:
        lead = sp.limit(exact, sy.a0, 0)
    elif L == 2:   # c ln a0 + C: the coefficient of the log, then the constant
        c = sp.limit(exact / sp.log(sy.a0), sy.a0, 0)
        C = sp.limit(sp.expand_log(exact - c * sp.log(sy.a0), force=True), sy.a0, 0)
        lead = sp.factor_terms(sp.expand_log(c * sp.log(sy.a0) + C, force=True))
        lead = lead.replace(lambda e: e.is_Add and e.has(sp.log),
                            lambda e: sp.logcombine(e, force=True))
    else:
        p = sp.Rational(L - 2, L)
        lead = sp.limit(exact * sy.a0 ** p, sy.a0, 0) / sy.a0 ** p
    if sp.limit(exact / lead, sy.a0, 0) != 1:
        raise RuntimeError(f"depth {L}: the small-start form is not the leading term")
    return lead if L == 2 else sp.simplify(lead)
