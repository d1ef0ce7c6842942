"""Checked values of dataset parameters: sizes, scales, exact numbers, and the float64 bound.

Every family checks its sizes and scales here (one-line :class:`ModspecError` naming the
parameter, the value and the allowed range); symbols pass unchanged.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from typing import Any

import numpy as np
import sympy as sp

from .errors import bad

__all__ = ["MAX_ENTRIES", "MAX_LOG2", "check_scale", "check_size", "exact", "is_bool",
           "is_symbolic_value", "log2_exact", "sci"]

#: Largest number of matrix entries (X and Y together) that :attr:`X`/:attr:`Y` will build.
MAX_ENTRIES = 50_000_000

#: Every numeric result of the family is a product or ratio of at most four of the quantities
#: ``P = 2**nx``, ``kx``, ``ky``, ``kx·rx²`` and ``ky·ry²`` (e.g. ``m·a*² = P·cy/cx``). Keeping
#: each non-zero one within ``2**±MAX_LOG2`` keeps every result a finite, non-zero float64
#: (whose normal range is ``2**±1022``); in particular ``nx ≤ MAX_LOG2``.
MAX_LOG2 = 255



def is_symbolic_value(value: Any) -> bool:
    """True for a SymPy expression with free symbols (a size or scale left symbolic)."""
    return isinstance(value, sp.Expr) and not value.is_number


def is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_, sp.logic.boolalg.Boolean))


def check_size(name: str, value: Any, minimum: int, maximum: int) -> Any:
    """An integer parameter in ``[minimum, maximum]`` (symbols pass unchanged), else
    :class:`ModspecError` naming ``name``."""
    top = f"2**{maximum.bit_length() - 1}" if maximum > 2**64 else str(maximum)
    allowed = f"must be an integer in [{minimum}, {top}]"
    if is_symbolic_value(value):
        return value
    if is_bool(value) or not isinstance(value, (numbers.Real, sp.Number)):
        raise bad(name, value, allowed)
    if not isinstance(value, (numbers.Integral, sp.Integer)):
        as_float = float(value)
        if not (np.isfinite(as_float) and as_float.is_integer()):
            raise bad(name, value, allowed)
    value = int(value)
    if not minimum <= value <= maximum:
        raise bad(name, value, allowed)
    return value


def check_scale(name: str, value: Any) -> Any:
    """A real scale ≥ 0 (symbols pass unchanged), else :class:`ModspecError` naming ``name``."""
    allowed = "must be a real number ≥ 0"
    if is_symbolic_value(value):
        return value
    numeric = isinstance(value, numbers.Real) or (isinstance(value, sp.Expr)
                                                  and bool(value.is_extended_real))
    if is_bool(value) or not numeric:
        raise bad(name, value, allowed)
    if not np.isfinite(float(value)) or value < 0:
        raise bad(name, value, allowed)
    return value


def exact(value: Any) -> sp.Expr:
    """A number as an exact SymPy number: floats as the decimal they print as (``0.1`` →
    ``1/10``), so that results do not depend on binary round-off; SymPy objects unchanged."""
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, numbers.Integral):
        return sp.Integer(int(value))
    if isinstance(value, numbers.Rational):           # a Fraction: exact as it is, any size
        return sp.Rational(int(value.numerator), int(value.denominator))
    return sp.Rational(repr(float(value)))


def log2_exact(value: Any) -> float:
    """``log2`` of a positive real, exactly for huge integers and fractions."""
    if isinstance(value, sp.Basic) and not value.is_Rational:
        return float(sp.log(value, 2).evalf())
    q = Fraction(int(value.p), int(value.q)) if isinstance(value, sp.Basic) else Fraction(value)
    return math.log2(q.numerator) - math.log2(q.denominator)


def sci(value: Any) -> str:
    """``3e+600``-style text for a positive real of any size (float64 may not hold it)."""
    exponent = log2_exact(value) * math.log10(2)
    whole = math.floor(exponent)
    return f"{10 ** (exponent - whole):.3g}e{whole:+d}"
