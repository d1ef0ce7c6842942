"""SymPy → NumPy code generation: CSE, matrix-level printing, readable cached source.

:func:`generate` turns named SymPy expressions (scalars or matrix expressions in
``MatrixSymbol`` arguments) into one Python function ``f(arg0, arg1, ...) -> tuple`` whose
source

* starts with a docstring listing what it was generated from, the arguments in order with
  their units, and the outputs;
* computes common subexpressions once, as temporaries ``x0, x1, …`` (``sympy.cse``);
* prints matrix products with ``@`` (chained in the cheapest order for the known shapes) and
  transposes with ``numpy.swapaxes(·, -1, -2)``, so the same code runs on one matrix or on a
  stacked batch ``(..., rows, cols)`` of them. (SymPy's default NumPy printer emits ``.dot``,
  which on stacked inputs becomes a tensor product that can try to allocate tens of GiB.)
* prints ``1 − e^z`` helpers of :mod:`modspec.numerics.stable` as ``-numpy.expm1(z)``.

Generated source is stored in the checksummed cache of :mod:`modspec.numerics.cache`; a
second process that needs the same function reads it back instead of regenerating it. Only a
body whose SHA-256 matches the one recorded with it, in a cache folder no one else can write,
is imported; anything else is regenerated (and inside :func:`modspec.theory.cache.disabled`
the disk is not touched). An
optional ``symengine`` backend (``backend="symengine"``, scalar expressions only) uses
symengine's ``Lambdify`` with CSE when symengine is installed.
"""

from __future__ import annotations

import importlib.util
import keyword
import linecache
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from modspec.theory.errors import bad

from . import cache
from .array_printers import _PRINTERS, ArrayPrinter, MatrixNumPyPrinter

#: ``ArrayPrinter`` and ``MatrixNumPyPrinter`` (:mod:`.array_printers`) are public here as before.
__all__ = ["ArrayPrinter", "CODEGEN_VERSION", "Generated", "MatrixNumPyPrinter", "cache_key",
           "doc_text", "generate", "python_name", "render", "symengine_available"]

#: Bump when the generated source changes shape: old cache entries then go stale.
CODEGEN_VERSION = "3"

_CACHE_KIND = "codegen"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_memory: dict[str, Callable[..., Any]] = {}


@dataclass(frozen=True, eq=False)
class Generated:
    """A generated function and its provenance.

    ``func(*args)`` takes the arguments in the order of ``args`` (Python names) and returns a
    tuple in the order of ``outputs``. ``source`` is the readable generated code (empty for
    the symengine backend); ``from_cache`` says whether it was read back from disk.
    """

    name: str
    args: tuple[str, ...]
    outputs: tuple[str, ...]
    source: str
    key: str
    func: Callable[..., tuple]
    from_cache: bool = False
    backend: str = "numpy"
    symbols: tuple[Any, ...] = field(default=(), repr=False)

    def __call__(self, *args: Any) -> tuple:
        return self.func(*args)

    def as_dict(self, *args: Any) -> dict[str, Any]:
        """Call and name the outputs."""
        return dict(zip(self.outputs, self.func(*args), strict=True))


def python_name(name: str, taken: set[str] | None = None) -> str:
    """A valid, non-keyword identifier for a symbol name (``lambda`` → ``lambda_``)."""
    out = re.sub(r"\W", "_", name)
    if not out or out[0].isdigit() or out.startswith("__"):
        out = "s_" + out
    if keyword.iskeyword(out) or re.fullmatch(r"x\d+", out) or out in {"numpy", "scipy"}:
        out += "_"
    while taken is not None and out in taken:
        out += "_"
    return out


def _rename(args: Sequence[Any]) -> tuple[dict[Any, Any], tuple[str, ...]]:
    mapping: dict[Any, Any] = {}
    names: list[str] = []
    taken: set[str] = set()
    for a in args:
        if not isinstance(a, (sp.Symbol, sp.MatrixSymbol)):
            raise bad("args", a, "must be SymPy Symbols or MatrixSymbols")
        n = python_name(str(a.name), taken)
        taken.add(n)
        names.append(n)
        if isinstance(a, sp.MatrixSymbol):
            mapping[a] = sp.MatrixSymbol(n, *a.shape)
        else:
            mapping[a] = sp.Symbol(n, **a.assumptions0)
    if len(set(args)) != len(args):
        raise bad("args", [str(a) for a in args], "must be distinct")
    return mapping, tuple(names)


def cache_key(name: str, outputs: Mapping[str, Any], args: Sequence[Any], use_cse: bool,
              description: str, units: Mapping[str, str], printer: str = "numpy") -> str:
    """Content hash of everything the generated source depends on."""
    parts = [] if printer == "numpy" else [printer]
    return cache.content_key(
        "modspec-codegen", CODEGEN_VERSION, sp.__version__, np.__version__, name,
        repr([(k, sp.srepr(v)) for k, v in outputs.items()]),
        repr([sp.srepr(a) for a in args]), str(use_cse), description,
        repr(sorted(units.items())), *parts,
    )


def render(name: str, outputs: Mapping[str, Any], args: Sequence[Any], *, use_cse: bool = True,
           description: str = "", units: Mapping[str, str] | None = None, key: str = "",
           printer: str = "numpy") -> str:
    """The generated Python source (a module defining one function ``name``)."""
    units = dict(units or {})
    mapping, names = _rename(args)
    exprs = [sp.sympify(e).xreplace(mapping) if not isinstance(e, sp.MatrixExpr)
             else e.xreplace(mapping) for e in outputs.values()]
    _check_printable(exprs)
    printer = _PRINTERS[printer]()
    if use_cse:
        temps, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("x"), order="none")
    else:
        temps, reduced = [], exprs
    lines = []
    for sym, value in temps:
        lines.append(f"{printer._print(sym)} = {printer.doprint(value)}")
    results = [printer.doprint(e) for e in reduced]
    arg_doc = "\n".join(
        f"    {n:<12} {_line(str(a)):<12} {_line(units.get(str(a), units.get(n, '')))}".rstrip()
        for n, a in zip(names, args, strict=True)
    )
    out_doc = "\n".join(f"    {i}: {_line(str(k))}" for i, k in enumerate(outputs))
    header = '"""' + doc_text(textwrap.dedent(f'''\
        Generated by modspec.numerics.codegen (version {CODEGEN_VERSION}); do not edit.

        {{description}}

        Arguments, in order (python name, symbol, units):
        {{args}}
        Returns a tuple, in order:
        {{outs}}
        Temporaries x0, x1, ... are common subexpressions (sympy.cse={use_cse}).
        Matrix arguments may be stacked batches (..., rows, cols): products use @.
        Key: {key}
        ''').format(description=description or "Generated from SymPy expressions.",
                     args=arg_doc, outs=out_doc)) + '"""\n'
    body = "\n".join(f"    {line}" for line in lines)
    ret = ",\n        ".join(results)
    src = (f"{header}\nimport numpy\n\n\ndef {name}({', '.join(names)}):\n"
           f"    \"\"\"See the module docstring.\"\"\"\n"
           + (body + "\n" if body else "")
           + f"    return (\n        {ret},\n    )\n")
    return src


def doc_text(text: str) -> str:
    """``text`` escaped for the inside of a ``\"\"\"`` docstring: backslashes and every ``"``
    are escaped and characters that are not printable (``\\n`` aside) are written as escapes,
    so no text, whatever it holds, can end the string literal or add a line of code."""
    out = []
    for ch in text:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n" or ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def _line(text: str) -> str:
    """One docstring line: line breaks written as ``\\n``."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _check_printable(exprs: Sequence[Any]) -> None:
    """Refuse expressions whose printed code would carry a name that is not a plain ASCII
    identifier (arguments are renamed by :func:`python_name` before this; shape symbols,
    bound and dummy symbols are printed by name too) or call an undefined function: no text
    reaches the source except as an identifier."""
    from sympy.core.function import AppliedUndef

    for e in exprs:
        for s in e.atoms(sp.Symbol, sp.MatrixSymbol):
            name = str(s.name)
            if not _IDENTIFIER.fullmatch(name) or keyword.iskeyword(name) \
                    or name.startswith("__"):
                raise bad("expression symbol", name, "must be a plain identifier "
                          "(letters, digits, _) to be printed into generated code")
        undefined = {type(f).__name__ for f in e.atoms(AppliedUndef)}
        if undefined:
            raise bad("expression function", sorted(undefined)[0],
                      "is not a function code generation knows")


def _load(source: str, name: str, filename: str) -> Callable[..., tuple]:
    namespace: dict[str, Any] = {}
    code = compile(source, filename, "exec")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(code, namespace)  # noqa: S102 - our own generated source
    func = namespace[name]
    if not callable(func):
        raise TypeError(f"generated {name} is not callable")
    return func


def generate(outputs: Mapping[str, Any], args: Sequence[Any], *, name: str = "f",
             description: str = "", units: Mapping[str, str] | None = None,
             use_cse: bool = True, use_cache: bool = True,
             backend: str = "numpy", printer: str = "numpy") -> Generated:
    """Generate (or fetch from the cache) a NumPy function of ``args`` returning ``outputs``.

    ``outputs`` maps names to SymPy scalar or matrix expressions; ``args`` are the Symbols and
    MatrixSymbols they depend on, in call order (every free symbol must be listed).
    ``units`` maps argument names to a unit string for the docstring (e.g. ``"epochs"``).
    ``backend="symengine"`` compiles scalar expressions with symengine (not cached on disk).
    With ``use_cache=False`` (or inside :func:`modspec.theory.cache.disabled`) the disk cache
    is neither read nor written. ``printer="array"`` (:class:`ArrayPrinter`) writes code that
    also runs on PyTorch tensors.
    """
    if backend not in ("numpy", "symengine"):
        raise bad("backend", backend, "must be 'numpy' or 'symengine'")
    if printer not in _PRINTERS:
        raise bad("printer", printer, f"must be one of {', '.join(_PRINTERS)}")
    outputs = dict(outputs)
    args = list(args)
    units = dict(units or {})
    free: set[Any] = set()
    for e in outputs.values():
        free |= {s for s in sp.sympify(e).free_symbols if not isinstance(s, sp.Dummy)} \
            if not isinstance(e, sp.MatrixExpr) else set(e.free_symbols)
    missing = {s for s in free if s not in set(args) and not isinstance(s, sp.MatrixSymbol)}
    missing |= {s for s in free if isinstance(s, sp.MatrixSymbol) and s not in set(args)}
    if missing:
        raise bad("args", [str(a) for a in args],
                  f"must include every free symbol; missing {sorted(map(str, missing))}")
    if backend == "symengine":
        return _symengine(outputs, args, name, use_cse)
    pyname = python_name(name)
    key = cache_key(pyname, outputs, args, use_cse, description, units, printer)
    _, names = _rename(args)
    filename = str(cache.entry_path(_CACHE_KIND, key))
    if key in _memory:
        func = _memory[key]
        src = linecache.cache.get(filename, (0, None, [""], ""))[2]
        return Generated(pyname, names, tuple(outputs), "".join(src), key, func, True)
    source = cache.read(_CACHE_KIND, key) if use_cache else None
    from_cache = source is not None
    func = None
    if source is not None:
        try:
            func = _load(source, pyname, filename)
        except Exception:  # a stale or damaged entry: regenerate below
            cache.discard(_CACHE_KIND, key)
            source, from_cache, func = None, False, None
    if func is None:
        source = render(pyname, outputs, args, use_cse=use_cse, description=description,
                        units=units, key=key, printer=printer)
        func = _load(source, pyname, filename)
        if use_cache:
            cache.write(_CACHE_KIND, key, source)
    _memory[key] = func
    return Generated(pyname, names, tuple(outputs), source, key, func, from_cache)


def symengine_available() -> bool:
    """True when the optional symengine backend can be used."""
    return importlib.util.find_spec("symengine") is not None


def _symengine(outputs: Mapping[str, Any], args: Sequence[Any], name: str,
               use_cse: bool) -> Generated:
    if not symengine_available():
        raise bad("backend", "symengine", "needs the symengine package (pip install symengine)")
    import symengine as se

    if any(isinstance(e, sp.MatrixExpr) for e in outputs.values()):
        raise bad("backend", "symengine", "supports scalar expressions only; use 'numpy'")
    from .stable import unstable

    exprs = [unstable(sp.sympify(e)) for e in outputs.values()]
    lam = se.Lambdify(list(args), exprs, cse=use_cse)
    n_out = len(exprs)

    def func(*values: Any) -> tuple:
        arrays = np.broadcast_arrays(*[np.asarray(v, dtype=float) for v in values])
        shape = arrays[0].shape if arrays else ()
        stacked = np.stack([a.ravel() for a in arrays], axis=-1) if arrays else np.zeros((1, 0))
        res = np.asarray(lam(stacked)).reshape(stacked.shape[0], n_out)
        return tuple(res[:, i].reshape(shape) for i in range(n_out))

    _, names = _rename(args)
    key = cache.content_key("symengine", repr([sp.srepr(e) for e in exprs]))
    return Generated(python_name(name), names, tuple(outputs), "", key, func, False,
                     "symengine")
