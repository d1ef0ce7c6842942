"""What a derivation is made of: one module's derivation and results derived when first read.

:class:`ModuleDerivation` is one module's spectrum, mode ODE and solutions
(:func:`modspec.theory.derivation.derive`); :class:`DerivedOnUse` holds results that are
computed only when read (a derivation's observables).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sympy as sp

from . import dynamics
from .architectures import Module
from .spectra import Spectrum

__all__ = ["DerivedOnUse", "ModuleDerivation"]


@dataclass(frozen=True, eq=False)
class ModuleDerivation:
    """The derivation for one module.

    ``spectrum`` holds the module's modes (from its own covariances); ``mode_ode`` is
    ``τ da/dt = f(a)`` for its depth; ``solution`` the closed form ``a(t)`` in the symbols
    ``t, tau, a0, s, lambda`` (``None`` for depth > 2, or when the module is coupled to
    another); ``implicit`` the elementary implicit solution ``t(a)`` in ``a, a0, tau, s,
    lambda`` for depth > 2 (``None`` otherwise); ``fixed_points`` the roots of ``f`` with their
    stability; ``keys`` maps each mode label to its result key (``"pi1"`` or ``"A:pi1"``).
    """

    module: Module
    spectrum: Spectrum
    mode_ode: sp.Eq
    solution: sp.Expr | None
    fixed_points: tuple[dynamics.FixedPoint, ...]
    keys: dict[str, str]
    implicit: sp.Expr | None = None

    @property
    def name(self) -> str:
        return self.module.name


class DerivedOnUse(Mapping[str, Any]):
    """A read-only mapping computed by ``compute()`` the first time it is read, then kept."""

    def __init__(self, compute: Callable[[], Mapping[str, Any]]) -> None:
        self._compute: Callable[[], Mapping[str, Any]] | None = compute
        self._value: Mapping[str, Any] = {}

    def _get(self) -> Mapping[str, Any]:
        if self._compute is not None:
            self._value, self._compute = self._compute(), None
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __repr__(self) -> str:
        return repr(self._get())
