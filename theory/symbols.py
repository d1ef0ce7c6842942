"""The canonical SymPy symbols of modspec.

Every symbolic result is written in these symbols, with these assumptions, so that
expressions produced by different parts of the library combine and compare:

* sizes ``nx`` (≥ 1), ``ny``, ``kx``, ``ky`` (≥ 0) are integers;
* identity scales ``rx``, ``ry`` are non-negative reals;
* time ``t`` and time constant ``tau`` are in epochs of full-batch gradient descent,
  ``tau = 1 / (P * lr)``; ``a0`` is the initial mode strength.

Two printers write expressions for people and files:

* :func:`to_text` — text that plain ``sympy.sympify`` reads back (``lam`` for λ, since
  ``lambda`` is a Python keyword; ``transpose(W)`` for ``Wᵀ``; ``W_A_1`` for the weight
  ``W_{A,1}``, :func:`text_name`); :func:`parse` reads it into these very symbols;
* :func:`to_latex` — LaTeX in the paper's notation (``n_{x}``, ``k_{x}``, ``r_{x}``, ``\\lambda``).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from typing import Any

import sympy as sp
from sympy.printing.str import StrPrinter

from .errors import bad
from .sympy_compat import install as _install_sympy_fix

_install_sympy_fix()

# The symbols by their assumptions (module docstring): sizes, scales and time, rates and
# strengths (``lam`` is named ``lambda``), and a real mode strength.
nx = sp.Symbol("nx", integer=True, positive=True)
ny, kx, ky = sp.symbols("ny kx ky", integer=True, nonnegative=True)
rx, ry, r, t = sp.symbols("rx ry r t", nonnegative=True)
tau, a0, lr, s, lam = sp.symbols("tau a0 lr s lambda", positive=True)
a = sp.Symbol("a", real=True)

DATASET_SYMBOLS = (nx, ny, kx, ky, rx, ry)
LOCALS: dict[str, sp.Symbol] = {
    sym.name: sym for sym in (nx, ny, kx, ky, rx, ry, r, t, tau, a0, lr, s, lam, a)
}
LOCALS["lam"] = lam


__all__ = ["nx", "ny", "kx", "ky", "rx", "ry", "r", "t", "tau", "a0", "lr", "s", "lam", "a",
           "DATASET_SYMBOLS", "FUNCTIONS", "LOCALS", "LATEX_BY_NAME", "LATEX_NAMES",
           "check_text", "text_name", "to_text", "to_latex", "parse"]

#: LaTeX of the canonical symbols in the paper's notation.
LATEX_NAMES: dict[sp.Symbol, str] = {
    nx: "n_{x}", ny: "n_{y}", kx: "k_{x}", ky: "k_{y}", rx: "r_{x}", ry: "r_{y}", a0: "a_{0}",
    lam: r"\lambda", tau: r"\tau", lr: r"\eta"}


def text_name(name: str) -> str:
    """A symbol's name as plain ``sympy.sympify`` reads it: ``lam`` for ``lambda``; the
    separators of a sub- or superscript (``,`` ``^``, which LaTeX prints ``W_{A,1}``,
    ``\\Sigma_{yx}^{Oy,A}``) become ``_``: ``W_A,1`` → ``W_A_1``, ``W_B,2^Oy`` → ``W_B_2_Oy``,
    ``Sigma_yx^Oy,A`` → ``Sigma_yx_Oy_A``."""
    if name == "lambda":
        return "lam"
    return re.sub(r"_+", "_", re.sub(r"[^0-9A-Za-z_]", "_", name))


class _TextPrinter(StrPrinter):
    """``str`` with sympify-safe names (:func:`text_name`: ``lam`` for the symbol
    ``lambda``, ``W_A_1`` for ``W_A,1``) and ``transpose(W)`` for ``W.T``."""

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return text_name(expr.name)

    def _print_MatrixSymbol(self, expr: Any) -> str:
        return text_name(expr.name)

    def _print_Transpose(self, expr: Any) -> str:
        return f"transpose({self._print(expr.arg)})"


def to_text(expr: Any) -> str:
    """Text of a SymPy object that plain ``sympy.sympify`` reads back (:func:`parse` reads
    it into the canonical symbols, with their assumptions)."""
    return _TextPrinter().doprint(expr)


#: LaTeX of symbols by name, whatever their assumptions (a user's ``Symbol("nx")``, a
#: rule's coefficient ``nabla``): the paper's notation.
LATEX_BY_NAME: dict[str, str] = {
    **{sym.name: tex for sym, tex in LATEX_NAMES.items()}, "lam": r"\lambda",
    "nabla": r"\nabla", "gamma": r"\gamma", "kappa": r"\kappa"}


def to_latex(expr: Any, names: Mapping[sp.Symbol, str] | None = None, **options: Any) -> str:
    """LaTeX in the paper's notation (:data:`LATEX_NAMES`, symbols of the same names
    (:data:`LATEX_BY_NAME`: a rule's ``nabla`` → ``\\nabla``), plus ``names`` for other
    symbols), e.g. ``2^{- n_{x}} k_{x} r_{x}^{2}``."""
    by_name = {s: LATEX_BY_NAME[s.name] for s in getattr(expr, "free_symbols", ())
               if isinstance(s, sp.Symbol) and s.name in LATEX_BY_NAME}
    return sp.latex(expr, symbol_names={**by_name, **LATEX_NAMES, **(names or {})},
                    **options)


def parse(text: str) -> sp.Expr:
    """Read an expression printed by modspec (:func:`to_text` or ``str``) back into the
    canonical symbols.

    ``lambda`` (how ``str`` prints :data:`lam`) is a Python keyword that ``sympify`` cannot
    parse, so the word is read as ``lam`` first. The text is checked before SymPy reads it
    (:func:`check_text`): numbers, arithmetic, brackets and commas, and names that are either
    SymPy's mathematical functions and constants or new symbols — no attribute access, no
    Python built-ins — so reading a file's text never runs code."""
    text = re.sub(r"\blambda\b", "lam", text)
    check_text(text)
    return sp.sympify(text, locals=LOCALS)


#: Functions and constants :func:`parse` lets text name (everything else must be a new symbol).
FUNCTIONS = frozenset({
    "exp", "log", "sqrt", "Abs", "sign", "re", "im", "conjugate", "floor", "ceiling", "Max",
    "Min", "Heaviside", "sin", "cos", "tan", "cot", "asin", "acos", "atan", "acot", "atan2",
    "sinh", "cosh", "tanh", "coth", "asinh", "acosh", "atanh", "LambertW", "Piecewise",
    "Eq", "Ne", "Lt", "Le", "Gt", "Ge", "And", "Or", "Not", "pi", "E", "I", "oo", "zoo", "nan",
    "Rational", "Integer", "Float", "Derivative", "transpose", "Transpose", "true", "false",
    "True", "False",
})
_OPERATORS = frozenset({"+", "-", "*", "/", "**", "(", ")", ",", "<", ">", "<=", ">=", "==",
                        "!=", "&", "|", "~", "^", "[", "]"})


def _readable_name(name: str, builtins: Any) -> bool:
    if name in FUNCTIONS or name in LOCALS:
        return True
    if name.startswith("_") or keyword.iskeyword(name) or hasattr(builtins, name):
        return False
    if hasattr(sp, name):  # SymPy's own objects: mathematical classes and constants only
        obj = getattr(sp, name)
        return isinstance(obj, sp.Basic) or (isinstance(obj, type) and issubclass(obj, sp.Basic))
    return True


def check_text(text: str) -> None:
    """Refuse (one-line :class:`~modspec.theory.errors.ModspecError`) text that is anything
    but an expression: every name must be one of :data:`FUNCTIONS`, a canonical symbol, or a
    new symbol name (not a Python built-in, not another SymPy name, no leading ``_``); the
    only operators are arithmetic, comparison, logic, brackets and commas."""
    import builtins
    import io
    import tokenize

    if not isinstance(text, str) or len(text) > 100_000:
        raise bad("expression", text if not isinstance(text, str) else text[:60],
                  "must be text of at most 100000 characters")
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        raise bad("expression", text[:60], f"is not an expression ({exc})") from None
    for tok in tokens:
        if tok.type in (tokenize.NUMBER, tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER):
            continue
        if tok.type == tokenize.OP and tok.string in _OPERATORS:
            continue
        if tok.type == tokenize.NAME and _readable_name(tok.string, builtins):
            continue
        raise bad("expression", text[:60], f"may not contain {tok.string!r}: only numbers, "
                  "arithmetic, symbols and SymPy's mathematical functions are read")
