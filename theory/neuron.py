"""A single hidden neuron ``y = a·wᵀx`` from any start, derived in SymPy (docs/theory/any-start.md).

The loss of one linear neuron with output weight ``a`` and input weights ``w`` on inputs whose
moments are ``E[xxᵀ] = v I`` and ``E[xy] = b`` (on the plane the flow stays in) is

    ℒ(a, w) = ½ E[(y − a wᵀx)²] = ½ (E[y²] − 2a wᵀb + v a² ‖w‖²),

and its gradient flow ``τ ȧ = −∂ℒ/∂a``, ``τ ẇ = −∂ℒ/∂w`` (:func:`flow`) conserves the
imbalance ``δ = a² − ‖w‖²`` (Kunin et al., "Get rich quick", NeurIPS 2024). The flow keeps
``w`` in the plane of ``b`` and ``w(0)``: ``w = w1 e1 + w2 e2`` with ``e1 = b/‖b‖`` and ``e2``
along the part of ``w(0)`` orthogonal to ``b``. With the regression target ``β* = b/v``
(length ``s = ‖b‖/v``) and ``q = (w1, w2, a)``, the flow is (checked by :func:`riccati_form`)

    (τ/v) q̇ = F q − ½ ‖q‖² q,     F = [[−δ/2, 0, s], [0, −δ/2, 0], [s, 0, δ/2]],

the one-hidden-unit case of the matrix Riccati flow (:mod:`modspec.numerics.riccati`; every
single-neuron start is δ-balanced). It is solved by ``q = z/√m`` with ``z = e^{F u} q(0)``,
``m = 1 + ∫₀ᵘ ‖z‖²``, ``u = v t/τ``. SymPy computes ``e^{F u}`` by Lagrange interpolation on
the eigenvalues ``±ω`` of the (w1, a) block (``ω = √(δ²/4 + s²)``; the block squares to ``ω²I``)
and ``e^{−δu/2}`` on ``e2``, integrates ``m``, and :func:`solution` checks that the result
solves the flow (``RuntimeError`` otherwise). The network's map ``β = a w`` has the
component ``β∥ = a w1`` along ``β*`` and ``β⊥ = a w2``.

Fixed points (:func:`fixed_points`): ``β = β*`` with ``a² = (√(δ²+4s²) + δ)/2``,
``‖w‖² = (√(δ²+4s²) − δ)/2``, and, for ``δ ≤ 0``, the saddles ``a = 0``, ``w ⊥ β*``,
``‖w‖² = −δ``. From an aligned start (``w2 = 0``) ``β∥`` obeys ``τ β̇ = v √(δ²+4β²)(s − β)``,
the per-mode λ dynamics of :mod:`modspec.theory.balanced` with λ = δ, and ``β∥(t) = β``
is a quadratic in ``e^{2ωu}``: :func:`time_to_reach` is its closed-form root, and
:func:`half_rise_time` its value at ``β = s/2``. Limits: δ → 0 gives the logistic sigmoid of
the balanced (rich) theory; |δ| → ∞ the lazy relaxation ``β = s + (β0 − s) e^{−|δ| v t/τ}``.
"""

from __future__ import annotations

import functools

import sympy as sp

from . import symbols as sy

__all__ = ["a", "a0", "beta", "delta", "fixed_points", "flow", "forms", "half_rise_time", "loss",
           "omega", "riccati_form", "riccati_matrix", "solution", "time_to_reach", "v", "w1",
           "w10", "w2", "w20"]

#: The neuron's output weight and its two input weights in the plane (along β*, across).
a, w1, w2 = sp.symbols("a w1 w2", real=True)
#: Their starts.
a0, w10, w20 = sp.symbols("a0 w10 w20", real=True)
#: The imbalance δ = a² − ‖w‖² (conserved), the input variance v on the plane.
delta = sp.Symbol("delta", real=True)
v = sp.Symbol("v", positive=True)
#: The map's component along β* (the aligned neuron's strength).
beta = sp.Symbol("beta", positive=True)
#: ω = √(δ²/4 + s²): the rate of the (w1, a) block.
omega = sp.sqrt(delta**2 / 4 + sy.s**2)

_b = sp.Symbol("b", positive=True)             # ‖E[xy]‖
_u = sp.Symbol("u", nonnegative=True)           # v t/τ
_E = sp.Symbol("E", positive=True)              # e^{ωu}


def loss() -> sp.Expr:
    """``ℒ(a, w1, w2)`` from the moments (``E[y²]`` drops out of the flow)."""
    ey2 = sp.Symbol("Ey2", positive=True)
    return (ey2 - 2 * a * w1 * _b + v * a**2 * (w1**2 + w2**2)) / 2


@functools.cache
def flow() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """``τ`` times the rates of ``(w1, w2, a)``: minus the gradient of :func:`loss`, with
    ``b = v s``; raises if ``δ = a² − ‖w‖²`` is not conserved."""
    rates = tuple(sp.expand(-sp.diff(loss(), x).subs(_b, v * sy.s)) for x in (w1, w2, a))
    change = sp.expand(sum(sp.diff(a**2 - w1**2 - w2**2, x) * r
                           for x, r in zip((w1, w2, a), rates, strict=True)))
    if change != 0:
        raise RuntimeError(f"δ = a² − ‖w‖² is not conserved: τ δ̇ = {change}")
    return rates


def riccati_matrix() -> sp.Matrix:
    """``F`` of ``(τ/v) q̇ = F q − ½‖q‖² q`` on ``q = (w1, w2, a)``."""
    return sp.Matrix([[-delta / 2, 0, sy.s], [0, -delta / 2, 0], [sy.s, 0, delta / 2]])


@functools.cache
def riccati_form() -> bool:
    """Check that the flow is ``(τ/v) q̇ = F q − ½‖q‖² q`` where ``δ = a² − ‖w‖²``."""
    q = sp.Matrix([w1, w2, a])
    rhs = (riccati_matrix() * q - (q.dot(q) / 2) * q).subs(delta, a**2 - w1**2 - w2**2)
    diff = [sp.expand(r / v - x) for r, x in zip(flow(), rhs, strict=True)]
    if any(d != 0 for d in diff):
        raise RuntimeError(f"the neuron's flow is not the Riccati form: residual {diff}")
    return True


def _propagator() -> sp.Matrix:
    """``e^{F u}`` with ``e^{ωu}`` written as ``E``: Lagrange interpolation on ±ω for the
    (w1, a) block (which squares to ω² I), ``e^{−δu/2}`` on w2."""
    F = riccati_matrix()
    block = F.extract([0, 2], [0, 2])
    if sp.simplify(block**2 - omega**2 * sp.eye(2)) != sp.zeros(2):
        raise RuntimeError("the (w1, a) block of F does not square to ω² I")
    c0, c1 = sp.symbols("c0 c1")
    coef = sp.solve([c0 + c1 * omega - _E, c0 - c1 * omega - 1 / _E], [c0, c1], dict=True)[0]
    eb = coef[c0] * sp.eye(2) + coef[c1] * block
    return sp.Matrix([[eb[0, 0], 0, eb[0, 1]], [0, sp.exp(-delta * _u / 2), 0],
                      [eb[1, 0], 0, eb[1, 1]]])


Terms = tuple[tuple[sp.Expr, sp.Expr], ...]


@functools.cache
def forms() -> tuple[tuple[Terms, Terms, Terms], Terms]:
    """The solution as sums of exponentials in ``u = v t/τ``: for each of ``(w1, w2, a)``
    the terms ``(c, r)`` of ``z = Σ c e^{r u}``, and the terms of ``m = 1 + Σ c ∫₀ᵘ e^{r x} dx``
    (rates ``±ω``, ``−δ/2`` in z; ``±2ω``, ``−δ`` in m); ``q = z/√m``."""
    riccati_form()
    z = _propagator() * sp.Matrix([w10, w20, a0])
    decay = sp.exp(-delta * _u / 2)
    z_terms = []
    for zi in z:
        if zi.has(decay):
            z_terms.append(((sp.simplify(zi / decay), -delta / 2),))
            continue
        num, den = sp.fraction(sp.cancel(zi * _E))
        z_terms.append(tuple((sp.simplify(c / den), (k - 1) * omega)
                             for (k,), c in sp.Poly(num, _E).terms()))
    norm = sp.expand(sum(_sum_of(t)**2 for t in z_terms))
    return tuple(z_terms), tuple(_exp_terms(norm))


_F = sp.Symbol("F", positive=True)            # e^{−δu}


def _sum_of(terms: Terms) -> sp.Expr:
    """``Σ c e^{r u}`` with ``e^{±ωu}`` written as ``E^{±1}`` and ``e^{−δu/2}`` as √F."""
    out = sp.Integer(0)
    for c, r in terms:
        out += c * (_E ** sp.simplify(r / omega) if r.has(omega) else sp.sqrt(_F))
    return out


def _exp_terms(norm: sp.Expr) -> list[tuple[sp.Expr, sp.Expr]]:
    """``‖z‖²`` (in E and F) as terms ``(c, r)`` of ``Σ c e^{r u}``."""
    num, den = sp.fraction(sp.cancel(norm * _E**2))
    if den.has(_E, _F):
        raise RuntimeError("‖z‖² is not a Laurent polynomial in e^(ωu), e^(−δu)")
    out = []
    for (i, j), c in sp.Poly(num, _E, _F).terms():
        out.append((sp.simplify(c / den), (i - 2) * omega - j * delta))
    return out


def _m_of(m_terms: Terms) -> sp.Expr:
    x = sp.Symbol("x", nonnegative=True)
    return 1 + sum(c * sp.integrate(sp.exp(r * x), (x, 0, _u), conds="none")
                   for c, r in m_terms)


@functools.cache
def solution() -> dict[str, sp.Expr]:
    """``w1, w2, a`` and the map's components ``beta_par = a w1``, ``beta_perp = a w2`` at
    time ``t`` (epochs, τ) from ``(w10, w20, a0)``; δ and ω are those of the start (module
    docstring). Checked against :func:`flow` at exact points (``RuntimeError``)."""
    z_terms, m_terms = forms()
    z = [sum(c * sp.exp(r * _u) for c, r in t) for t in z_terms]
    m = _m_of(m_terms)
    out = {"w1": z[0] / sp.sqrt(m), "w2": z[1] / sp.sqrt(m), "a": z[2] / sp.sqrt(m),
           "beta_par": z[0] * z[2] / m, "beta_perp": z[1] * z[2] / m}
    out = {k: e.subs(_u, v * sy.t / sy.tau) for k, e in out.items()}
    _check_solution(out)
    return out


def _check_solution(sol: dict[str, sp.Expr]) -> None:
    """At a start with δ of each sign, the solution starts at the start and solves the
    flow (derivative in t against the rates, to 1e-25)."""
    for start in ({a0: 1, w10: sp.Rational(1, 2), w20: sp.Rational(1, 3)},
                  {a0: sp.Rational(1, 5), w10: -1, w20: sp.Rational(1, 2)}):
        vals = {**start, sy.s: sp.Rational(3, 2), v: sp.Rational(4, 3), sy.tau: 2}
        dval = start[a0]**2 - start[w10]**2 - start[w20]**2
        rates = [r.subs({w1: sol["w1"], w2: sol["w2"], a: sol["a"]}) for r in flow()]
        for key, rate in zip(("w1", "w2", "a"), rates, strict=True):
            res = (sy.tau * sp.diff(sol[key], sy.t) - rate).subs(delta, dval).subs(vals)
            for tv in (0, sp.Rational(7, 10)):
                if abs(complex(res.subs(sy.t, tv).evalf(40))) > 1e-25:
                    raise RuntimeError(f"the neuron's {key}(t) does not solve the flow")
            x0 = sol[key].subs(delta, dval).subs(vals).subs(sy.t, 0)
            if abs(complex((x0 - {"w1": w10, "w2": w20, "a": a0}[key].subs(vals)).evalf(40))) \
                    > 1e-30:
                raise RuntimeError(f"the neuron's {key}(0) is not its start")


@functools.cache
def fixed_points() -> list[dict[sp.Symbol, sp.Expr]]:
    """Every fixed point ``{w1, w2, a}`` of :func:`flow` on the level set ``a² − ‖w‖² = δ``
    (SymPy's solve; a saddle with ``a = 0`` exists for ``δ ≤ 0``)."""
    eqs = [*flow(), a**2 - w1**2 - w2**2 - delta]
    real = []
    for fp in sp.solve(eqs, [w1, w2, a], dict=True):
        # a² < 0 for every δ (s > 0) is no point of the real flow
        if any(fp[a].subs({delta: d, sy.s: 1}).is_real for d in (-1, 0, 1)):
            real.append({k: sp.simplify(e) for k, e in fp.items()})
    return real


@functools.cache
def time_to_reach() -> sp.Expr:
    """``t(β)`` for an aligned start (``w20 = 0``) with ``0 < β0 = a0 w10 < β < s``: the
    root of ``β∥(t) = β`` (a quadratic in ``Z = e^{2ωu}``) that is reached after t = 0."""
    z_terms, m_terms = forms()
    z = [_sum_of(t).subs(w20, 0) for t in z_terms]
    m = _m_of([(c.subs(w20, 0), r) for c, r in m_terms]).subs(_u, sp.log(_E) / omega)
    num, den = sp.fraction(sp.cancel((z[0] * z[2] - beta * m) * _E**2))
    if num.has(_u) or den.has(_E):
        raise RuntimeError("β∥ of an aligned start is not a ratio of polynomials in e^(ωu)")
    Z = sp.Symbol("Z", positive=True)
    poly = sp.Poly(sp.expand(num).subs(_E, sp.sqrt(Z)), Z)
    if poly.degree() != 2:
        raise RuntimeError(f"β∥(t) = β is not a quadratic in e^(2ωu): degree {poly.degree()}")
    A, B, C = (sp.simplify(c) for c in poly.all_coeffs())
    roots = [(-B + sign * sp.sqrt(B**2 - 4 * A * C)) / (2 * A) for sign in (1, -1)]
    t_of = [sy.tau * sp.log(r) / (2 * omega * v) for r in roots]
    return _reached(t_of)


def _reached(t_of: list[sp.Expr]) -> sp.Expr:
    """The root that is 0 at β = β0 and positive above it (checked at δ of each sign)."""
    for cand in t_of:
        ok = True
        for vals in ({delta: 1}, {delta: -2}, {delta: sp.Rational(1, 10)}):
            d = vals[delta]
            w = sp.sqrt(sp.Rational(1, 100) + sp.Max(-d, 0))       # w10, with a0² = w10² + δ
            start = {w10: w, a0: sp.sqrt(w**2 + d), delta: d, sy.s: 2, v: 1, sy.tau: 1}
            b0 = (start[a0] * w).evalf(30)
            at0 = complex(cand.subs(start).subs(beta, b0).evalf(30))
            later = complex(cand.subs(start).subs(beta, 1).evalf(30))
            ok &= abs(at0) < 1e-20 and abs(later.imag) < 1e-20 and later.real > 0
        if ok:
            return cand
    raise RuntimeError("no root of β∥(t) = β starts at t = 0")


def half_rise_time() -> sp.Expr:
    """``t½``: the aligned neuron's time to reach ``β = s/2``."""
    return time_to_reach().subs(beta, sy.s / 2)
