"""Numerically stable forms of closed-form trajectories.

The closed forms SymPy derives are exact but not safe in floating point. The deep sigmoid comes
out as

    a(t) = a0 s e^{2st/τ} / (a0 λ e^{2st/τ} − a0 λ + s)

which overflows once ``2st/τ > 709`` (t ≈ 1e7 epochs is far beyond) and, for tiny ``a0``,
mixes terms of very different sizes. :func:`stable_form` rewrites any expression that is a
*rational function of exponentials linear in t* so that

1. only **decaying** exponentials ``x = e^{−κ t}`` (κ > 0) appear — they underflow to 0 and
   never overflow;
2. numerator and denominator are polynomials in ``x`` written in the **Bernstein basis**
   ``C(n, j) x^j (1 − x)^{n−j}``, and ``1 − x`` is evaluated as ``−expm1(−κ t)``. For the
   trajectories of linear networks every Bernstein coefficient has one sign, so the sums have
   no cancellation, at t → 0 (where ``1 − x`` is tiny) or anywhere else.

For the deep sigmoid this gives ``a0 s / (a0 λ (1 − x) + s x)`` with ``x = e^{−2st/τ}`` and for
the shallow exponential ``(s/λ)(1 − x) + a0 x`` with ``x = e^{−λt/τ}``: no overflow, NaN or
cancellation for t up to 1e7 epochs and a0 down to 1e-300 (checked against mpmath at high
precision in the tests). Expressions of any other shape are returned unchanged.
"""

from __future__ import annotations

import math
from functools import reduce

import sympy as sp

from modspec.theory import symbols as sy

__all__ = ["OneMinusExp", "stable_form", "unstable"]


class OneMinusExp(sp.Function):
    """``1 − e^z``, printed for NumPy as ``-numpy.expm1(z)`` (accurate for small ``z``)."""

    nargs = 1

    @classmethod
    def eval(cls, z):  # noqa: D102 - SymPy hook
        if z == 0:
            return sp.Integer(0)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return -sp.exp(self.args[0])

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return 1 - sp.exp(z)

    def _eval_evalf(self, prec):
        return (1 - sp.exp(self.args[0]))._eval_evalf(prec)

    def _numpycode(self, printer) -> str:
        return f"(-{printer._module_format('numpy.expm1')}({printer._print(self.args[0])}))"


def unstable(expr: sp.Expr) -> sp.Expr:
    """Undo :func:`stable_form`'s helper functions (for exact comparison)."""
    return expr.rewrite(sp.exp) if expr.has(OneMinusExp) else expr


def _rational_gcd(values: list[sp.Rational]) -> sp.Rational:
    num = reduce(math.gcd, (int(abs(v.p)) for v in values))
    den = reduce(lambda a, b: a * b // math.gcd(a, b), (int(v.q) for v in values))
    return sp.Rational(num, den)


def _bernstein(poly: sp.Poly, x: sp.Symbol, y: sp.Symbol) -> sp.Expr:
    """Rewrite ``Σ p_i x^i`` as ``Σ_j b_j C(n,j) x^j y^(n−j)`` with ``y = 1 − x``.

    ``b_j = Σ_{i≤j} C(j,i)/C(n,i) · p_i``.
    """
    n = poly.degree()
    if n <= 0:
        return poly.as_expr()
    p = [poly.coeff_monomial(x**i) for i in range(n + 1)]
    out = sp.Integer(0)
    for j in range(n + 1):
        b = sp.Add(*[sp.Rational(math.comb(j, i), math.comb(n, i)) * p[i] for i in range(j + 1)])
        b = sp.factor(b)
        if b != 0:
            out += b * math.comb(n, j) * x**j * y ** (n - j)
    return out


def _decay_sign(rate: sp.Expr) -> int | None:
    """``1`` when ``rate ≤ 0``, ``−1`` when ``rate ≥ 0``, None when unknown. A square root
    factor (``x^(±1/2)``) counts as non-negative: the rates of real trajectories hold
    principal roots of non-negative numbers, e.g. ``sqrt((c**7 − 1)/(c − 1))`` of a tree's
    singular value, whose sign SymPy cannot see (``c = 1`` would divide by zero)."""
    if rate.is_extended_nonpositive:
        return 1
    if rate.is_extended_nonnegative:
        return -1
    negative = 0
    for factor in sp.Mul.make_args(rate):
        if factor.is_Pow and factor.exp in (sp.S.Half, -sp.S.Half):
            continue
        if factor.is_extended_nonpositive:
            negative += 1
        elif not factor.is_extended_nonnegative:
            return None
    return 1 if negative % 2 else -1


def stable_form(expr: sp.Expr, t: sp.Symbol = sy.t) -> sp.Expr:
    """An equivalent expression that is safe to evaluate for large ``t`` and tiny ``a0``.

    Works on expressions rational in exponentials ``e^{c_i t}`` whose rates ``c_i`` are
    rational multiples of one rate of known sign (≥ 0 or ≤ 0); anything else comes back unchanged.
    """
    expr = sp.sympify(expr)
    exps = [e for e in expr.atoms(sp.exp) if e.has(t)]
    if not exps:
        return expr
    rates = []
    for e in exps:
        c = sp.simplify(e.args[0] / t)
        if c.has(t):
            return expr
        rates.append(c)
    base = rates[0]
    ratios = [sp.nsimplify(sp.simplify(c / base)) for c in rates]
    if not all(r.is_Rational and r != 0 for r in ratios):
        return expr
    sign = _decay_sign(base)
    if sign is None:
        return expr
    g = _rational_gcd(ratios)
    kappa_t = sign * g * base * t  # negative: e^{kappa_t} decays
    x = sp.Dummy("x", positive=True)
    y = sp.Dummy("y", positive=True)
    powers = {e: x ** (sign * r / g) for e, r in zip(exps, ratios, strict=True)}
    rational = sp.cancel(sp.together(expr.xreplace(powers)))
    num, den = sp.fraction(rational)
    try:
        pn, pd = sp.Poly(num, x), sp.Poly(den, x)
    except sp.PolynomialError:
        return expr
    top, bottom = _bernstein(pn, x, y), _bernstein(pd, x, y)
    if top.could_extract_minus_sign() and bottom.could_extract_minus_sign():
        top, bottom = -top, -bottom
    out = top / bottom
    return out.xreplace({x: sp.exp(kappa_t), y: OneMinusExp(kappa_t)})
