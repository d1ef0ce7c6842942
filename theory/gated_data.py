"""Data of a gated network and its gated statistics, exact (SymPy), per pathway.

docs/theory/gated.md. A :class:`GatedData` gives, for each of ``P`` items, the input ``x_i`` of
every input layer and the target ``y_k`` of every output layer (columns of ``size × P``
matrices). A sample is (context c, item n), ``N = C·P`` samples; the data depend on the item,
the gates (:func:`modspec.theory.gated.gate_table`) on both. With ``g_p(c, n)`` the product of
the gates along pathway p and ``g_k`` the gate of its output layer k (it weights the loss):

    Σyx(p)   = ⟨g_k g_p y_k x_{s(p)}ᵀ⟩        = (1/N) Y_k diag(γ_p) X_{s(p)}ᵀ,
    Σx(j, p) = ⟨g_k g_j g_p x_{s(j)} x_{s(p)}ᵀ⟩ = (1/N) X_{s(j)} diag(γ_jp) X_{s(p)}ᵀ,
    Σy(k)    = ⟨g_k ‖y_k‖²⟩,

for pathways j, p ending in the same output layer k, with ``γ`` the gate products summed over
contexts, per item. For gates in {0, 1} (``g_k² = g_k`` and ``g_k`` is a factor of ``g_p``)
these are ``⟨g_p y xᵀ⟩`` and ``⟨g_j g_p x_j x_pᵀ⟩``. A pair whose gates are never on together
has ``Σx(j, p) = 0`` whatever the data: :func:`coactive_pairs` leaves it out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

import numpy as np
import sympy as sp

from .dataset import exact
from .errors import ModspecError, bad
from .gated import GatedNetwork, gate_table
from .inputfile import loads_toml, read_utf8

__all__ = ["Path", "GatedData", "data_from_toml", "data_from_dict", "load_data", "from_dataset",
           "bound_blocks", "data_for",
           "GatedStatistics", "path_label", "path_gates", "gate_weights", "active_pathways",
           "coactive_pairs",
           "gated_statistics", "MAX_STATISTIC"]

Path = tuple[str, ...]


def path_label(path: Path) -> str:
    """``"W1.W2"``: the edge names of a pathway from input to output, joined by dots."""
    return ".".join(path)


def _matrix(param: str, value: Any) -> sp.ImmutableMatrix:
    try:
        if isinstance(value, sp.MatrixBase):
            m = sp.ImmutableMatrix(value)
        else:
            arr = np.asarray(value, dtype=object)
            if arr.ndim != 2 or 0 in arr.shape:
                raise ValueError
            m = sp.ImmutableMatrix(arr.shape[0], arr.shape[1],
                                   [exact(v) for v in arr.ravel()])
    except (TypeError, ValueError):
        raise bad(param, type(value).__name__, "must be a non-empty 2-D array "
                  "(units × items) of real numbers") from None
    if any(not (v.is_real and v.is_finite) for v in m):
        raise bad(param, "matrix", "entries must be finite real numbers")
    return m


@dataclass(frozen=True, eq=False)
class GatedData:
    """``inputs[layer]`` and ``targets[layer]``: exact matrices ``size × P`` (one column per
    item) for every input and output layer of the network they are used with."""

    inputs: Mapping[str, Any]
    targets: Mapping[str, Any]

    def __post_init__(self) -> None:
        for side in ("inputs", "targets"):
            value = getattr(self, side)
            if not isinstance(value, Mapping) or not value:
                raise bad(side, value, "must map layer names to matrices")
            object.__setattr__(self, side, {str(k): _matrix(f"{side}[{k}]", v)
                                            for k, v in value.items()})
        counts = {m.shape[1] for m in [*self.inputs.values(), *self.targets.values()]}
        if len(counts) != 1:
            raise bad("data", sorted(counts), "every matrix must have one column per item "
                      "(the same number of items)")

    @property
    def P(self) -> int:
        """The number of items."""
        return next(iter(self.inputs.values())).shape[1]

    def check(self, network: GatedNetwork) -> GatedData:
        """Every input/output layer has data of its size, and nothing else is given."""
        sizes = network.sizes
        for side, layers in (("inputs", network.input_layers),
                             ("targets", network.output_layers)):
            given = getattr(self, side)
            if set(given) != set(layers):
                raise bad(side, sorted(given), f"must give exactly the layers {list(layers)}")
            for n, m in given.items():
                if m.shape[0] != sizes[n]:
                    raise bad(f"{side}[{n}]", f"{m.shape[0]} rows",
                              f"must have {sizes[n]} rows (the layer's size)")
        network_items = network.items
        if network_items is not None and network_items != self.P:
            raise bad("items", self.P, f"the network's per-item gates declare {network_items}")
        return self

    def numeric(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Float64 copies of the inputs and targets."""
        return ({k: np.array(v.tolist(), dtype=float) for k, v in self.inputs.items()},
                {k: np.array(v.tolist(), dtype=float) for k, v in self.targets.items()})


def data_from_toml(text: str) -> GatedData:
    """Data declared in TOML: ``[inputs]`` and ``[targets]`` map layer names to matrices (lists
    of rows, one column per item) or to the name of a matrix in ``[matrices]``; nothing in it
    is evaluated. (docs/examples/routing-data.toml)"""
    return data_from_dict(loads_toml("data", text))


def data_from_dict(spec: Mapping[str, Any]) -> GatedData:
    """:func:`data_from_toml` of the parsed tables (an optional ``family = "gated"`` is
    allowed, so that the file is also a ``--dataset`` file)."""
    unknown = sorted(set(spec) - {"matrices", "inputs", "targets", "family"})
    if unknown:
        raise bad("data keys", unknown, "must be among ['family', 'inputs', 'matrices', "
                  "'targets']")
    if spec.get("family", "gated") != "gated":
        raise bad("family", spec["family"], "must be 'gated' for the data of a gated network")
    named = spec.get("matrices", {})
    if not isinstance(named, Mapping):
        raise bad("matrices", named, "must be a table name = [[row], …]")
    sides = {}
    for side in ("inputs", "targets"):
        table = spec.get(side)
        if not isinstance(table, Mapping) or not table:
            raise bad(side, table, "must be a table layer = matrix or matrix name")
        out = {}
        for layer, value in table.items():
            if isinstance(value, str):
                if value not in named:
                    raise bad(f"{side}.{layer}", value,
                              f"must name a matrix of [matrices] ({', '.join(named)})")
                value = named[value]
            if not (isinstance(value, list) and value and all(isinstance(r, list) for r in value)
                    and len({len(r) for r in value}) == 1):
                raise bad(f"{side}.{layer}", "value", "must be a list of rows of equal length")
            out[layer] = value
        sides[side] = out
    return GatedData(sides["inputs"], sides["targets"])


def load_data(path: str | FilePath) -> GatedData:
    """:func:`data_from_toml` of a file."""
    return data_from_toml(read_utf8("data", path))


def _block_scale(dataset: Any, name: str) -> Any:
    """The exact scale of block ``name``: a declaration's block scale; for the compositional
    family ``rx`` (``Gx``), ``ry`` (``Gy``) and 1 (the ±1 features ``Ox``, ``Oy``)."""
    blocks = getattr(dataset, "blocks", None)
    if blocks is not None:
        return blocks[name].scale
    return {"Gx": getattr(dataset, "rx", 1), "Gy": getattr(dataset, "ry", 1)}.get(name, 1)


def _exact_block(dataset: Any, name: str, rows: np.ndarray) -> sp.ImmutableMatrix:
    """Block ``name`` (float ``rows``) exactly: ``scale ·`` the integer pattern every family
    builds its blocks from (±1 Walsh rows, 0/1 indicators), the scale as the family gives it
    (a rational, a square root). Rows that are no such pattern keep their printed decimals."""
    scale = exact(_block_scale(dataset, name))
    f = float(scale)
    pattern = np.rint(rows / f) if f != 0 else np.zeros_like(rows)
    if not np.array_equal(pattern * f, rows):
        return _matrix(name, rows)
    return sp.ImmutableMatrix(sp.Matrix(pattern.astype(int).tolist()) * scale)


def bound_blocks(dataset: Any, network: GatedNetwork) -> dict[str, dict[str, Any]]:
    """``{"input": {layer: rows}, "output": {layer: rows}}``: every input (output) layer of
    ``network`` bound, by name, to the input (output) block of that name of ``dataset`` (its
    row span). A layer that is no block of the dataset is refused in one line listing them."""
    family = getattr(dataset, "family", "compositional")
    out = {}
    for side, layers, blocks in (("input", network.input_layers, dataset.input_blocks),
                                 ("output", network.output_layers, dataset.output_blocks)):
        for layer in layers:
            if layer not in blocks:
                raise bad(f"{side} layer", layer, f"must be an {side} block of the {family} "
                          f"dataset: {', '.join(blocks)}")
        out[side] = {layer: blocks[layer] for layer in layers}
    return out


def from_dataset(dataset: Any, network: GatedNetwork) -> GatedData:
    """The data of ``network`` on a dataset of any family (docs/theory/gated.md): each input
    (output) layer is bound, by name, to the input (output) block of that name
    (:func:`bound_blocks`), the items are the dataset's samples, the matrices exact. A layer
    that is no block of the dataset, or a symbolic dataset (its race is
    :func:`modspec.theory.gated_family.family_modes`), is refused in one line."""
    family = getattr(dataset, "family", "compositional")
    if dataset.is_symbolic:
        raise ModspecError(f"the {family} dataset is symbolic: a gated network needs numeric "
                           "sizes and scales for its data (exact numbers); substitute "
                           "numbers first, or derive the race for symbolic sizes with "
                           "gated_family.family_modes")
    dataset.require_fits()
    X, Y = np.asarray(dataset.X, dtype=float), np.asarray(dataset.Y, dtype=float)
    bound = bound_blocks(dataset, network)
    sides = {side: {layer: _exact_block(dataset, layer, M[slice(*rows)])
                    for layer, rows in bound[side].items()}
             for side, M in (("input", X), ("output", Y))}
    return GatedData(sides["input"], sides["output"]).check(network)


def data_for(spec: Mapping[str, Any], network: GatedNetwork) -> GatedData:
    """The data of ``network`` from a parsed ``--dataset`` file: ``family = "gated"`` gives
    its matrices (:func:`data_from_dict`), any registered family its dataset's blocks
    (:func:`from_dataset`)."""
    if spec.get("family", "gated") == "gated":
        return data_from_dict(spec).check(network)
    from .families import from_mapping

    return from_dataset(from_mapping(spec), network)


def path_gates(network: GatedNetwork, items: int, path: Path) -> list[Any]:
    """``g_p`` at every sample: the product of the gates of the layers and edges of ``path``."""
    table = gate_table(network, items)
    N = len(network.contexts) * items
    out: list[Any] = [1] * N
    for name in (*network.path_layers(path), *path):
        if name in table:
            out = [a * b for a, b in zip(out, table[name], strict=True)]
    return out


def gate_weights(network: GatedNetwork, items: int, *paths: Path) -> list[Any]:
    """``g_k · Π g_p`` at every sample (k the common output layer of ``paths``)."""
    table = gate_table(network, items)
    k = network.target(paths[0])
    out = list(table.get(k, [1] * (len(network.contexts) * items)))
    for p in paths:
        out = [a * b for a, b in zip(out, path_gates(network, items, p), strict=True)]
    return out


def active_pathways(network: GatedNetwork, items: int) -> tuple[Path, ...]:
    """Pathways whose gates (with their output layer's) are non-zero in some sample; the
    others never train and contribute nothing to the output."""
    return tuple(p for p in network.pathways
                 if any(w != 0 for w in gate_weights(network, items, p)))


def coactive_pairs(network: GatedNetwork, items: int) -> tuple[tuple[Path, Path], ...]:
    """Ordered pairs ``(j, p)`` of pathways into the same output layer (``j`` not after ``p``
    in :attr:`GatedNetwork.pathways`) whose gates are non-zero together in some sample."""
    paths = network.pathways
    out = []
    for a, j in enumerate(paths):
        for p in paths[a:]:
            if network.target(j) == network.target(p) and any(
                    w != 0 for w in gate_weights(network, items, j, p)):
                out.append((j, p))
    return tuple(out)


#: The largest size of a numeric gated statistic: 1e77, below the fourth root of the largest
#: float64 (1.16e77), so that a product of four statistics is finite.
MAX_STATISTIC = 1e77


@dataclass(frozen=True, eq=False)
class GatedStatistics:
    """Exact gated statistics: ``yx[p]``, ``x[(j, p)]`` (the pairs of
    :func:`coactive_pairs`), ``y[k]`` (``⟨g_k‖y_k‖²⟩``), over ``samples = N`` samples."""

    network: GatedNetwork
    samples: int
    yx: dict[Path, sp.ImmutableMatrix]
    x: dict[tuple[Path, Path], sp.ImmutableMatrix]
    y: dict[str, sp.Expr]

    def numeric(self) -> GatedStatistics:
        """The same statistics as float64 arrays; refused in one line when one exceeds
        :data:`MAX_STATISTIC` (gate values and data too large together: the race multiplies
        up to four statistics, which must stay within float64)."""
        def f(m: sp.MatrixBase) -> np.ndarray:
            a = np.array(m.evalf().tolist(), dtype=float)
            if not np.all(np.abs(a) <= MAX_STATISTIC):
                raise bad("network", self.network.name, f"has gated statistics beyond "
                          f"{MAX_STATISTIC:.3g} in size (gate values times data; the race "
                          "multiplies four of them, which float64 must hold): scale the gates "
                          "or the data down")
            return a

        return GatedStatistics(self.network, self.samples,
                               {p: f(m) for p, m in self.yx.items()},
                               {k: f(m) for k, m in self.x.items()},
                               {k: float(v) for k, v in self.y.items()})


def _weighted(left: sp.MatrixBase, w: list[Any], right: sp.MatrixBase, N: int
              ) -> sp.ImmutableMatrix:
    scaled = sp.Matrix(right)
    for n, wn in enumerate(w):
        scaled[:, n] = scaled[:, n] * exact(wn)
    return sp.ImmutableMatrix(left * scaled.T / N)


def gated_statistics(network: GatedNetwork, data: GatedData) -> GatedStatistics:
    """The exact statistics of every pathway and co-active pair (see the module docstring)."""
    data.check(network)
    P = data.P
    C = len(network.contexts)
    N = C * P

    def per_item(w: list[Any]) -> list[Any]:
        return [sum(w[c * P + n] for c in range(C)) for n in range(P)]

    yx = {}
    for p in network.pathways:
        w = per_item(gate_weights(network, P, p))
        yx[p] = _weighted(data.targets[network.target(p)], w,
                          data.inputs[network.source(p)], N)
    x = {}
    for j, p in coactive_pairs(network, P):
        w = per_item(gate_weights(network, P, j, p))
        x[(j, p)] = _weighted(data.inputs[network.source(j)], w,
                              data.inputs[network.source(p)], N)
    table = gate_table(network, P)
    y = {}
    for k in network.output_layers:
        w = per_item(table.get(k, [1] * N))
        Yk = data.targets[k]
        y[k] = sp.Add(*[exact(w[n]) * (Yk[:, n].T * Yk[:, n])[0, 0]
                        for n in range(P)]) / N
    return GatedStatistics(network, N, yx, x, y)
