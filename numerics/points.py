"""What a point of a dataset fixes for a predictor beyond each mode's ``s`` and ``λ``.

:class:`DatasetPoint` gives, at the values of a symbolic dataset's own symbols (any family:
``nx ny kx ky rx ry`` for the compositional one, ``c f r`` for the hierarchical one), the
number of objects ``P`` (``τ = 1/(P·lr)``) and which modes exist there. A mode exists where
its ``condition`` holds (positive multiplicity and Gram coefficients, so ``s > 0``); where it
does not, the numeric derivation has no such mode, so a predictor reports its strength as 0
and it adds nothing to the observables (no ``NaN`` from ``0/0``, no trace of its start).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import sympy as sp

from .codegen import Generated, generate

__all__ = ["DatasetPoint"]


class DatasetPoint:
    """``P`` and the modes' existence of a derivation ``th`` as generated functions of the
    dataset parameters ``params`` (symbol → values broadcast to a batch shape)."""

    def __init__(self, th: Any, params: list[sp.Symbol], use_cache: bool = True) -> None:
        self.P = sp.sympify(th.dataset.P)
        self.conditions = {k: m.condition for k, m in th.modes.items()
                           if m.condition is not sp.true}
        self.params, self.use_cache = params, use_cache

    def _args(self, values: dict, batch: tuple[int, ...]) -> list[np.ndarray]:
        return [np.broadcast_to(values[p], batch) for p in self.params]

    @cached_property
    def _count(self) -> Generated:
        return generate({"P": self.P}, self.params, name="sample_count",
                        use_cache=self.use_cache,
                        description="P, the number of objects of the dataset.")

    @cached_property
    def _existence(self) -> Generated:
        return generate({k: sp.Piecewise((1, c), (0, True)) for k, c in self.conditions.items()},
                        self.params, name="mode_existence", use_cache=self.use_cache,
                        description="1 where each mode exists, 0 where it does not.")

    def count(self, values: dict, batch: tuple[int, ...]) -> np.ndarray:
        """``P`` at the parameter values, shape ``batch``."""
        if not self.P.free_symbols:
            return np.full(batch, float(self.P))
        out = self._count.as_dict(*self._args(values, batch))["P"]
        return np.broadcast_to(np.asarray(out, dtype=float), batch)

    def absent_to_zero(self, modes: dict[str, np.ndarray], values: dict,
                       batch: tuple[int, ...], t_ndim: int) -> dict[str, np.ndarray]:
        """``modes`` (arrays ``batch + T``) with 0 wherever a mode does not exist."""
        if not self.conditions:
            return modes
        out = dict(modes)
        for k, flag in self._existence.as_dict(*self._args(values, batch)).items():
            present = np.broadcast_to(np.asarray(flag, dtype=float) > 0, batch)
            out[k] = np.where(present[(..., *(None,) * t_ndim)], modes[k], 0.0)
        return out
