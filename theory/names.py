"""Names that reach generated code, printers and caches: checked where they come in.

Block names of datasets, rule names and coefficient symbols travel from a user's file or
Python object into generated source (docstrings, argument lists), LaTeX and JSON. A name is
therefore checked once, where it enters the library, against a strict pattern:

* :data:`NAME` — block and symbol names: a letter, then letters, digits or ``_`` (at most
  64 characters). ``Oy``, ``xor``, ``kappa``, ``Sigma_yx``.
* :data:`RULE_NAME` — rule names may also use ``-``: ``gradient-descent``, ``weight-decay``.

Anything else is refused with one line (:class:`~modspec.theory.errors.ModspecError`).
The checks are a first wall; the second is that code generators never splice a name into
source unescaped (:func:`checked_lambdify` and :mod:`modspec.numerics.codegen` compile only
expressions whose every symbol is one they were given, with an identifier name).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .errors import bad

__all__ = ["NAME", "RULE_NAME", "check_block_name", "check_name", "check_rule_name",
           "checked_lambdify", "code_symbols"]

#: Block and symbol names.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
#: Rule names (``-`` allowed).
RULE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


def _check(what: str, name: Any, pattern: re.Pattern[str], allowed: str) -> str:
    if not isinstance(name, str) or not pattern.fullmatch(name):
        raise bad(what, name if isinstance(name, str) and len(name) <= 80
                  else (name[:77] + "..." if isinstance(name, str) else name), allowed)
    return name


def check_name(what: str, name: Any) -> str:
    """``name`` if it is a letter followed by at most 63 letters, digits or ``_``; otherwise
    :class:`~modspec.theory.errors.ModspecError` naming ``what``."""
    return _check(what, name, NAME,
                  "must be a letter followed by letters, digits or _ (at most 64 characters)")


def check_block_name(name: Any, seen: set[str]) -> str:
    """A block name (:func:`check_name`) not yet in ``seen`` (the names of the dataset's
    inputs and outputs so far), to which it is added."""
    check_name("block name", name)
    if name in seen:
        raise bad("block name", name, "must be unique across inputs and outputs")
    seen.add(name)
    return name


def check_rule_name(name: Any) -> str:
    """A rule's name: like :func:`check_name`, ``-`` allowed."""
    return _check("rule name", name, RULE_NAME,
                  "must be a letter followed by letters, digits, _ or - (at most 64 "
                  "characters)")


def code_symbols(expr: Any) -> set[Any]:
    """The symbols of ``expr`` a code printer would write out by name (Symbols,
    MatrixSymbols and undefined functions), for checks before compiling."""
    import sympy as sp
    from sympy.core.function import AppliedUndef

    exprs = list(expr) if isinstance(expr, (list, tuple)) else [expr]
    out: set[Any] = set()
    for e in exprs:
        e = sp.sympify(e) if isinstance(e, (int, float)) else e
        out |= set(e.atoms(sp.Symbol, sp.MatrixSymbol))
        out |= {f.func for f in e.atoms(AppliedUndef)}
    return out


def checked_lambdify(args: Sequence[Any], expr: Any, modules: str = "math") -> Any:
    """``sympy.lambdify(args, expr, modules)`` after checking that every symbol of ``expr``
    is one of ``args``, that each argument's name is an identifier, and that ``expr`` calls
    no undefined function: what is compiled never carries text from elsewhere (a cached
    tree, a user's symbol) into the generated source.

    Raises :class:`ValueError` otherwise (callers treat a stored expression that fails as a
    miss).
    """
    import sympy as sp

    allowed = set(args)
    for a in args:
        if not isinstance(a, (sp.Symbol, sp.MatrixSymbol)) or not str(a.name).isidentifier():
            raise ValueError(f"argument {a!r} is not a symbol with an identifier name")
    stray = [s for s in code_symbols(expr) if s not in allowed]
    if stray:
        raise ValueError(f"expression uses symbols or functions outside its arguments: "
                         f"{sorted(map(repr, stray))[:3]}")
    return sp.lambdify(list(args), expr, modules)

