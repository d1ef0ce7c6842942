"""Today's modular wirings as gated networks with constant gates (docs/theory/gated.md §1).

A module of depth L reading input blocks ``b`` and writing output blocks ``o`` becomes L − 1
hidden layers ``<m>_h1 … <m>_h{L−1}`` (``hidden`` units each) and the edges

* ``<m>_W1_<b>``: input block b → ``<m>_h1`` (the columns of the first layer that read b),
* ``<m>_W<i>``: ``<m>_h{i−1}`` → ``<m>_h{i}`` for 1 < i < L,
* ``<m>_W<L>_<o>``: ``<m>_h{L−1}`` → output block o (the rows of the last layer writing o),

and a depth-1 module the edges ``<m>_W1_<b>_<o>`` (its block (o, b)). The modules' outputs add,
as in :class:`~modspec.theory.architectures.Network`; the blocks become the input and output
layers, every gate is 1, there is one context, the items are the dataset's samples. ``<m>`` is
the module's name when it is a valid name, else ``m<index>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .architectures import Network
from .defaults import HIDDEN
from .errors import bad
from .gated import NAME, Edge, GatedNetwork, Layer
from .gated_data import GatedData

__all__ = ["Conversion", "as_gated", "edge_weights"]

#: (module index, layer index) -> [(edge, row slice, column slice)] of that layer's matrix
Plan = dict[tuple[int, int], list[tuple[str, slice, slice]]]


@dataclass(frozen=True, eq=False)
class Conversion:
    """The gated network, its data, and where each edge sits in the modules' matrices."""

    network: GatedNetwork
    data: GatedData
    plan: Plan


def _spans(blocks: Sequence[str], sizes: dict[str, int]) -> dict[str, slice]:
    out, at = {}, 0
    for b in blocks:
        out[b] = slice(at, at + sizes[b])
        at += sizes[b]
    return out


def as_gated(network: Network, dataset: Any, hidden: int = HIDDEN,
             train_objects: Sequence[int] | None = None) -> Conversion:
    """``network`` on ``dataset`` (numeric) as a gated network (see the module docstring);
    ``train_objects`` keeps those columns (objects) only, as training on them does."""
    if isinstance(hidden, bool) or not isinstance(hidden, (int, np.integer)) or hidden < 1:
        raise bad("hidden", hidden, "must be a positive integer")
    network.check(tuple(dataset.input_blocks), tuple(dataset.output_blocks))
    X, Y = np.asarray(dataset.X, dtype=float), np.asarray(dataset.Y, dtype=float)
    if train_objects is not None:
        cols = list(train_objects)
        if not cols or any(isinstance(j, bool) or not isinstance(j, (int, np.integer))
                           or not 0 <= j < X.shape[1] for j in cols) \
                or len(set(cols)) != len(cols):
            raise bad("train_objects", cols,
                      f"must be distinct integers in [0, {X.shape[1]}), at least one")
        X, Y = X[:, cols], Y[:, cols]
    blocks = {**dataset.input_blocks, **dataset.output_blocks}
    sizes = {b: e - s for b, (s, e) in blocks.items()}
    read = [b for b in dataset.input_blocks if any(b in m.inputs for m in network.modules)]
    layers = [Layer(b, sizes[b]) for b in read] + [Layer(o, sizes[o])
                                                   for o in dataset.output_blocks]
    edges: list[Edge] = []
    plan: Plan = {}
    every = slice(None)
    for k, m in enumerate(network.modules):
        tag = m.name if NAME.fullmatch(m.name) else f"m{k}"
        L = m.depth
        cols = _spans(m.inputs, sizes)
        rows = _spans(m.outputs, sizes)
        hid = [f"{tag}_h{i}" for i in range(1, L)]
        layers += [Layer(h, int(hidden)) for h in hid]
        if L == 1:
            plan[(k, 0)] = []
            for b in m.inputs:
                for o in m.outputs:
                    edges.append(Edge(f"{tag}_W1_{b}_{o}", b, o))
                    plan[(k, 0)].append((edges[-1].name, rows[o], cols[b]))
            continue
        plan[(k, 0)] = []
        for b in m.inputs:
            edges.append(Edge(f"{tag}_W1_{b}", b, hid[0]))
            plan[(k, 0)].append((edges[-1].name, every, cols[b]))
        for i in range(2, L):
            edges.append(Edge(f"{tag}_W{i}", hid[i - 2], hid[i - 1]))
            plan[(k, i - 1)] = [(edges[-1].name, every, every)]
        plan[(k, L - 1)] = []
        for o in m.outputs:
            edges.append(Edge(f"{tag}_W{L}_{o}", hid[-1], o))
            plan[(k, L - 1)].append((edges[-1].name, rows[o], every))
    gated = GatedNetwork(tuple(layers), tuple(edges), name=f"{network.name}-gated")
    data = GatedData({b: X[slice(*dataset.input_blocks[b])] for b in read},
                     {o: Y[slice(*dataset.output_blocks[o])] for o in dataset.output_blocks})
    return Conversion(gated, data, plan)


def edge_weights(conversion: Conversion, weights: Sequence[Sequence[np.ndarray]]
                 ) -> dict[str, np.ndarray]:
    """The edges' matrices cut from the modules' layer matrices ``weights[module][layer]``
    (any leading axes, e.g. seeds, are kept)."""
    out = {}
    for (k, i), parts in conversion.plan.items():
        W = np.asarray(weights[k][i])
        for name, rows, cols in parts:
            out[name] = W[..., rows, cols].copy()
    return out
