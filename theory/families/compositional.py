"""The compositional family (``docs/theory/dataset.md``): the paper's family on the hypercube.

From a file it is a :class:`~modspec.theory.dataset.CompositionalDataset` (every existing
route applies); :func:`compositional` writes the same data as a declaration, blocks ``Ox``
(all features), ``Gx`` (identity), ``Oy`` (the first ny features), ``Gy`` (identity), with
the same spectrum.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import sympy as sp

from .. import symbols as sy
from ..dataset import DOMAIN, CompositionalDataset, exact
from ..declaration import DeclaredDataset, Features, Hypercube, Identity
from ..errors import bad
from .registry import Family, register

__all__ = ["canonical_substitution", "compositional", "params_of"]


def params_of(**kw: Any) -> tuple[tuple[str, Any], ...]:
    """A declaration's recorded parameters: the given ones, in order (None left out)."""
    return tuple((k, v) for k, v in kw.items() if v is not None)


def compositional(nx: Any, ny: Any, kx: Any, ky: Any, r: Any = 1, rx: Any = None,
                  ry: Any = None) -> DeclaredDataset:
    """The compositional family as a declaration (``rx``/``ry`` default to ``r``)."""
    rx = r if rx is None else rx
    ry = r if ry is None else ry
    return DeclaredDataset(
        Hypercube(nx),
        (("Ox", Features()), ("Gx", Identity(kx, rx))),
        (("Oy", Features(count=ny)), ("Gy", Identity(ky, ry))),
        "compositional", params_of(nx=nx, ny=ny, kx=kx, ky=ky, rx=rx, ry=ry))


def canonical_substitution(values: Mapping[Any, Any] | None, kw: Mapping[str, Any]) -> dict:
    """Canonical symbol → exact value, checked as :class:`CompositionalDataset` checks its
    parameters (integer sizes in range, ``ny ≤ nx``, scales ≥ 0 whose results fit float64)."""
    if values is not None and not isinstance(values, Mapping):
        raise bad("values", values, "must be a mapping of parameter names to numbers")
    given: dict[str, Any] = {}
    for key, value in {**(values or {}), **kw}.items():
        name = key.name if isinstance(key, sp.Symbol) else str(key)
        if name not in sy.LOCALS:
            raise bad("parameter", name, "must be one of nx, ny, kx, ky, rx, ry, r")
        given[name] = value
    sizes = {k: given[k] for k in ("nx", "ny", "kx", "ky") if k in given}
    scales = {k: given.get(k, None if "r" in given else getattr(sy, k)) for k in ("rx", "ry")}
    base = {k: v for k, v in CompositionalDataset.symbolic().params.items()
            if k not in ("rx", "ry")}
    checked = CompositionalDataset(**(base | sizes), r=given.get("r", sy.r),
                                   **scales).sympy_params
    names = [*sizes, *(k for k in ("rx", "ry") if k in given or "r" in given)]
    mapping: dict[sp.Symbol, sp.Expr] = {getattr(sy, k): checked[getattr(sy, k)]
                                         for k in names}
    for name, value in given.items():
        if name in ("nx", "ny", "kx", "ky", "rx", "ry", "r"):
            continue
        if isinstance(value, (bool, str)) or not isinstance(value, (numbers.Real, sp.Expr)):
            raise bad(name, value, "must be a real number or a SymPy expression")
        mapping[sy.LOCALS[name]] = exact(value)
    return mapping


register(Family(
    "compositional", CompositionalDataset, ("nx", "ny", "kx", "ky", "r", "rx", "ry"),
    required=("nx", "ny", "kx", "ky"), constructor=compositional,
    symbols={"nx": sy.nx, "ny": sy.ny, "kx": sy.kx, "ky": sy.ky, "rx": sy.rx, "ry": sy.ry},
    symbolic=lambda spec: CompositionalDataset.symbolic(), domain=lambda ds: DOMAIN,
    substitute=lambda ds, values, kw: canonical_substitution(values, kw), inline=True))
