"""The one contract every dataset meets, whichever family or class holds it.

A dataset is a sample space of ``P`` objects (one sample each) and named row blocks over it:
input blocks stacked into ``X`` and output blocks into ``Y`` (features × samples). The
projector algebra reads its atoms (:func:`~modspec.theory.projectors.sample_space`), the
simulator and the trainer its arrays, the reports its rule ``S``. What depends on the family
(its symbols, where its symbolic results hold, how values are substituted, how a file builds
it) is the registered :class:`~modspec.theory.families.registry.Family` named by
``family`` (:func:`~modspec.theory.families.registry.family_of`).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["DatasetProtocol"]

Span = tuple[Any, Any]


@runtime_checkable
class DatasetProtocol(Protocol):
    """What every dataset offers (:class:`~modspec.theory.dataset.CompositionalDataset`, a
    family's :class:`~modspec.theory.declaration.DeclaredDataset`, arrays a user brings as a
    :class:`~modspec.theory.dataset.Dataset`).

    ``family``: the registry name of its family. ``P``: the number of objects (a SymPy
    expression when symbolic). ``input_blocks``/``output_blocks``: block name → row range
    ``(start, stop)`` in ``X``/``Y``, in order. ``is_symbolic``: whether any size or scale is
    a free symbol. ``X``, ``Y``: the arrays (numeric and small enough only, else one
    :class:`~modspec.theory.errors.ModspecError` line). ``selection`` (numeric datasets): the
    compositional rule ``S`` with ``Y_Oy = S X_Ox`` (the least-squares map of blocks ``Ox``,
    ``Oy``), None without those blocks. ``describe()``: the parameters as JSON (for a named
    family the file's table, ``family`` included).
    """

    family: str

    @property
    def P(self) -> Any: ...

    @property
    def input_blocks(self) -> dict[str, Span]: ...

    @property
    def output_blocks(self) -> dict[str, Span]: ...

    @property
    def shape_x(self) -> tuple[Any, Any]: ...

    @property
    def shape_y(self) -> tuple[Any, Any]: ...

    @property
    def is_symbolic(self) -> bool: ...

    @property
    def X(self) -> np.ndarray: ...

    @property
    def Y(self) -> np.ndarray: ...

    @property
    def selection(self) -> np.ndarray | None: ...

    def describe(self) -> dict[str, Any]: ...
