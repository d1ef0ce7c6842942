"""Gated deep linear networks: layers (nodes), edges (weights) and gates (docs/theory/gated.md).

A :class:`GatedNetwork` is a directed acyclic graph. Its nodes are named :class:`Layer` s with a
size; its edges are named weight matrices ``W_e`` (``size(target) × size(source)``, several
edges may join the same two layers). Layers with no incoming edge are *input* layers (they
receive data ``x_i``), layers with no outgoing edge are *output* layers (they have targets
``y_k``), the others are hidden. A *pathway* ``p`` is a path from an input layer ``s(p)`` to an
output layer ``t(p)``; ``W_p`` is the product of its edges, last edge leftmost.

The sample is a pair (context c, item n): ``N = C·P`` samples, ``C`` contexts (one, ``"all"``,
unless declared) and ``P`` items. A :class:`Gate` multiplies a layer or an edge by a value that
depends on the item (a table over items) or on the context (a table over contexts); several
gates on one target multiply. A :class:`ModularRule` declares the contexts and the input and
output gates at once: "input module i feeds output module j when (j − i) mod M is in a set".
With ``g_p`` the product of the gates of every layer and edge on ``p``, the network computes

    ŷ_k = Σ_{p: t(p)=k} g_p W_p x_{s(p)},

and the loss is the mean over samples of ``½ Σ_k g_k ‖y_k − ŷ_k‖²`` (``g_k`` the output layer's
gate, 1 when ungated: an output switched off is not trained in that sample).

Declared in Python or in TOML (:func:`modspec.theory.gated_toml.network_from_toml`,
:func:`~modspec.theory.gated_toml.load_network`)::

    name = "two-pathways"
    contexts = ["left", "right"]          # optional
    [layers]
    x = 3
    h = 4
    y = 2
    [edges]                               # edge name = [source layer, target layer]
    W1 = ["x", "h"]
    W2 = ["h", "y"]
    V = ["x", "y"]
    [gates.item]                          # target = one value per item
    V = [1, 0, 1, 1]
    [gates.context]                       # target = one value per context
    h = [1, 0]
    [rule]                                # instead of contexts: the modular rule
    inputs = ["x0", "x1", "x2"]
    outputs = ["y0", "y1", "y2"]
    offsets = [0, 1]
    [training]                            # optional: what the race report uses
    lr = 0.01
    start = 0.08

Every error is a one-line :class:`~modspec.theory.errors.ModspecError` naming the entry.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .errors import bad

__all__ = ["NAME", "Layer", "Edge", "Gate", "ModularRule", "Training", "GatedNetwork",
           "gate_table"]

#: Names of layers, edges and contexts.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_NAME_RULE = "must match [A-Za-z][A-Za-z0-9_]*"


def _name(param: str, value: Any) -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise bad(param, value, _NAME_RULE)
    return value


def _number(param: str, value: Any) -> Fraction | int:
    """A finite real gate value, kept exact (floats as the decimal they print as)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, Fraction)):
        raise bad(param, value, "must be a finite real number")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, Fraction):
        return value
    if not math.isfinite(float(value)):
        raise bad(param, value, "must be a finite real number")
    return Fraction(repr(float(value)))


@dataclass(frozen=True)
class Layer:
    """A node: a named layer of ``size`` units."""

    name: str
    size: int

    def __post_init__(self) -> None:
        _name("layer name", self.name)
        if isinstance(self.size, bool) or not isinstance(self.size, numbers.Integral) \
                or self.size < 1:
            raise bad(f"layer {self.name} size", self.size, "must be a positive integer")
        object.__setattr__(self, "size", int(self.size))


@dataclass(frozen=True)
class Edge:
    """A weight matrix ``W_name`` from layer ``source`` to layer ``target``."""

    name: str
    source: str
    target: str

    def __post_init__(self) -> None:
        _name("edge name", self.name)
        _name(f"edge {self.name} source", self.source)
        _name(f"edge {self.name} target", self.target)


@dataclass(frozen=True)
class Gate:
    """A gate on the layer or edge ``target``: one value per item (``by="item"``) or per
    context (``by="context"``)."""

    target: str
    by: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        _name("gate target", self.target)
        if self.by not in ("item", "context"):
            raise bad(f"gate {self.target} by", self.by, "must be 'item' or 'context'")
        if isinstance(self.values, (str, bytes)) or not isinstance(self.values, Sequence) \
                or not self.values:
            raise bad(f"gate {self.target} values", self.values,
                      f"must be a non-empty list of numbers, one per {self.by}")
        object.__setattr__(self, "values", tuple(
            _number(f"gate {self.target} value", v) for v in self.values))


@dataclass(frozen=True)
class ModularRule:
    """Input module ``inputs[i]`` feeds output module ``outputs[j]`` when
    ``(j − i) mod M ∈ offsets`` (``M`` the number of modules): one context per such pair, in
    which that input layer and that output layer have gate 1 and the other listed ones 0."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    offsets: tuple[int, ...]

    def __post_init__(self) -> None:
        for side in ("inputs", "outputs"):
            names = getattr(self, side)
            if isinstance(names, str) or not isinstance(names, Sequence) or not names:
                raise bad(f"rule {side}", names, "must be a non-empty list of layer names")
            names = tuple(_name(f"rule {side}", n) for n in names)
            if len(set(names)) != len(names):
                raise bad(f"rule {side}", list(names), "must be distinct")
            object.__setattr__(self, side, names)
        if len(self.inputs) != len(self.outputs):
            raise bad("rule outputs", list(self.outputs),
                      f"must list as many modules as inputs ({len(self.inputs)})")
        offs = self.offsets
        if isinstance(offs, (str, bytes)) or not isinstance(offs, Sequence) or not offs or any(
                isinstance(o, bool) or not isinstance(o, numbers.Integral) for o in offs):
            raise bad("rule offsets", offs, "must be a non-empty list of integers")
        M = len(self.inputs)
        object.__setattr__(self, "offsets", tuple(sorted({int(o) % M for o in offs})))

    @property
    def pairs(self) -> tuple[tuple[int, int], ...]:
        """The trained ``(i, j)`` pairs, in order of ``i`` then ``j``."""
        M = len(self.inputs)
        return tuple((i, j) for i in range(M) for j in range(M) if (j - i) % M in self.offsets)

    def contexts(self) -> tuple[str, ...]:
        return tuple(f"{self.inputs[i]}_to_{self.outputs[j]}" for i, j in self.pairs)

    def gates(self) -> tuple[Gate, ...]:
        pairs = self.pairs
        return tuple(
            [Gate(n, "context", tuple(int(i == k) for i, _ in pairs))
             for k, n in enumerate(self.inputs)]
            + [Gate(n, "context", tuple(int(j == k) for _, j in pairs))
               for k, n in enumerate(self.outputs)])


@dataclass(frozen=True)
class Training:
    """The training a declaration proposes (TOML ``[training]``): learning rate ``lr`` in the
    project's convention (gradient descent on the loss summed over samples, ``τ = 1/(N·lr)``)
    and the strength ``start`` of the aligned start on every edge of every mode."""

    lr: float
    start: float

    def __post_init__(self) -> None:
        for name in ("lr", "start"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) \
                    or not math.isfinite(float(v)) or v <= 0:
                raise bad(f"training {name}", v, "must be a number > 0")
            object.__setattr__(self, name, float(v))


@dataclass(frozen=True)
class GatedNetwork:
    """Layers, edges, gates and contexts (see the module docstring). ``rule`` (a
    :class:`ModularRule`) declares the contexts and adds its gates; it excludes ``contexts``."""

    layers: tuple[Layer, ...]
    edges: tuple[Edge, ...]
    gates: tuple[Gate, ...] = ()
    contexts: tuple[str, ...] | None = None
    rule: ModularRule | None = None
    name: str = "custom"
    training: Training | None = None

    def __post_init__(self) -> None:
        for field, kind in (("layers", Layer), ("edges", Edge), ("gates", Gate)):
            value = getattr(self, field)
            if isinstance(value, kind):
                value = (value,)
            if not isinstance(value, Sequence) or not all(isinstance(v, kind) for v in value):
                raise bad(field, value, f"must be a sequence of {kind.__name__}")
            object.__setattr__(self, field, tuple(value))
        names = self._check_graph()
        self._check_acyclic()
        contexts = self._declare_contexts()
        object.__setattr__(self, "contexts", contexts)
        self._check_gates(names, contexts)
        if not isinstance(self.name, str) or not self.name:
            raise bad("name", self.name, "must be a non-empty string")

    def _check_graph(self) -> list[str]:
        """Check that names are distinct, edges join declared layers and no layer is isolated;
        return the layer and edge names."""
        if not self.layers or not self.edges:
            raise bad("edges" if self.layers else "layers", [],
                      "a network needs at least one layer and one edge")
        names = [x.name for x in self.layers] + [e.name for e in self.edges]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise bad("names", dup, "layer and edge names must all be distinct")
        sizes = {x.name: x.size for x in self.layers}
        for e in self.edges:
            for end in ("source", "target"):
                if getattr(e, end) not in sizes:
                    raise bad(f"edge {e.name} {end}", getattr(e, end),
                              f"must be a declared layer ({', '.join(sizes)})")
        joined = {e.source for e in self.edges} | {e.target for e in self.edges}
        for x in self.layers:
            if x.name not in joined:
                raise bad(f"layer {x.name}", "isolated", "every layer needs an edge")
        return names

    def _declare_contexts(self) -> tuple[str, ...]:
        """The contexts: the rule's (whose gates are added) or the declared ones (``all``)."""
        if self.rule is None:
            contexts = ("all",) if self.contexts is None else self.contexts
            if isinstance(contexts, str) or not isinstance(contexts, Sequence) or not contexts:
                raise bad("contexts", contexts, "must be a non-empty list of names")
            contexts = tuple(_name("context", c) for c in contexts)
            if len(set(contexts)) != len(contexts):
                raise bad("contexts", list(contexts), "must be distinct")
            return contexts
        if not isinstance(self.rule, ModularRule):
            raise bad("rule", self.rule, "must be a ModularRule")
        if self.contexts is not None:
            raise bad("contexts", self.contexts,
                      "must not be given with a rule (the rule declares the contexts)")
        for side, allowed in (("inputs", self.input_layers),
                              ("outputs", self.output_layers)):
            for n in getattr(self.rule, side):
                if n not in allowed:
                    raise bad(f"rule {side}", n,
                              f"must be an {side[:-1]} layer ({', '.join(allowed)})")
        object.__setattr__(self, "gates", self.gates + self.rule.gates())
        return self.rule.contexts()

    def _check_gates(self, names: list[str], contexts: tuple[str, ...]) -> None:
        """Every gate targets a declared layer or edge, with one value per context (or the same
        number of items as the other per-item gates)."""
        items = set()
        for g in self.gates:
            if g.target not in names:
                raise bad("gate target", g.target, "must be a declared layer or edge")
            if g.by == "context" and len(g.values) != len(contexts):
                raise bad(f"gate {g.target} values", list(map(str, g.values)),
                          f"must give one value per context ({len(contexts)})")
            if g.by == "item":
                items.add(len(g.values))
        if len(items) > 1:
            raise bad("gates", sorted(items), "per-item gates must all give the same number "
                      "of items")

    def _check_acyclic(self) -> None:
        order = self.order
        if len(order) != len(self.layers):
            cyc = sorted(set(self.layer_names) - set(order))
            raise bad("edges", cyc, "must not form a cycle (the network must be acyclic)")

    # ------------------------------------------------------------------ structure
    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(x.name for x in self.layers)

    @property
    def sizes(self) -> dict[str, int]:
        return {x.name: x.size for x in self.layers}

    @property
    def edge(self) -> dict[str, Edge]:
        return {e.name: e for e in self.edges}

    @property
    def order(self) -> tuple[str, ...]:
        """Layers in topological order (Kahn's algorithm, ties in declaration order)."""
        indeg = {n: 0 for n in self.layer_names}
        for e in self.edges:
            indeg[e.target] += 1
        ready = [n for n in self.layer_names if indeg[n] == 0]
        out: list[str] = []
        while ready:
            n = ready.pop(0)
            out.append(n)
            for e in self.edges:
                if e.source == n:
                    indeg[e.target] -= 1
                    if indeg[e.target] == 0:
                        ready.append(e.target)
        return tuple(out)

    @property
    def input_layers(self) -> tuple[str, ...]:
        targets = {e.target for e in self.edges}
        return tuple(n for n in self.layer_names if n not in targets)

    @property
    def output_layers(self) -> tuple[str, ...]:
        sources = {e.source for e in self.edges}
        return tuple(n for n in self.layer_names if n not in sources)

    @property
    def items(self) -> int | None:
        """The number of items the per-item gates declare (None without such gates)."""
        lens = {len(g.values) for g in self.gates if g.by == "item"}
        return lens.pop() if lens else None

    @property
    def pathways(self) -> tuple[tuple[str, ...], ...]:
        """Every path from an input layer to an output layer, as edge names from input to
        output, in a deterministic order."""
        out: list[tuple[str, ...]] = []

        def walk(layer: str, path: tuple[str, ...]) -> None:
            nxt = [e for e in self.edges if e.source == layer]
            if not nxt:
                out.append(path)
            for e in nxt:
                walk(e.target, path + (e.name,))

        for i in self.input_layers:
            walk(i, ())
        return tuple(out)

    def source(self, path: Sequence[str]) -> str:
        return self.edge[path[0]].source

    def target(self, path: Sequence[str]) -> str:
        return self.edge[path[-1]].target

    def path_layers(self, path: Sequence[str]) -> tuple[str, ...]:
        return (self.source(path),) + tuple(self.edge[e].target for e in path)


def gate_table(network: GatedNetwork, items: int) -> dict[str, list[Any]]:
    """The gate of every gated layer and edge at every sample ``s = c·P + n`` (context c,
    item n), as exact numbers: the product of its per-item and per-context gates."""
    declared = network.items
    if declared is not None and declared != items:
        raise bad("items", items, f"the per-item gates declare {declared} items")
    C = len(network.contexts)
    table: dict[str, list[Any]] = {}
    for g in network.gates:
        cur = table.setdefault(g.target, [1] * (C * items))
        for c in range(C):
            for n in range(items):
                v = g.values[n] if g.by == "item" else g.values[c]
                cur[c * items + n] = cur[c * items + n] * v
    return table
