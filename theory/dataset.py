"""Datasets: the compositional family (docs/theory/dataset.md) and general arrays a user brings.

Data are stored as columns (features × samples). A dataset names its row blocks: input blocks
``Ox`` (compositional features) and ``Gx`` (identity), output blocks ``Oy`` and ``Gy``. Modules of
an architecture read and write whole blocks.

The compositional family, with ``P = 2**nx`` objects (one sample each)::

    Ωx ∈ {−1, +1}^(nx × P)      column j = the j-th sign pattern, Ωx[i, j] = (−1)^(bit i of j)
    Γx = 1_kx ⊗ (rx · I_P)       kx stacked scaled one-hot identities
    X  = [Ωx; Γx]                (nx + kx·P) × P
    Ωy = S · Ωx                  the rows ``output_features`` of Ωx (default: the first ny)
    Γy = 1_ky ⊗ (ry · I_P)
    Y  = [Ωy; Γy]                (ny + ky·P) × P

Parameters may be numbers or SymPy symbols; :meth:`CompositionalDataset.symbolic` gives the
all-symbolic family in the canonical symbols of :mod:`modspec.theory.symbols`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import sympy as sp

from . import symbols as sy
from .errors import ModspecError, bad
from .values import (
    MAX_ENTRIES,
    MAX_LOG2,
    check_scale,
    check_size,
    exact,
    is_symbolic_value,
    log2_exact,
    sci,
)

__all__ = ["DOMAIN", "MAX_ENTRIES", "MAX_LOG2", "CompositionalDataset", "Dataset",
           "block_index", "block_rows", "check_scale", "check_size",
           "exact", "is_symbolic_value", "least_squares_rule", "materialisable"]

#: Where the compositional family's symbolic results hold, as relations that plain
#: ``sympy.sympify`` reads (the family's parameter domain).
DOMAIN = ("nx >= 1", f"nx <= {MAX_LOG2}", "ny >= 0", "ny <= nx", "kx >= 0",
          f"kx <= 2**{MAX_LOG2}", "ky >= 0", f"ky <= 2**{MAX_LOG2}", "rx >= 0", "ry >= 0")

Span = tuple[int, int]


@dataclass(frozen=True)
class CompositionalDataset:
    """The dataset family of docs/theory/dataset.md: compositional features plus identity structure.

    Parameters
    ----------
    nx : int, 1 ≤ nx ≤ 255
        Compositional input features; ``P = 2**nx`` objects.
    ny : int, 0 ≤ ny ≤ nx
        Compositional output features (rows of Ωx copied to the output).
    kx, ky : int, 0 ≤ k ≤ 2**255
        Repeats of the identity block in input and output.
    r : real ≥ 0
        Identity scale, used for both sides unless ``rx``/``ry`` are given. Non-zero
        ``kx·rx²`` and ``ky·ry²`` must lie within ``2**±255`` (:data:`MAX_LOG2`), so that every
        numeric result is a finite, non-zero float64.
    rx, ry : real ≥ 0, optional
        Separate input and output identity scales.
    output_features : tuple of distinct ints in [0, nx), optional
        Which rows of Ωx form Ωy (default the first ``ny``). By symmetry the spectrum does not
        depend on the choice.
    """

    nx: Any
    ny: Any
    kx: Any
    ky: Any
    r: Any = 1
    rx: Any = None
    ry: Any = None
    output_features: tuple[int, ...] | None = None
    #: The registry name of the family (:mod:`modspec.theory.families`).
    family: ClassVar[str] = "compositional"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        top = 2**MAX_LOG2
        set_(self, "nx", check_size("nx", self.nx, 1, MAX_LOG2))
        set_(self, "ny", check_size("ny", self.ny, 0, MAX_LOG2))
        set_(self, "kx", check_size("kx", self.kx, 0, top))
        set_(self, "ky", check_size("ky", self.ky, 0, top))
        set_(self, "r", check_scale("r", self.r))
        scale_names = {"rx": "r" if self.rx is None else "rx",
                       "ry": "r" if self.ry is None else "ry"}
        set_(self, "rx", check_scale(scale_names["rx"], self.r if self.rx is None else self.rx))
        set_(self, "ry", check_scale(scale_names["ry"], self.r if self.ry is None else self.ry))
        if not is_symbolic_value(self.nx) and not is_symbolic_value(self.ny) and self.ny > self.nx:
            raise bad("ny", self.ny, f"must satisfy 0 ≤ ny ≤ nx = {self.nx}")
        if self.output_features is not None:
            if is_symbolic_value(self.nx) or is_symbolic_value(self.ny):
                raise bad("output_features", self.output_features,
                          "needs numeric nx and ny")
            allowed = f"must be {self.ny} distinct integers in [0, {self.nx})"
            try:
                feats = tuple(check_size("output_features", i, 0, self.nx - 1)
                              for i in self.output_features)
            except (TypeError, ModspecError):
                raise bad("output_features", self.output_features, allowed) from None
            if len(feats) != self.ny or len(set(feats)) != len(feats):
                raise bad("output_features", self.output_features, allowed)
            set_(self, "output_features", feats)
        self._check_representable(scale_names)

    def _check_representable(self, scale_names: dict[str, str]) -> None:
        """Refuse scales whose results overflow or underflow float64 (see :data:`MAX_LOG2`)."""
        for side, k in (("rx", self.kx), ("ry", self.ky)):
            r = getattr(self, side)
            if is_symbolic_value(k) or is_symbolic_value(r) or k == 0 or r == 0:
                continue
            magnitude = log2_exact(k) + 2 * log2_exact(r)
            if abs(magnitude) > MAX_LOG2:
                k_name = "k" + side[1]
                raise bad(scale_names[side], r,
                          f"{k_name}·{side}² = {sci(sp.Integer(k) * sp.Rational(r) ** 2)} "
                          f"must lie within 2**±{MAX_LOG2} (about 1e±77) so that "
                          "every result is a finite, non-zero float64")

    # ----------------------------------------------------------------- construction
    @classmethod
    def symbolic(cls) -> CompositionalDataset:
        """The all-symbolic family, in the canonical symbols ``nx ny kx ky rx ry``."""
        return cls(nx=sy.nx, ny=sy.ny, kx=sy.kx, ky=sy.ky, r=sy.r, rx=sy.rx, ry=sy.ry)

    # ------------------------------------------------------------------- properties
    @property
    def is_symbolic(self) -> bool:
        """True when any parameter is a free SymPy symbol."""
        return any(is_symbolic_value(v) for v in self.params.values())

    @property
    def params(self) -> dict[str, Any]:
        """The parameters ``nx ny kx ky rx ry`` as given (numbers or SymPy expressions)."""
        return {"nx": self.nx, "ny": self.ny, "kx": self.kx, "ky": self.ky,
                "rx": self.rx, "ry": self.ry}

    @property
    def sympy_params(self) -> dict[sp.Symbol, sp.Expr]:
        """Substitution map canonical symbol → this dataset's value (exact SymPy numbers)."""
        return {getattr(sy, k): exact(v) for k, v in self.params.items()}

    @property
    def P(self) -> Any:
        """Number of objects = number of samples, ``2**nx``."""
        return 2**self.nx if not is_symbolic_value(self.nx) else sp.Integer(2) ** self.nx

    @property
    def features(self) -> tuple[int, ...]:
        """Indices of the Ωx rows that form Ωy."""
        self._require_numeric("features")
        return self.output_features if self.output_features is not None else tuple(
            range(self.ny))

    @property
    def input_blocks(self) -> dict[str, Span]:
        """Row ranges ``(start, stop)`` of the input blocks ``Ox``, ``Gx`` in ``X``."""
        return {"Ox": (0, self.nx), "Gx": (self.nx, self.nx + self.kx * self.P)}

    @property
    def output_blocks(self) -> dict[str, Span]:
        """Row ranges ``(start, stop)`` of the output blocks ``Oy``, ``Gy`` in ``Y``."""
        return {"Oy": (0, self.ny), "Gy": (self.ny, self.ny + self.ky * self.P)}

    @property
    def shape_x(self) -> tuple[Any, Any]:
        return (self.nx + self.kx * self.P, self.P)

    @property
    def shape_y(self) -> tuple[Any, Any]:
        return (self.ny + self.ky * self.P, self.P)

    # ----------------------------------------------------------------- materialise
    def _require_numeric(self, what: str) -> None:
        if self.is_symbolic:
            free = ", ".join(k for k, v in self.params.items() if is_symbolic_value(v))
            raise ModspecError(
                f"{what} needs numeric parameters, but {free} are symbolic: substitute numbers "
                "first, or use the symbolic route (modspec.spectrum) which needs no arrays"
            )

    @property
    def fits(self) -> bool:
        """True when ``X`` and ``Y`` are numeric and small enough to build (:data:`MAX_ENTRIES`)."""
        return materialisable(self)

    def require_fits(self) -> None:
        """Raise :class:`ModspecError` unless ``X`` and ``Y`` can be built (:attr:`fits`)."""
        self._require_numeric("materialising X and Y")
        if not self.fits:
            entries = (self.shape_x[0] + self.shape_y[0]) * self.P
            raise ModspecError(
                f"nx={self.nx}, kx={self.kx}, ky={self.ky} give X and Y with {sci(entries)} "
                f"entries (> {MAX_ENTRIES:.0e}): too large to materialise; "
                "use the symbolic route (modspec.spectrum / modspec.derive), whose cost does "
                "not depend on the size"
            )

    @property
    def omega_x(self) -> np.ndarray:
        """Ωx: ``nx × P`` sign patterns, ``Ωx[i, j] = (−1)^(bit i of j)``."""
        self.require_fits()
        j = np.arange(self.P)
        bits = (j[None, :] >> np.arange(self.nx)[:, None]) & 1
        return (1 - 2 * bits).astype(float)

    @property
    def selection(self) -> np.ndarray:
        """S: ``ny × nx`` 0/1 matrix with ``Ωy = S Ωx``."""
        self._require_numeric("selection")
        S = np.zeros((self.ny, self.nx))
        S[np.arange(self.ny), list(self.features)] = 1.0
        return S

    @property
    def X(self) -> np.ndarray:
        """Input matrix ``[Ωx; Γx]`` (features × samples)."""
        self.require_fits()
        gamma = np.tile(float(self.rx) * np.eye(self.P), (self.kx, 1))
        return np.vstack([self.omega_x, gamma])

    @property
    def Y(self) -> np.ndarray:
        """Output matrix ``[Ωy; Γy]`` (features × samples)."""
        self.require_fits()
        gamma = np.tile(float(self.ry) * np.eye(self.P), (self.ky, 1))
        return np.vstack([self.omega_x[list(self.features)], gamma])

    def subs(self, **values: Any) -> CompositionalDataset:
        """A copy with some parameters replaced (``r`` sets both scales)."""
        params = self.params
        if "r" in values:
            params["rx"] = params["ry"] = values.pop("r")
        unknown = set(values) - set(params)
        if unknown:
            raise bad("parameter", sorted(unknown)[0], f"must be one of {sorted(params)}")
        params.update(values)
        return CompositionalDataset(**params, r=params["rx"])

    def to_dataset(self) -> Dataset:
        """The same data as a general :class:`Dataset` (numeric only)."""
        return Dataset(self.X, self.Y, self.input_blocks, self.output_blocks)

    def describe(self) -> dict[str, Any]:
        """JSON-friendly parameters (symbols as strings)."""
        return {k: (str(v) if isinstance(v, sp.Basic) and not v.is_number else
                    (int(v) if k in {"nx", "ny", "kx", "ky"} else float(v)))
                for k, v in self.params.items()}


@dataclass(frozen=True, eq=False)
class Dataset:
    """General data a user brings: ``X`` (inputs × samples), ``Y`` (outputs × samples).

    ``input_blocks`` and ``output_blocks`` map block names to row ranges ``(start, stop)``; they
    must tile the rows of ``X`` and ``Y`` in order. By default all of ``X`` is one block ``x``
    and all of ``Y`` one block ``y``. Use the names ``Ox``, ``Gx``, ``Oy``, ``Gy`` to get the
    systematicity observables of docs/theory/dataset.md.
    """

    X: Any
    Y: Any
    input_blocks: dict[str, Span] | None = None
    output_blocks: dict[str, Span] | None = None
    #: Arrays have no family of their own: symbols and domain are the canonical ones of
    #: :mod:`modspec.theory.symbols` (the compositional family's).
    family: ClassVar[str] = "compositional"

    def __post_init__(self) -> None:
        for name in ("X", "Y"):
            value = getattr(self, name)
            if isinstance(value, sp.MatrixBase):
                continue
            try:
                arr = np.asarray(value)
                if np.iscomplexobj(arr):
                    raise TypeError("complex")
                arr = arr.astype(float)
            except (TypeError, ValueError):
                raise bad(name, type(value).__name__,
                          "must be a real 2-D array (features × samples)") from None
            if arr.ndim != 2 or 0 in arr.shape:
                raise bad(name, getattr(arr, "shape", value),
                          "must be a non-empty 2-D array (features × samples)")
            if not np.all(np.isfinite(arr)):
                raise bad(name, "array with inf/nan", "must be finite")
            object.__setattr__(self, name, arr)
        if self.X.shape[1] != self.Y.shape[1]:
            raise bad("Y", f"{self.Y.shape[1]} samples",
                      f"must have as many columns as X ({self.X.shape[1]})")
        for name, side, default in (("input_blocks", self.X, "x"),
                                    ("output_blocks", self.Y, "y")):
            blocks = getattr(self, name) or {default: (0, side.shape[0])}
            try:
                blocks = {str(k): (int(a), int(b)) for k, (a, b) in dict(blocks).items()}
            except (TypeError, ValueError):
                raise bad(name, blocks, "must map block names to row ranges (start, stop)"
                          ) from None
            edge = 0
            for _key, (a, b) in blocks.items():
                if a != edge or b < a:
                    raise bad(name, blocks, "ranges must tile the rows in order from 0")
                edge = b
            if edge != side.shape[0]:
                raise bad(name, blocks, f"ranges must cover all {side.shape[0]} rows")
            object.__setattr__(self, name, blocks)

    @property
    def P(self) -> int:
        """Number of samples."""
        return int(self.X.shape[1])

    @property
    def is_symbolic(self) -> bool:
        return False

    @property
    def shape_x(self) -> tuple[int, int]:
        return tuple(self.X.shape)

    @property
    def selection(self) -> np.ndarray | None:
        """The compositional rule ``S`` (:func:`least_squares_rule`), None without ``Ox``/``Oy``."""
        return least_squares_rule(self)

    @property
    def shape_y(self) -> tuple[int, int]:
        return tuple(self.Y.shape)

    def describe(self) -> dict[str, Any]:
        return {"shape_x": list(self.shape_x), "shape_y": list(self.shape_y),
                "input_blocks": self.input_blocks, "output_blocks": self.output_blocks}


def block_rows(matrix: Any, span: Span) -> Any:
    """Rows ``span`` of ``matrix`` (NumPy array or SymPy matrix)."""
    a, b = span
    return matrix[a:b, :]


def block_index(spans: Mapping[str, Span], names: Iterable[str]) -> np.ndarray:
    """Row indices of the blocks ``names`` (looked up in ``spans``, e.g. a dataset's
    ``input_blocks``), concatenated in that order: how a module's inputs or outputs sit in
    ``X`` or ``Y``."""
    return np.concatenate([np.arange(*spans[b]) for b in names])


def materialisable(dataset: Any) -> bool:
    """True when a dataset's arrays are numeric and small enough to build: ``X`` and ``Y``
    together, and the ``P × P`` sample-space basis their analytic singular vectors are read
    in, each at most :data:`MAX_ENTRIES` entries (without identity blocks ``X`` is small while
    the basis is not)."""
    if dataset.is_symbolic:
        return False
    P = dataset.P
    return (dataset.shape_x[0] + dataset.shape_y[0]) * P <= MAX_ENTRIES and P * P <= MAX_ENTRIES


def least_squares_rule(dataset: Any) -> np.ndarray | None:
    """The compositional rule of any numeric dataset with blocks ``Ox`` and ``Oy``: the
    least-squares map ``S = Y_Oy X_Ox⁺`` (for the compositional family its output-feature
    selection); None when it lacks those blocks or cannot be materialised."""
    if "Ox" not in dataset.input_blocks or "Oy" not in dataset.output_blocks \
            or dataset.is_symbolic or not materialisable(dataset):
        return None
    (i0, i1), (o0, o1) = dataset.input_blocks["Ox"], dataset.output_blocks["Oy"]
    X, Y = np.asarray(dataset.X, dtype=float), np.asarray(dataset.Y, dtype=float)
    return Y[o0:o1] @ np.linalg.pinv(X[i0:i1])
