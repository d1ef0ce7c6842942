"""SymPy expressions as JSON trees, read back by a parser, never evaluated as code.

A stored expression must come back exactly (``==``) and reading it must run nothing but the
construction of whitelisted SymPy objects. Text forms fail the second requirement: ``srepr``
and ``str`` are read by ``sympify``, which evaluates Python. So an expression is written as a
tree of plain JSON values:

* ``["Symbol", name, {assumption: bool, ...}]`` — a symbol with its assumptions
  (``positive``, ``real``, … — only names SymPy knows as ``is_<name>``);
* ``["Integer", "12"]``, ``["Rational", "1", "2"]`` — exact numbers as decimal digit strings;
* ``["Float", [sign, mantissa_hex, exponent, bitcount], precision]`` — SymPy's own exact
  binary form of a float (no decimal rounding);
* ``["S", "Pi"]`` — a named constant (``Pi``, ``Exp1``, ``ImaginaryUnit``, ``Infinity``, …);
* ``[Class, child, child, ...]`` — any other node, ``Class`` one of :data:`CLASSES`
  (``Add``, ``Mul``, ``Pow``, ``exp``, ``log``, ``Abs``, ``atan``, ``Piecewise``, relations, …).

:func:`from_tree` rebuilds a node as ``Class(*children, evaluate=False)``: for an expression
that SymPy built (canonical, as every stored one is) ``e == e.func(*e.args)`` and with
``evaluate=False`` nothing is simplified or computed, so the result equals the original and a
crafted tree (``10**(10**9)``) costs no more than its size. Any tag outside the whitelist, a
malformed node or an over-deep tree is a :class:`ValueError`; :func:`to_tree` raises
:class:`TypeError` for an expression it cannot write (``Dummy``, undefined functions,
integrals), so it is never stored in a form that would read back differently.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

__all__ = ["CLASSES", "CONSTANTS", "from_tree", "to_tree"]

#: Classes a tree may name, by their SymPy class name.
CLASSES: dict[str, type] = {cls.__name__: cls for cls in (
    sp.Add, sp.Mul, sp.Pow, sp.exp, sp.log, sp.LambertW, sp.Abs, sp.sign, sp.re, sp.im,
    sp.conjugate, sp.arg, sp.floor, sp.ceiling, sp.Max, sp.Min, sp.Heaviside,
    sp.sin, sp.cos, sp.tan, sp.cot, sp.asin, sp.acos, sp.atan, sp.acot, sp.atan2,
    sp.sinh, sp.cosh, sp.tanh, sp.coth, sp.asinh, sp.acosh, sp.atanh,
    sp.Piecewise, sp.Equality, sp.Unequality, sp.StrictLessThan, sp.LessThan,
    sp.StrictGreaterThan, sp.GreaterThan, sp.And, sp.Or, sp.Not,
)}
#: Classes built without the ``evaluate`` option (they never evaluate).
_PLAIN: dict[str, type] = {"ExprCondPair": sp.functions.elementary.piecewise.ExprCondPair,
                           "Tuple": sp.Tuple}

#: Named constants, by their SymPy class name.
CONSTANTS: dict[str, sp.Basic] = {type(c).__name__: c for c in (
    sp.pi, sp.E, sp.I, sp.oo, -sp.oo, sp.zoo, sp.nan, sp.EulerGamma, sp.Catalan,
    sp.GoldenRatio, sp.true, sp.false,
)}

#: Deeper trees are refused (the project's expressions are a few tens of levels deep).
MAX_DEPTH = 200


def to_tree(expr: sp.Basic) -> Any:
    """The JSON tree of ``expr`` (lists, strings, numbers, dicts); see the module docstring."""
    if not isinstance(expr, sp.Basic):
        raise TypeError(f"cannot store {type(expr).__name__} {expr!r}: not a SymPy object")
    if isinstance(expr, sp.Dummy) or type(expr) is not sp.Symbol and isinstance(expr, sp.Symbol):
        raise TypeError(f"cannot store {type(expr).__name__} {expr}: only plain Symbols")
    if isinstance(expr, sp.Symbol):
        (name,), facts = expr.__getnewargs_ex__()  # the assumptions it was made with
        return ["Symbol", name, dict(sorted(facts.items()))]
    if isinstance(expr, sp.Integer):
        return ["Integer", str(int(expr))]
    if isinstance(expr, sp.Rational):
        return ["Rational", str(expr.p), str(expr.q)]
    if isinstance(expr, sp.Float):
        (mpf,), options = expr.__getnewargs_ex__()
        return ["Float", list(mpf), int(options["precision"])]
    name = type(expr).__name__
    if CONSTANTS.get(name) is expr:
        return ["S", name]
    if CLASSES.get(name) is type(expr) or _PLAIN.get(name) is type(expr):
        return [name, *(to_tree(a) for a in expr.args)]
    raise TypeError(f"cannot store {name} {expr}: not among the stored SymPy classes")


def from_tree(tree: Any) -> sp.Basic:
    """Rebuild the expression of ``tree``; :class:`ValueError` for anything not a valid tree.

    Only whitelisted SymPy classes are constructed; no text is parsed as an expression.
    """
    return _build(tree, 0)


def _build(tree: Any, depth: int) -> sp.Basic:
    if depth > MAX_DEPTH:
        raise ValueError(f"expression tree deeper than {MAX_DEPTH}")
    if not isinstance(tree, list) or not tree or not isinstance(tree[0], str):
        raise ValueError(f"not an expression node: {_short(tree)}")
    tag, rest = tree[0], tree[1:]
    if tag == "Symbol":
        return _symbol(rest)
    if tag == "Integer" and _strings(rest, 1):
        return sp.Integer(int(rest[0]))
    if tag == "Rational" and _strings(rest, 2):
        p, q = int(rest[0]), int(rest[1])
        if q <= 0:
            raise ValueError(f"Rational with denominator {q}")
        return sp.Rational(p, q)
    if tag == "Float":
        return _float(rest)
    if tag == "S" and _strings(rest, 1) and rest[0] in CONSTANTS:
        return CONSTANTS[rest[0]]
    args = [_build(a, depth + 1) for a in rest]
    try:
        if tag in CLASSES:
            return CLASSES[tag](*args, evaluate=False)
        if tag in _PLAIN:
            return _PLAIN[tag](*args)
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"cannot build {tag} from {len(args)} arguments: {exc}") from exc
    raise ValueError(f"not an expression node: {_short(tree)}")


def _strings(rest: list, n: int) -> bool:
    if len(rest) != n or not all(isinstance(x, str) for x in rest):
        raise ValueError(f"expected {n} digit strings, got {_short(rest)}")
    return True


def _symbol(rest: list) -> sp.Symbol:
    if (len(rest) != 2 or not isinstance(rest[0], str) or not rest[0]
            or not isinstance(rest[1], dict)):
        raise ValueError(f"not a symbol: {_short(rest)}")
    facts = rest[1]
    for k, v in facts.items():
        if not isinstance(v, bool) or not isinstance(getattr(sp.Basic, f"is_{k}", None),
                                                     property):
            raise ValueError(f"symbol {rest[0]!r}: unknown assumption {k}={_short(v)}")
    return sp.Symbol(rest[0], **facts)


def _float(rest: list) -> sp.Float:
    if (len(rest) != 2 or not isinstance(rest[0], list) or len(rest[0]) != 4
            or not isinstance(rest[1], int) or not 1 <= rest[1] <= 100_000):
        raise ValueError(f"not a float: {_short(rest)}")
    sign, man, exp, bits = rest[0]
    if (sign not in (0, 1) or not isinstance(man, str) or not isinstance(exp, int)
            or not isinstance(bits, int)):
        raise ValueError(f"not a float: {_short(rest)}")
    int(man, 16)  # a hexadecimal mantissa, or ValueError
    return sp.Float((sign, man, exp, bits), precision=rest[1])


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."
