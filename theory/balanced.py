"""Per-mode dynamics of a two-layer linear network from a λ-balanced start, derived in SymPy.

A two-layer network ``W2 W1`` on whitened inputs (Σx = I), trained by the gradient flow of
docs/theory/learning-dynamics.md §1 (``τ Ẇ1 = W2ᵀ(Σyx − W2 W1)``, ``τ Ẇ2 = (Σyx − W2 W1)W1ᵀ``),
conserves the imbalance ``W2ᵀW2 − W1W1ᵀ``. A start with ``W2ᵀW2 − W1W1ᵀ = λ I`` (λ-balanced,
any sign of λ) stays λ-balanced; λ = 0 is the balanced start of the rest of modspec, large
|λ| the lazy (kernel) regime, λ → 0 the rich one. (Here λ is the balance, not an input
variance; its symbol is :data:`ell`.)

Along an aligned mode with singular value s the layers have strengths ``b1`` (first layer) and
``b2`` (second), mode strength ``a = b1 b2``, and (what :func:`mode_ode` derives)

    τ ḃ1 = b2 (s − a),   τ ḃ2 = b1 (s − a),   b2² − b1² = λ          (conserved)

so ``τ ȧ = (b1² + b2²)(s − a)`` and, eliminating the layers with the conserved balance,

    τ ȧ = √(λ² + 4a²) (s − a),      b1² = (√(λ² + 4a²) − λ)/2,   b2² = (√(λ² + 4a²) + λ)/2.

At the fixed point a = s the layers are ``b1² = (√(λ²+4s²) − λ)/2``, ``b2² = (√(λ²+4s²) + λ)/2``
(:func:`layer_strengths`). The ODE separates: :func:`time_to_reach` integrates
``τ da/(√(λ²+4a²)(s − a))`` with the substitution ``a = (|λ|/2) sinh u``, ``w = e^u``, which
makes the integrand rational in w (SymPy's partial fractions), then returns to a through
``w = (2a + √(λ²+4a²))/|λ|``; λ = 0 is the logistic ``τ ȧ = 2a(s − a)``. Both are checked by
differentiating back (``RuntimeError`` if a check fails). :func:`half_rise_time` is t at
a = s/2 from a0. Limits: as λ → 0 the solution tends to the balanced logistic sigmoid; as
|λ| → ∞ (at fixed ``|λ| t/τ``) it tends to the linear (lazy, kernel) relaxation
``a = s + (a0 − s) e^{−|λ| t/τ}`` (:func:`lazy_limit`).
"""

from __future__ import annotations

import functools

import sympy as sp

from . import symbols as sy

__all__ = ["b1", "b2", "ell", "half_rise_time", "lazy_limit", "layer_strengths", "mode_ode",
           "time_to_reach"]

#: The balance λ of ``W2ᵀW2 − W1W1ᵀ = λ I`` (any real number).
ell = sp.Symbol("ell", real=True)
#: Layer strengths along the mode: first layer ``b1``, second ``b2`` (``a = b1 b2``).
b1, b2 = sp.symbols("b1 b2", positive=True)

_a = sp.Symbol("a", positive=True)
_u = sp.Symbol("u", real=True)
_w = sp.Symbol("w", positive=True)
_L = sp.Symbol("L", positive=True)           # |λ| > 0


@functools.cache
def mode_ode() -> sp.Expr:
    """``τ ȧ`` as a function of ``a`` (:data:`modspec.theory.symbols.a`), ``s`` and λ:
    derived from the layer flow of one aligned mode and its conserved balance."""
    d1 = b2 * (sy.s - b1 * b2)                           # τ ḃ1
    d2 = b1 * (sy.s - b1 * b2)                           # τ ḃ2
    balance = sp.expand(sp.diff(b2**2 - b1**2, b1) * d1 + sp.diff(b2**2 - b1**2, b2) * d2)
    if balance != 0:
        raise RuntimeError(f"the balance is not conserved: d/dt(b2² − b1²) = {balance}")
    da = sp.factor(d1 * b2 + b1 * d2)                    # τ ȧ = (b1² + b2²)(s − a)
    q = b1**2 + b2**2
    if sp.simplify(da - q * (sy.s - b1 * b2)) != 0:
        raise RuntimeError(f"τ ȧ = {da} is not (b1² + b2²)(s − a)")
    # q² = (b2² − b1²)² + 4 (b1 b2)² = λ² + 4a², and q > 0
    if sp.expand(q**2 - ((b2**2 - b1**2)**2 + 4 * (b1 * b2)**2)) != 0:
        raise RuntimeError("(b1² + b2²)² ≠ (b2² − b1²)² + 4 (b1 b2)²")
    rhs = sp.sqrt(ell**2 + 4 * sy.a**2) * (sy.s - sy.a)
    return rhs


@functools.cache
def layer_strengths(a: sp.Expr = sy.s) -> tuple[sp.Expr, sp.Expr]:
    """``(b1², b2²)`` of a λ-balanced mode of strength ``a`` (default the fixed point s): the
    positive solution of ``b2² − b1² = λ``, ``b1 b2 = a``."""
    x = sp.Symbol("x", real=True)                        # b1²
    roots = sp.solve(sp.Eq((x + ell) * x, a**2), x)      # b2² = b1² + λ, b1² b2² = a²
    root = [r for r in roots
            if all(r.subs({ell: v}).subs(a, 1) > 0 for v in (-2, 0, 2))]
    if len(root) != 1:
        raise RuntimeError(f"no unique non-negative root among {roots}")
    first = root[0]
    return first, sp.simplify(first + ell)


@functools.cache
def time_to_reach() -> sp.Expr:
    """``t(a)``: the time (in epochs, with τ) at which a mode started at ``a0`` reaches ``a``,
    for λ ≠ 0 (it depends on |λ|; ``0 < a0, a < s``). Derived and checked (module docstring)."""
    # a = (L/2) sinh u, w = e^u: da/(√(L²+4a²)(s−a)) = (1/2) du/(s − (L/2) sinh u)
    sinh = (_w - 1 / _w) / 2
    integrand = sp.cancel(sp.Rational(1, 2) / (sy.s - _L / 2 * sinh) / _w)   # du = dw/w
    # log|·|: a and a0 lie on the same side of the fixed point, so only differences of logs
    # of arguments of one sign occur (the derivative is unchanged)
    antider = _real_logs(sp.integrate(sp.apart(integrand, _w), _w))
    w_of_a = (2 * sy.a + sp.sqrt(_L**2 + 4 * sy.a**2)) / _L
    F = antider.subs(_w, w_of_a)
    t_of_a = sy.tau * (F - F.subs(sy.a, sy.a0))
    for L in (1, 3):
        _check_solves(t_of_a.subs(_L, L), mode_ode().subs(ell, L))
    return t_of_a.subs(_L, sp.Abs(ell))


@functools.cache
def time_to_reach_rich() -> sp.Expr:
    """``t(a)`` for λ = 0: the logistic ``τ ȧ = 2a(s − a)``."""
    rhs = mode_ode().subs(ell, 0)
    x = sp.Symbol("x", positive=True)
    F = _real_logs(sp.integrate(sp.apart(1 / rhs.subs(sy.a, x), x), x))
    t_of_a = sy.tau * (F.subs(x, sy.a) - F.subs(x, sy.a0))
    _check_solves(t_of_a, rhs)
    return t_of_a


def _real_logs(expr: sp.Expr) -> sp.Expr:
    return expr.replace(sp.log, lambda x: sp.log(sp.Abs(x)))


def _check_solves(t_of_a: sp.Expr, rhs: sp.Expr) -> None:
    """``dt/da = τ/rhs`` at a point below and one above the fixed point (``RuntimeError``)."""
    check = sp.diff(t_of_a, sy.a) - sy.tau / rhs
    for vals in ({sy.s: 2, sy.a: sp.Rational(1, 3)}, {sy.s: 1, sy.a: sp.Rational(3, 2)}):
        if abs(complex(check.subs({**vals, sy.tau: 1}).evalf(30))) > 1e-20:
            raise RuntimeError(f"t(a) does not solve the mode ODE at {vals}")


def half_rise_time(lam: sp.Expr = ell) -> sp.Expr:
    """The time to rise from ``a0`` to ``s/2`` (λ ≠ 0 by default; pass ``0`` for the rich
    limit)."""
    expr = time_to_reach_rich() if lam == 0 else time_to_reach().subs(ell, lam)
    return expr.subs(sy.a, sy.s / 2)


def lazy_limit() -> sp.Expr:
    """The lazy relaxation ``a(t) = s + (a0 − s) e^{−|λ| t/τ}``: the mode ODE linearised for
    |λ| ≫ a (``√(λ²+4a²) → |λ|``), solved by SymPy's dsolve."""
    f = sp.Function("f")
    rhs = mode_ode().subs(sp.sqrt(ell**2 + 4 * sy.a**2), sp.Abs(ell)).subs(sy.a, f(sy.t))
    sol = sp.dsolve(sp.Eq(sy.tau * f(sy.t).diff(sy.t), rhs), f(sy.t), ics={f(0): sy.a0})
    return sp.simplify(sol.rhs)
