"""The code printers of :mod:`modspec.numerics.codegen`: matrix products as ``@``, stacked.

:class:`MatrixNumPyPrinter` prints matrix products with ``@`` (chained in the cheapest order
for the known shapes, :func:`_chain`) and transposes with ``numpy.swapaxes(·, -1, -2)``, so
the same code runs on one matrix or a stacked batch of them; :class:`ArrayPrinter` prints
only ``@``, ``.mT`` and elementwise arithmetic, so its code also steps PyTorch tensors (the
learning rules' terms, :mod:`modspec.numerics.rules`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from modspec.theory.errors import bad

__all__ = ["ArrayPrinter", "MatrixNumPyPrinter"]


class MatrixNumPyPrinter(NumPyPrinter):
    """NumPy printer that keeps matrix expressions batch-safe: ``@`` and ``swapaxes``."""

    def __init__(self, settings: dict | None = None) -> None:
        super().__init__({"fully_qualified_modules": True, **(settings or {})})

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        return str(expr.name)

    def _print_Integer(self, expr: sp.Integer) -> str:
        if abs(int(expr)) <= _EXACT_INT:
            return super()._print_Integer(expr)
        return _float_literal(expr)

    def _print_Rational(self, expr: sp.Rational) -> str:
        if max(abs(int(expr.p)), int(expr.q)) <= _EXACT_INT:
            return super()._print_Rational(expr)
        return _float_literal(expr)

    def _print_Transpose(self, expr: sp.Transpose) -> str:
        return f"{self._module_format('numpy.swapaxes')}({self._print(expr.arg)}, -1, -2)"

    def _print_MatAdd(self, expr: sp.MatAdd) -> str:
        return "(" + " + ".join(self._print(a) for a in expr.args) + ")"

    def _print_MatMul(self, expr: sp.MatMul) -> str:
        coeff, mats = expr.as_coeff_matrices()
        chain = _chain(list(mats), self._print)
        if coeff == 1:
            return chain
        if coeff == -1:
            return f"(-{chain})"
        return f"({self._print(coeff)}*{chain})"

    def _print_MatPow(self, expr: sp.MatPow) -> str:
        base, exp = expr.args
        if exp.is_Integer and exp > 0:
            return _chain([base] * int(exp), self._print)
        return super()._print_MatPow(expr)


class ArrayPrinter(MatrixNumPyPrinter):
    """Printer for code that runs on NumPy arrays and PyTorch tensors alike: matrix products
    with ``@``, transposes as ``.mT``, elementwise arithmetic, no module functions. The
    anti-Hebbian row-norm factor ``diag(1/(1 − ‖W[i,:]‖²))``
    (:class:`modspec.theory.rules.InverseRowNorms`) multiplying ``M`` from the left prints as
    ``(1/(1 - (W*W).sum(-1)))[..., None] * M``."""

    def _print_Transpose(self, expr: sp.Transpose) -> str:
        return f"({self._print(expr.arg)}).mT"

    def _print_MatMul(self, expr: sp.MatMul) -> str:
        from modspec.theory.rules import InverseRowNorms

        coeff, mats = expr.as_coeff_matrices()
        if mats and isinstance(mats[0], InverseRowNorms):
            W = self._print(mats[0].arg)
            rest = sp.MatMul(coeff, *mats[1:]) if len(mats) > 1 else None
            if rest is None:
                raise ValueError("InverseRowNorms needs a matrix to scale")
            return f"((1/(1 - ({W}*{W}).sum(-1)))[..., None] * {self._print(rest)})"
        return super()._print_MatMul(expr)

    def _print_InverseRowNorms(self, expr: Any) -> str:
        raise ValueError("InverseRowNorms prints only as the left factor of a product")


_PRINTERS = {"numpy": MatrixNumPyPrinter, "array": ArrayPrinter}
#: Integers up to 2⁵³ are exact floats and fit NumPy's int64; larger ones (the numerators and
#: denominators of a float given with many digits, ``r = 1.2345678901234567`` → p/10¹⁶, and
#: their powers) are printed as floats, since NumPy ufuncs refuse Python ints past int64.
_EXACT_INT = 2**53


def _float_literal(expr: sp.Rational) -> str:
    """A rational too large for exact integer code, as the correctly rounded float it
    stands for (``int / int`` rounds once); a value past the float range is an error."""
    try:
        value = int(expr.p) / int(expr.q)
    except OverflowError:
        value = float("inf")
    if not np.isfinite(value):
        raise bad("expression constant", f"{float(sp.log(abs(expr), 10)):.0f} decimal digits",
                  "must be within the float range to be printed into generated code")
    return f"({value!r})"


def _chain(mats: list[sp.MatrixExpr], pr: Callable[[Any], str]) -> str:
    """Print ``M1 @ M2 @ …`` parenthesised in the cheapest order (matrix-chain DP).

    Uses the shapes when they are numbers; otherwise multiplies left to right.
    """
    if len(mats) == 1:
        return pr(mats[0])
    try:
        dims = [int(mats[0].shape[0])] + [int(m.shape[1]) for m in mats]
    except TypeError:
        return "(" + " @ ".join(pr(m) for m in mats) + ")"
    n = len(mats)
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            cost[i][j] = None  # type: ignore[call-overload]
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k

    def build(i: int, j: int) -> str:
        if i == j:
            return pr(mats[i])
        k = split[i][j]
        return f"({build(i, k)} @ {build(k + 1, j)})"

    return build(0, n - 1)
