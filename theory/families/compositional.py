"""The compositional family (``docs/theory/dataset.md``): the paper's family on the hypercube.

From a file it is a :class:`~modspec.theory.dataset.CompositionalDataset` (every existing
route applies); :func:`compositional` writes the same data as a declaration, blocks ``Ox``
(all features), ``Gx`` (identity), ``Oy`` (the first ny features), ``Gy`` (identity), with
the same spectrum.
"""

from __future__ import annotations

from typing import Any

from .. import symbols as sy
from ..dataset import DOMAIN, CompositionalDataset, canonical_substitution
from ..declaration import DeclaredDataset, Features, Hypercube, Identity
from .registry import Family, register

__all__ = ["compositional", "params_of"]


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


register(Family(
    "compositional", CompositionalDataset, ("nx", "ny", "kx", "ky", "r", "rx", "ry"),
    required=("nx", "ny", "kx", "ky"), constructor=compositional,
    symbols={"nx": sy.nx, "ny": sy.ny, "kx": sy.kx, "ky": sy.ky, "rx": sy.rx, "ry": sy.ry},
    symbolic=lambda spec: CompositionalDataset.symbolic(), domain=lambda ds: DOMAIN,
    substitute=lambda ds, values, kw: canonical_substitution(values, kw), inline=True))
