"""Equality of exact and floating spectral values: when two modes' values are one.

Exact numbers and expressions are compared exactly (SymPy, after a cheap numeric probe that
proves a difference without simplifying); values holding floats (a numerical
diagonalisation) to a relative :data:`MERGE_RTOL`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np
import sympy as sp

__all__ = ["MERGE_RTOL", "clean", "differ_somewhere", "equal", "group_equal", "merge_equal",
           "probe", "probe_at", "probed_apart", "same"]

T = TypeVar("T")


def group_equal(items: Iterable[T], alike: Callable[[T, T], bool]) -> list[list[T]]:
    """``items`` grouped by ``alike`` (an equivalence: :func:`same` or :func:`equal` of their
    values), in order of first appearance; each item is compared with each group's first."""
    groups: list[list[T]] = []
    for item in items:
        for group in groups:
            if alike(group[0], item):
                group.append(item)
                break
        else:
            groups.append([item])
    return groups


def merge_equal(pairs: Sequence[tuple[Any, Any]]) -> list[tuple[sp.Expr, sp.Expr]]:
    """``(value, multiplicity)`` pairs of numbers with equal values merged (multiplicities
    summed), by decreasing value. Exact values merge when they are equal exactly, values
    holding floats (a numerical diagonalisation) when they agree to a relative
    :data:`MERGE_RTOL`."""
    merged: list[tuple[sp.Expr, sp.Expr]] = []
    for value, k in sorted(pairs, key=lambda p: -float(p[0])):
        if merged and same(merged[-1][0], value):
            merged[-1] = (merged[-1][0], sp.sympify(merged[-1][1]) + sp.sympify(k))
        else:
            merged.append((sp.sympify(value), sp.sympify(k)))
    return merged


#: Relative tolerance within which two singular values or eigenvalues holding floats are one.
MERGE_RTOL = 1e-9


def same(a: Any, b: Any) -> bool:
    """``a == b``: exactly for exact numbers and expressions (SymPy), to a relative
    :data:`MERGE_RTOL` for numbers holding floats."""
    a, b = sp.sympify(a), sp.sympify(b)
    if a.is_number and b.is_number:
        fa, fb = complex(a), complex(b)
        if abs(fa - fb) > MERGE_RTOL * max(abs(fa), abs(fb)):
            return False
        return True if a.has(sp.Float) or b.has(sp.Float) else sp.simplify(a - b) == 0
    if differ_somewhere(a, b):      # cheap and exact: then ``simplify`` cannot reach 0
        return False
    return sp.simplify(a - b) == 0


def differ_somewhere(a: sp.Expr, b: sp.Expr) -> bool:
    """True when ``a − b`` is clearly non-zero at one point that every symbol's assumptions
    allow (integers 3, 4, …; other symbols 13/7, 15/7, …), evaluated to 30 digits: then
    ``a`` and ``b`` differ as functions. False when that cannot be shown (a point the
    assumptions forbid, a singular or complex value, or a difference within rounding)."""
    point = _point((a - b).free_symbols)
    if point is None:
        return False
    try:
        va, vb = (complex(e.xreplace(point).evalf(30)) for e in (a, b))
    except (TypeError, ValueError, ZeroDivisionError):
        return False
    if not all(np.isfinite([va.real, va.imag, vb.real, vb.imag])):
        return False
    if abs(va - vb) > 1e-15 * (1.0 + abs(va) + abs(vb)):
        return True
    return _differ_relatively(a, b, point)


def _point(symbols: Any) -> dict[sp.Symbol, sp.Expr] | None:
    """Integers 3, 4, … and other symbols 13/7, 15/7, … in the order of their names; None
    when a symbol's assumptions forbid its value."""
    point = {}
    for i, x in enumerate(sorted(symbols, key=str)):
        v = sp.Integer(3 + i) if x.is_integer else sp.Rational(13 + 2 * i, 7)
        if any(val is not None and getattr(v, f"is_{k}", None) is not val
               for k, val in x.assumptions0.items()):
            return None
        point[x] = v
    return point


def probe(exprs: Sequence[Any]) -> list[complex | None]:
    """The values of ``exprs`` at one point that every symbol's assumptions allow (as
    :func:`differ_somewhere` picks it), each to 30 significant digits; None where a value is
    not known that well (an exact zero written with radicals, a singular point)."""
    exprs = [sp.sympify(e) for e in exprs]
    point = _point(set().union(*(e.free_symbols for e in exprs)))
    return [None] * len(exprs) if point is None else probe_at(exprs, point)


def probe_at(exprs: Sequence[sp.Expr], point: dict[sp.Symbol, sp.Expr]) -> list[complex | None]:
    """The values of ``exprs`` at ``point`` to 30 significant digits, None where unknown."""
    out: list[complex | None] = []
    for e in exprs:
        try:
            v: complex | None = complex(sp.sympify(e).xreplace(point).evalf(30, strict=True))
        except (TypeError, ValueError, ZeroDivisionError, sp.core.evalf.PrecisionExhausted):
            v = None
        out.append(v if v is not None and np.isfinite([v.real, v.imag]).all() else None)
    return out


def probed_apart(u: complex | None, v: complex | None) -> bool:
    """Two :func:`probe` values that show their expressions differ (relatively, to 1e-15)."""
    return u is not None and v is not None and abs(u - v) > 1e-15 * max(abs(u), abs(v))


def _differ_relatively(a: sp.Expr, b: sp.Expr, point: dict[sp.Symbol, sp.Expr]) -> bool:
    """Values far below 1 (a tree's ``s ∝ c^−(D−1)``): compared relatively when both are
    known to 30 significant digits (``evalf(strict=True)`` refuses a value it cannot tell
    from zero, such as an exact zero written with radicals)."""
    va, vb = probe_at((a, b), point)
    return probed_apart(va, vb)


def equal(a: sp.Expr, b: sp.Expr) -> bool:
    diff = sp.sympify(a) - sp.sympify(b)
    if diff.is_number:
        if not (sp.sympify(a).is_number and sp.sympify(b).is_number):
            return diff == 0
        return abs(complex(diff)) <= 1e-12 * max(1.0, abs(complex(a)), abs(complex(b)))
    return sp.simplify(diff) == 0


def clean(expr: sp.Expr) -> sp.Expr:
    """Put a square-root expression in the compact forms of docs/theory/spectrum.md."""
    expr = sp.powsimp(sp.powdenest(expr, force=False))
    if expr.has(sp.Float):   # general data: floats from a numerical diagonalisation
        return expr
    candidates = [expr, sp.factor(expr), sp.simplify(expr)]
    return min(candidates, key=sp.count_ops)
