"""Tiny gated networks and their data, shared by the tests of the gated layer.

Each case is the TOML text of a network (read with
:func:`modspec.theory.gated_toml.network_from_toml`) and a :class:`GatedData`; the
``*_NET`` constants are the networks themselves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modspec.theory.gated_data import GatedData
from modspec.theory.gated_toml import network_from_toml

#: A shallow pathway V beside a deep one W1.W2, one unit each: the race of depths.
SHALLOW_DEEP = """
name = "race"
[layers]
x = 1
h = 1
y = 1
[edges]
V = ["x", "y"]
W1 = ["x", "h"]
W2 = ["h", "y"]
[training]
lr = 0.1
start = 0.001
"""
SHALLOW_DEEP_DATA = GatedData({"x": [[1]]}, {"y": [[2]]})
#: The same data as the text of a ``--dataset`` file (edited by the edge-case tests).
SHALLOW_DEEP_TOML = """
family = "gated"
[inputs]
x = [[1]]
[targets]
y = [[2]]
"""

#: Gates per item and per context on layers and edges, two input and two output layers.
GATED = """
contexts = ["a", "b"]
[layers]
x = 2
u = 1
h = 3
y = 2
z = 1
[edges]
W1 = ["x", "h"]
U = ["u", "h"]
W2 = ["h", "y"]
V = ["x", "y"]
Z = ["h", "z"]
[gates.context]
V = [1, 0]
z = [0.5, 1]
[gates.item]
h = [1, 0, 2]
U = [1, 1, -1]
"""
GATED_DATA = GatedData({"x": [[1, 0, 1], [0, 1, 1]], "u": [[1, 2, 3]]},
                       {"y": [[1, 2, 0], [0, 1, 1]], "z": [[1, -1, 0.5]]})

#: Three modules into one 3-unit hidden layer, input i trained to outputs i and i + 1.
RULE = """
[layers]
a0 = 2
a1 = 2
a2 = 2
h = 3
b0 = 2
b1 = 2
b2 = 2
[edges]
i0 = ["a0", "h"]
i1 = ["a1", "h"]
i2 = ["a2", "h"]
o0 = ["h", "b0"]
o1 = ["h", "b1"]
o2 = ["h", "b2"]
[rule]
inputs = ["a0", "a1", "a2"]
outputs = ["b0", "b1", "b2"]
offsets = [0, 1]
"""
RULE_DATA = GatedData({f"a{k}": [[1, 0], [0, 1]] for k in range(3)},
                      {f"b{k}": [[2, 1], [0, 1]] for k in range(3)})

#: Two modules through one hidden layer, each input trained to its own output only.
SHARED_NET = network_from_toml("""
[layers]
a0 = 2
a1 = 2
h = 2
b0 = 2
b1 = 2
[edges]
i0 = ["a0", "h"]
i1 = ["a1", "h"]
o0 = ["h", "b0"]
o1 = ["h", "b1"]
[rule]
inputs = ["a0", "a1"]
outputs = ["b0", "b1"]
offsets = [0]
""")
SHARED_DATA = GatedData({"a0": np.eye(2), "a1": np.eye(2)},
                        {"b0": [[3, 1], [0, 1]], "b1": [[3, 1], [0, 1]]})

#: Three modules, a shared edge between two hidden layers (the routing network in small).
ROUTING_SMALL = """
[layers]
a0 = 2
a1 = 2
a2 = 2
h = 3
g = 3
b0 = 2
b1 = 2
b2 = 2
[edges]
i0 = ["a0", "h"]
i1 = ["a1", "h"]
i2 = ["a2", "h"]
hg = ["h", "g"]
o0 = ["g", "b0"]
o1 = ["g", "b1"]
o2 = ["g", "b2"]
[rule]
inputs = ["a0", "a1", "a2"]
outputs = ["b0", "b1", "b2"]
offsets = [0, 1]
"""
ROUTING_SMALL_Y = [[2, 1], [0, 1]]
ROUTING_SMALL_DATA = GatedData({f"a{k}": [[1, 0], [0, 1]] for k in range(3)},
                               {f"b{k}": ROUTING_SMALL_Y for k in range(3)})

#: Where the basis condition fails: the shallow pathway A sees item 0 only.
FAILING = """
[layers]
x = 2
h = 2
y = 2
[edges]
A = ["x", "y"]
W1 = ["x", "h"]
W2 = ["h", "y"]
[gates.item]
A = [1, 0]
"""
FAILING_DATA = GatedData({"x": [[1, 1], [0, 1]]}, {"y": [[1, 0], [0, 2]]})


def chain(depth: int, size: int = 2) -> str:
    """One pathway of ``depth`` edges through hidden layers of ``size`` units."""
    names = ["x", *[f"h{k}" for k in range(1, depth)], "y"]
    layers = "\n".join(f"{n} = {size}" for n in names)
    edges = "\n".join(f'W{k + 1} = ["{a}", "{b}"]'
                      for k, (a, b) in enumerate(zip(names, names[1:], strict=False)))
    return f"[layers]\n{layers}\n[edges]\n{edges}\n"


CHAIN_DATA = GatedData({"x": np.eye(2)}, {"y": [[3, 1], [0, 1]]})


def data_toml(data: GatedData) -> str:
    """``data`` as the text of a ``--dataset`` file (``family = "gated"``)."""
    X, Y = data.numeric()
    rows = ["family = 'gated'", "[inputs]"] + [f"{k} = {v.tolist()}" for k, v in X.items()]
    return "\n".join(rows + ["[targets]"] + [f"{k} = {v.tolist()}" for k, v in Y.items()]) + "\n"


def write_case(folder: Any, network: str, data: GatedData) -> list[str]:
    """The network's TOML and its data written to ``folder``: ``[net.toml, "--dataset",
    data.toml]``, the arguments that follow ``--network``."""
    net, path = folder / "net.toml", folder / "data.toml"
    net.write_text(network)
    path.write_text(data_toml(data))
    return [str(net), "--dataset", str(path)]


def modes_of(net: Any, data: GatedData) -> tuple[Any, Any, Any]:
    """``(pathway modes, derived matrix flow, its statistics' values)`` of a network on its
    data (where the basis condition holds)."""
    from modspec.theory.gated_data import gated_statistics
    from modspec.theory.gated_flow import flow_values, gated_flow
    from modspec.theory.gated_modes import pathway_modes

    stats = gated_statistics(net, data)
    flow = gated_flow(net)
    return pathway_modes(flow, stats), flow, flow_values(flow, stats)
