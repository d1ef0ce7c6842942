"""The parity family: features and parities on the hypercube (``docs/theory/families.md``).

Inputs ``Ox`` (features) and ``Gx`` (identity), outputs ``Oy`` (the requested single
features), ``Py`` (the requested products of two or more features) and ``Gy`` (identity);
symbolic in ``nx kx ky r`` with the file's ``outputs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import symbols as sy
from ..declaration import Block, DeclaredDataset, Features, Hypercube, Identity, Parities
from ..errors import bad
from ..values import MAX_LOG2
from .compositional import params_of
from .registry import Family, register

__all__ = ["parity"]

_DOMAIN = ("nx >= {top}", f"nx <= {MAX_LOG2}", "kx >= 0", f"kx <= 2**{MAX_LOG2}", "ky >= 0",
           f"ky <= 2**{MAX_LOG2}", "r >= 0")


def parity(nx: Any, outputs: Sequence[Sequence[int]], kx: Any = 0, ky: Any = 0,
           r: Any = 1) -> DeclaredDataset:
    """Features and parities on the hypercube: one output row per entry of ``outputs``, a list
    of feature indices (``[2]`` is feature 2, ``[0, 1]`` the product of features 0 and 1).
    Single features go to block ``Oy``, products to ``Py`` (each in the order given); ``kx``,
    ``ky`` identity copies of scale ``r`` form ``Gx`` and ``Gy``."""
    if isinstance(outputs, (str, bytes)) or not isinstance(outputs, Sequence):
        raise bad("outputs", outputs, "must be a list of feature-index lists")
    rows = []
    for T in outputs:
        if isinstance(T, (str, bytes)) or not isinstance(T, Sequence) or not T:
            raise bad("outputs", T, "each output must be a non-empty list of feature indices")
        rows.append(tuple(T))
    singles = tuple(T[0] for T in rows if len(T) == 1)
    products = tuple(T for T in rows if len(T) > 1)
    outs: list[tuple[str, Block]] = [("Oy", Features(singles))]
    if products:
        outs.append(("Py", Parities(products)))
    outs.append(("Gy", Identity(ky, r)))
    return DeclaredDataset(Hypercube(nx), (("Ox", Features()), ("Gx", Identity(kx, r))),
                           tuple(outs), "parity",
                           params_of(nx=nx, outputs=[list(T) for T in rows], kx=kx, ky=ky, r=r))


def _domain(dataset: DeclaredDataset) -> tuple[str, ...]:
    top = 1 + max(max(T) for T in dict(dataset.params)["outputs"])
    return tuple(d.format(top=top) for d in _DOMAIN)


register(Family("parity", parity, ("nx", "outputs", "kx", "ky", "r"),
                symbols={"nx": sy.nx, "kx": sy.kx, "ky": sy.ky, "r": sy.r}, fixed=("outputs",),
                domain=_domain, list_keys=("outputs",)))
