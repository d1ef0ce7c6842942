"""Exact solutions of a gated mode that several pathways (or edges) share.

docs/theory/gated.md §3. Where a mode's start is equal on every orbit of its symmetries and
its conserved levels leave one variable (:mod:`modspec.theory.gated_reduction`), the mode is
``τ dx/dt = g(x)`` for the driver x (one orbit's strength), every other strength a function of
x. It is solved by separation of variables:

* **the mode ODE of a module** when every conserved level is zero and a pathway product
  ``a = κ x^L`` obeys ``τ da/dt = L a^{2−2/L}(s − λ a)`` (checked by SymPy: the ratio to
  ``L a^{2−2/L}`` must be linear in a, giving the effective ``s`` and ``λ``): SymPy's closed
  form for L ≤ 2 (:func:`modspec.theory.dynamics.mode_solution`), else its implicit solution
  ``t(a)`` inverted by :func:`modspec.numerics.implicit.mode_strengths` — a single pathway
  from a balanced start, and a shared edge whose fan-in and fan-out are balanced;
* **partial fractions** otherwise, when ``g`` is a polynomial with simple roots ``r_k``:
  ``t(x) = τ Σ_k log((x − r_k)/(x0 − r_k)) / g'(r_k)`` (real along the path from ``x0`` to
  the fixed point ``x*``, the first real root ahead of the start), checked by differentiation
  and inverted by bisection in ``y = −ln|x* − x|``, where the fixed point's own term is exact.

:func:`exact_mode` returns the solution, or the one-line reason why the mode stays integrated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np
import sympy as sp

from modspec.theory import symbols as sy
from modspec.theory.architectures import MAX_DEPTH
from modspec.theory.gated_modes import PathwayModes
from modspec.theory.gated_reduction import (
    ModeReduction,
    OneVariable,
    one_variable,
    reduce_mode,
)
from modspec.theory.names import checked_lambdify

from .gated_race import mode_system

__all__ = ["ExactMode", "exact_mode", "reduction"]

#: Relative size below which a conserved level is taken to be zero.
_ZERO_LEVEL = 1e-13
#: Most Newton steps inverting ``t(x)`` (safeguarded by bisection).
_STEPS = 200
#: Solutions kept per mode, by their times (the race asks for the same grid per pathway).
_MEMO = 16


@dataclass(frozen=True, eq=False)
class ExactMode:
    """``method`` ("closed form" or "implicit t(a)"), ``solve(t) → (len(t), len(edges))``,
    ``end`` the strengths at t → ∞, and what derive prints: ``variable`` and ``rate`` (the
    one-variable ODE ``τ d(variable)/dt = rate``), ``relations`` (every orbit's variable as
    a function of it) and ``solution`` (``a(t)`` in the symbols of
    :mod:`modspec.theory.symbols`, or ``t`` as a function of the variable)."""

    method: str
    solve: Callable[[np.ndarray], np.ndarray]
    end: np.ndarray
    variable: sp.Symbol
    rate: sp.Expr
    solution: sp.Expr
    relations: dict[sp.Symbol, sp.Expr]


@lru_cache(maxsize=64)
def reduction(modes: PathwayModes, mode: int) -> ModeReduction:
    """The mode's symmetric reduction (kept for the last few modes)."""
    system = mode_system(modes, mode)
    return reduce_mode(system.rhs, modes.b, system.conserved)


def _orbit_start(red: ModeReduction, b0: Mapping[str, float]) -> dict[sp.Symbol, float] | str:
    """The start's value on each orbit, or why it is not on the positive symmetric subspace."""
    out = {}
    for u, orbit in zip(red.u, red.symmetry.orbits, strict=True):
        values = {float(b0.get(e, 0.0)) for e in orbit}
        if len(values) != 1:
            return f"the start differs on the alike edges {', '.join(orbit)}"
        (v,) = values
        if not v > 0:
            return f"the start of {', '.join(orbit)} is {v}, not > 0"
        out[u] = v
    return out


def exact_mode(modes: PathwayModes, mode: int, b0: Mapping[str, float], tau: float
               ) -> ExactMode | str:
    """The exact solution of mode ``mode`` from ``b0`` (module docstring), or the reason
    there is none."""
    red = reduction(modes, mode)
    if red.reason:
        return red.reason
    start = _orbit_start(red, b0)
    if isinstance(start, str):
        return start
    levels = []
    for q in red.conserved:
        value = float(q.xreplace(start))
        scale = float(sum(abs(t) for t in sp.Add.make_args(q.xreplace(start))))
        levels.append(0 if abs(value) <= _ZERO_LEVEL * scale else value)
    one = one_variable(red, levels)
    if one is None or not one.rational:
        return "the one-variable rate g(x) is not rational in x: t(x) is not a sum of logs"
    system = mode_system(modes, mode)
    columns = [red.variable(e) for e in system.edges]
    x0 = start[one.driver]
    if all(level == 0 for level in levels):
        found = _module_form(modes, set(system.edges), red, one, columns, x0, tau)
        if found is not None:
            return found
    return _partial_fractions(one, columns, x0, tau)


def _memoised(solve: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """``solve`` on float times, keeping its last few answers by their times (the race asks
    for the same grid once per pathway)."""
    memo: dict[bytes, np.ndarray] = {}

    def cached(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        key = t.tobytes() + bytes(str(t.shape), "ascii")
        if key not in memo:
            if len(memo) >= _MEMO:
                memo.pop(next(iter(memo)))
            memo[key] = solve(t)
        return memo[key]

    return cached


def _strengths(one: OneVariable, columns: list[sp.Symbol]) -> Callable[[np.ndarray], Any]:
    """``x → (len(x), len(columns))``: every edge's strength from the driver's."""
    plain = sp.Symbol("x", positive=True)     # compiled names are identifiers
    exprs = [one.strength(u).xreplace({one.driver: plain}) for u in columns]
    f = checked_lambdify([plain], exprs, "numpy")
    return lambda x: np.stack([np.broadcast_to(np.asarray(v, dtype=float), np.shape(x))
                               for v in f(np.asarray(x, dtype=float))], axis=-1)


@cache
def _closed_form(depth: int) -> Callable[..., Any]:
    """``a(t, τ, a0, s, λ)`` compiled from SymPy's closed form (depth ≤ 2)."""
    from modspec.theory import dynamics

    return checked_lambdify((sy.t, sy.tau, sy.a0, sy.s, sy.lam), dynamics.mode_solution(depth),
                            "numpy")


def _module_form(modes: PathwayModes, edges: set[str], red: ModeReduction, one: OneVariable,
                 columns: list[sp.Symbol], x0: float, tau: float) -> ExactMode | None:
    """The mode ODE of a module for a pathway product, where it applies (module docstring)."""
    from modspec.theory import dynamics

    path = next((p for p in modes.network.pathways if set(p) <= edges), None)
    if path is None:
        return None
    x = one.driver
    product = sp.powsimp(sp.Mul(*[one.strength(red.variable(e)) for e in path]))
    kappa, L = product.as_coeff_exponent(x)
    if not (L.is_Integer and 1 <= int(L) <= MAX_DEPTH and kappa.is_positive):
        return None
    L = int(L)
    # τ da/dt = a'(x) g(x) over L a^{2−2/L} = L κ^{2−2/L} x^{2L−2}: must be s − λ κ x^L
    h = sp.expand(sp.cancel(sp.diff(product, x) * one.rate
                            / (L * kappa ** (2 - sp.Rational(2, L)) * x ** (2 * L - 2))))
    if not (h.is_polynomial(x) and set(sp.Poly(h, x).monoms()) <= {(0,), (L,)}):
        return None
    s, lam = float(h.coeff(x, 0)), float(-h.coeff(x, L) / kappa)
    with np.errstate(over="ignore", under="ignore"):
        a0 = float(kappa) * np.float64(x0) ** L
    if not (s > 0 and lam > 0 and np.isfinite(a0) and a0 >= np.finfo(float).tiny):
        return None       # a start whose product underflows: the pathways do not move
    sol = dynamics.mode_solution(L)
    edges_of = _strengths(one, columns)

    def solve(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        if sol is not None:
            f = _closed_form(L)
            with np.errstate(over="ignore", invalid="ignore"):
                av = np.asarray(f(t, tau, a0, s, lam), dtype=float) * np.ones_like(t)
            av[~np.isfinite(av)] = s / lam
        else:
            from .implicit import mode_strengths

            av = mode_strengths(L, t, s, lam, a0, tau)
        return edges_of((av / float(kappa)) ** (1.0 / L))

    law = sp.Eq(sy.tau * sp.Derivative(sy.a, sy.t),
                L * sy.a ** (2 - sp.Rational(2, L)) * (sp.Float(s, 12) - sp.Float(lam, 12) * sy.a))
    shown = sol if sol is not None else dynamics.mode_time(L)
    onto = {x: (sy.a / kappa) ** sp.Rational(1, L)}
    return ExactMode("closed form" if sol is not None else "implicit t(a)", _memoised(solve),
                     edges_of(np.array((s / lam / float(kappa)) ** (1.0 / L))),
                     sy.a, law.rhs, shown.xreplace({sy.s: sp.Float(s, 12),
                                                    sy.lam: sp.Float(lam, 12)}),
                     {u: one.strength(u).xreplace(onto) for u in red.u})


def _partial_fractions(one: OneVariable, columns: list[sp.Symbol], x0: float, tau: float
                       ) -> ExactMode | str:
    """``t(x)`` of a polynomial rate by partial fractions, inverted (module docstring)."""
    x = one.driver
    num, den = sp.fraction(sp.together(one.rate))
    if den.free_symbols or num == 0:
        return "the one-variable rate g(x) is not a polynomial in x"
    poly = sp.Poly(num / den, x)
    g = np.array([complex(c) for c in poly.all_coeffs()])
    roots = np.array([complex(r) for r in poly.nroots(n=30, maxsteps=200)])
    scale = max(1.0, float(np.abs(roots).max(initial=0.0)))
    gaps = np.abs(roots[:, None] - roots[None, :]) + np.eye(len(roots)) * scale
    if len(roots) and gaps.min() < 1e-7 * scale:
        return "the one-variable rate g(x) has a repeated root: t(x) is not a sum of logs"
    sign = float(np.sign(np.polyval(g, x0).real))
    ahead = [r.real for r in roots if abs(r.imag) <= 1e-12 * scale and sign * (r.real - x0) > 0]
    if sign == 0 or not ahead:
        return "the one-variable rate g(x) has no fixed point ahead of the start"
    star = min(ahead, key=lambda r: abs(r - x0))
    edges_of = _strengths(one, columns)
    with np.errstate(invalid="ignore"):
        end = edges_of(np.array(star))
    if not (star > 0 and np.all(end > 0)):    # the relations hold between x0 and x* alone
        return "the fixed point ahead of the start leaves the positive strengths"
    time_of = _time_function(g, roots, star, x0, sign, tau)
    shown = sy.tau * _real_form(x, x0, roots, np.polyval(np.polyder(g), roots))
    plain = sp.Symbol("x", positive=True)
    printed = checked_lambdify([plain], shown.xreplace({sy.tau: tau, x: plain}), "numpy")
    failed = _check_time(time_of, printed, g, star, x0, sign, tau)
    if failed:
        return failed

    def rate(delta: np.ndarray) -> np.ndarray:
        """``dt/dy = τ δ / |g(x)|`` at ``y = −ln δ``."""
        return tau * delta / np.abs(np.polyval(g, star - sign * delta).real)

    def solve(t: np.ndarray) -> np.ndarray:
        ys = _invert(time_of, rate, t, -np.log(abs(star - x0)),
                     -np.log(max(abs(star), 1e-300) * 2.0 ** -53))
        return edges_of(np.where(t == 0, x0, star - sign * np.exp(-ys)))

    return ExactMode("implicit t(a)", _memoised(solve), end, x, one.rate, shown,
                     dict(one.others))


def _time_function(g: np.ndarray, roots: np.ndarray, star: float, x0: float, sign: float,
                   tau: float) -> Callable[[np.ndarray], np.ndarray]:
    """``δ → t`` at ``x = x* − sign·δ``: ``τ Σ_k log((x − r_k)/(x0 − r_k)) / g'(r_k)``, the
    fixed point's term ``log(δ/δ0)/g'(x*)`` exact (principal logs: along the real path from
    ``x0`` the ratio never crosses the negative axis)."""
    slopes = np.polyval(np.polyder(g), roots)
    k_star = int(np.argmin(np.abs(roots - star)))
    others = np.delete(np.arange(len(roots)), k_star)

    def time_of(delta: np.ndarray) -> np.ndarray:
        xs = star - sign * np.asarray(delta)[..., None]
        logs = np.log((xs - roots[others]) / (x0 - roots[others])) / slopes[others]
        exact = np.log(delta / abs(star - x0)) / slopes[k_star].real
        return tau * (exact + logs.sum(axis=-1).real)

    return time_of


def _real_form(x: sp.Symbol, x0: float, roots: np.ndarray, slopes: np.ndarray) -> sp.Expr:
    """``Σ_k log((x − r_k)/(x0 − r_k))/g'(r_k)`` written with real numbers: a real root gives
    ``log|x − r|/g'(r)``, a pair ``p ± iq`` with ``1/g'(p + iq) = α + iβ`` gives
    ``α log((x − p)² + q²) − 2β atan((x − p)/q)`` (``q > 0``), each less its value at ``x0``."""
    scale = max(1.0, float(np.abs(roots).max(initial=0.0)))

    def num(v: float) -> sp.Expr:
        """A number to 15 digits; rounding noise of a root's zero part (< 1e-13) is 0."""
        return sp.Integer(0) if abs(v) < 1e-13 * scale else sp.Float(float(v), 15)

    terms = []
    for r, dg in zip(roots, slopes, strict=True):
        c = 1 / dg
        if abs(r.imag) <= 1e-12 * max(1.0, abs(r)):
            terms.append(num(c.real) * sp.log(sp.Abs(x - num(r.real))
                                              / abs(x0 - r.real)))
        elif r.imag > 0:
            p, q = num(r.real), num(r.imag)
            terms.append(num(c.real) * sp.log(((x - p) ** 2 + q ** 2)
                                              / num((x0 - r.real) ** 2 + r.imag ** 2))
                         - 2 * num(c.imag) * (sp.atan((x - p) / q)
                                              - num(np.arctan((x0 - r.real) / r.imag))))
    return sp.Add(*terms)


def _check_time(time_of: Callable[[np.ndarray], np.ndarray], printed: Callable[..., Any],
                g: np.ndarray, star: float, x0: float, sign: float, tau: float) -> str:
    """The derivation's check, between the start and the fixed point: ``dt/dx · g(x) = τ``
    (central differences, to 1e-5), and the printed real form equals the solver's ``t`` (to
    1e-6: its logarithms and arctangents may cancel digits). Empty when both hold, else the
    reason the mode is integrated instead (rounding on a very stiff or very wide path)."""
    d = np.abs(star - x0) * np.array([0.9, 0.5, 0.1])
    h = d * 1e-6
    with np.errstate(all="ignore"):
        dtdx = (time_of(d - h) - time_of(d + h)) / (2 * h) * sign
        t = time_of(d)
        shown = np.asarray(printed(star - sign * d), dtype=float)
        if not np.allclose(dtdx * np.polyval(g, star - sign * d).real, tau, rtol=1e-5):
            return "t(x) by partial fractions fails its check dt/dx = tau/g(x) (rounding)"
        if not np.allclose(shown, t, rtol=1e-6, atol=1e-12 * tau):
            return "t(x) by partial fractions loses its digits when printed (rounding)"
    return ""


def _invert(time_of: Callable[[np.ndarray], np.ndarray], rate: Callable[[np.ndarray], np.ndarray],
            t: np.ndarray, y0: float, y_end: float) -> np.ndarray:
    """``y`` with ``time_of(e^{−y}) = t`` (increasing in y) on ``[y0, y_end]``, by Newton's
    method safeguarded by bisection; ``y_end`` where t lies beyond it."""
    lo, hi = np.full(t.shape, y0), np.full(t.shape, y_end)
    y = lo.copy()
    active = time_of(np.exp(-hi)) > t
    y[~active] = y_end
    for _ in range(_STEPS):
        if not active.any():
            break
        ya = y[active]
        F = time_of(np.exp(-ya)) - t[active]
        lo[active] = np.where(F <= 0, ya, lo[active])
        hi[active] = np.where(F >= 0, ya, hi[active])
        with np.errstate(divide="ignore", invalid="ignore"):
            step = ya - F / rate(np.exp(-ya))
        inside = (step > lo[active]) & (step < hi[active])
        step = np.where(inside, step, (lo[active] + hi[active]) / 2)
        done = (np.abs(step - ya) <= 1e-15 * (1.0 + np.abs(ya))) | (F == 0)
        y[active] = step
        active[np.flatnonzero(active)[done]] = False
    return y
