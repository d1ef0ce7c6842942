"""The canonical SymPy symbols of modspec.

Every symbolic result is written in these symbols, with these assumptions, so that
expressions produced by different parts of the library combine and compare:

* sizes ``nx`` (≥ 1), ``ny``, ``kx``, ``ky`` (≥ 0) are integers;
* identity scales ``rx``, ``ry`` are non-negative reals;
* time ``t`` and time constant ``tau`` are in epochs of full-batch gradient descent,
  ``tau = 1 / (P * lr)``; ``a0`` is the initial mode strength.

``sympy.sympify`` of a printed expression reads back the same symbols when given
:data:`LOCALS`.
"""

from __future__ import annotations

import re

import sympy as sp

nx = sp.Symbol("nx", integer=True, positive=True)
ny = sp.Symbol("ny", integer=True, nonnegative=True)
kx = sp.Symbol("kx", integer=True, nonnegative=True)
ky = sp.Symbol("ky", integer=True, nonnegative=True)
rx = sp.Symbol("rx", nonnegative=True)
ry = sp.Symbol("ry", nonnegative=True)
r = sp.Symbol("r", nonnegative=True)

t = sp.Symbol("t", nonnegative=True)
tau = sp.Symbol("tau", positive=True)
a0 = sp.Symbol("a0", positive=True)
lr = sp.Symbol("lr", positive=True)
s = sp.Symbol("s", positive=True)
lam = sp.Symbol("lambda", positive=True)
a = sp.Symbol("a", real=True)

DATASET_SYMBOLS = (nx, ny, kx, ky, rx, ry)
LOCALS: dict[str, sp.Symbol] = {
    sym.name: sym for sym in (nx, ny, kx, ky, rx, ry, r, t, tau, a0, lr, s, lam, a)
}
LOCALS["lam"] = lam


def parse(text: str) -> sp.Expr:
    """Read an expression printed by modspec back into the canonical symbols.

    ``lambda`` (how SymPy prints :data:`lam`) is a Python keyword that ``sympify`` cannot
    parse, so the word is read as ``lam`` first."""
    return sp.sympify(re.sub(r"\blambda\b", "lam", text), locals=LOCALS)
