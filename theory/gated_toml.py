"""Gated networks declared in TOML: the loader (docs/theory/gated.md).

The tables are those shown in :mod:`modspec.theory.gated`: ``name``, ``contexts``,
``[layers]``, ``[edges]``, ``[gates.item]``, ``[gates.context]``, ``[rule]`` and
``[training]``. Everything is validated by the dataclasses of :mod:`modspec.theory.gated`;
nothing read is evaluated; every error is one line naming the entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import bad
from .gated import Edge, Gate, GatedNetwork, Layer, ModularRule, Training
from .inputfile import loads_toml, read_utf8

__all__ = ["network_from_dict", "network_from_toml", "load_network"]

_KEYS = {"name", "contexts", "layers", "edges", "gates", "rule", "training"}


def network_from_dict(spec: Mapping[str, Any]) -> GatedNetwork:
    """A network from the parsed TOML tables (see the module docstring)."""
    if not isinstance(spec, Mapping):
        raise bad("network", type(spec).__name__, "must be a table")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise bad("network keys", unknown, f"must be among {sorted(_KEYS)}")
    layers = spec.get("layers")
    if not isinstance(layers, Mapping) or not layers:
        raise bad("layers", layers, "must be a table layer name = size")
    layer_list = tuple(Layer(n, s) for n, s in layers.items())
    edges = spec.get("edges")
    if not isinstance(edges, Mapping) or not edges:
        raise bad("edges", edges, "must be a table edge name = [source, target]")
    edge_list = []
    for n, ends in edges.items():
        if isinstance(ends, str) or not isinstance(ends, Sequence) or len(ends) != 2:
            raise bad(f"edge {n}", ends, "must be [source layer, target layer]")
        edge_list.append(Edge(n, ends[0], ends[1]))
    gates = spec.get("gates", {})
    if not isinstance(gates, Mapping) or set(gates) - {"item", "context"}:
        raise bad("gates", gates, "must hold the tables gates.item and gates.context")
    gate_list = []
    for by in ("item", "context"):
        table = gates.get(by, {})
        if not isinstance(table, Mapping):
            raise bad(f"gates.{by}", table, "must be a table target = [values]")
        gate_list += [Gate(t, by, v) for t, v in table.items()]
    rule = spec.get("rule")
    if rule is not None:
        if not isinstance(rule, Mapping) or set(rule) != {"inputs", "outputs", "offsets"}:
            raise bad("rule", rule, "must be a table with inputs, outputs and offsets")
        rule = ModularRule(rule["inputs"], rule["outputs"], rule["offsets"])
    training = spec.get("training")
    if training is not None:
        if not isinstance(training, Mapping) or set(training) != {"lr", "start"}:
            raise bad("training", training, "must be a table with lr and start")
        training = Training(training["lr"], training["start"])
    return GatedNetwork(layer_list, tuple(edge_list),
                        tuple(gate_list), spec.get("contexts"), rule,
                        spec.get("name", "custom"), training)


def network_from_toml(text: str) -> GatedNetwork:
    """Parse and validate a network declared in TOML (nothing in it is evaluated)."""
    return network_from_dict(loads_toml("network", text))


def load_network(path: str | Path) -> GatedNetwork:
    """:func:`network_from_toml` of a file."""
    return network_from_toml(read_utf8("network", path))
