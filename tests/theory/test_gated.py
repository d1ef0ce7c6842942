"""Gated networks: declaration, TOML loader, statistics, and today's wirings as instances."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from modspec.theory import architectures as arch
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.errors import ModspecError
from modspec.theory.gated import (
    Edge,
    Gate,
    GatedNetwork,
    Layer,
    ModularRule,
    gate_table,
)
from modspec.theory.gated_convert import as_gated, edge_weights
from modspec.theory.gated_data import GatedData, gated_statistics
from modspec.theory.gated_flow import evaluate_flow, flow_values, gated_flow
from modspec.theory.gated_toml import network_from_toml
from modspec.theory.matrix_flow import covariance_values, evaluate, matrix_flow

TWO = """
name = "two"
contexts = ["a", "b"]
[layers]
x = 2
h = 3
y = 2
[edges]
W1 = ["x", "h"]
W2 = ["h", "y"]
V = ["x", "y"]
[gates.context]
V = [1, 0]
[gates.item]
h = [1, 0, 1]
"""


def test_toml_declares_the_graph_its_pathways_and_gates():
    net = network_from_toml(TWO)
    assert net.name == "two" and net.contexts == ("a", "b")
    assert net.input_layers == ("x",) and net.output_layers == ("y",)
    assert net.pathways == (("W1", "W2"), ("V",))
    assert net.items == 3
    table = gate_table(net, 3)
    assert table["V"] == [1, 1, 1, 0, 0, 0]        # sample s = c·P + n
    assert table["h"] == [1, 0, 1, 1, 0, 1]


def test_python_and_toml_declarations_agree():
    net = GatedNetwork((Layer("x", 2), Layer("h", 3), Layer("y", 2)),
                       (Edge("W1", "x", "h"), Edge("W2", "h", "y"), Edge("V", "x", "y")),
                       (Gate("V", "context", (1, 0)), Gate("h", "item", (1, 0, 1))),
                       contexts=("a", "b"), name="two")
    toml = network_from_toml(TWO)
    assert (net.layers, net.edges, set(net.gates), net.contexts) == \
        (toml.layers, toml.edges, set(toml.gates), toml.contexts)
    assert Gate("V", "item", (0.1,)).values == (Fraction(1, 10),)


def test_the_modular_rule_declares_contexts_and_gates():
    rule = ModularRule(("a0", "a1", "a2"), ("b0", "b1", "b2"), (0, -1))
    assert rule.offsets == (0, 2)
    assert rule.pairs == ((0, 0), (0, 2), (1, 0), (1, 1), (2, 1), (2, 2))
    layers = [Layer(n, 2) for n in ("a0", "a1", "a2", "h", "b0", "b1", "b2")]
    edges = [Edge(f"i{k}", f"a{k}", "h") for k in range(3)] + \
        [Edge(f"o{k}", "h", f"b{k}") for k in range(3)]
    net = GatedNetwork(tuple(layers), tuple(edges), rule=rule)
    assert net.contexts == ("a0_to_b0", "a0_to_b2", "a1_to_b0", "a1_to_b1", "a2_to_b1",
                            "a2_to_b2")
    table = gate_table(net, 1)
    assert table["a1"] == [0, 0, 1, 1, 0, 0] and table["b2"] == [0, 1, 0, 0, 0, 1]


BAD = [
    ("[layers]\nx = 0\ny = 1\n[edges]\nW = ['x', 'y']", "layer x size"),
    ("[layers]\nx = 1.5\ny = 1\n[edges]\nW = ['x', 'y']", "layer x size"),
    ("[layers]\nx = true\ny = 1\n[edges]\nW = ['x', 'y']", "layer x size"),
    ("[layers]\n'1x' = 1\ny = 1\n[edges]\nW = ['1x', 'y']", "layer name"),
    ("[layers]\nx = 1\ny = 1\n[edges]\nW = ['x', 'z']", "edge W target"),
    ("[layers]\nx = 1\ny = 1\n[edges]\nx = ['x', 'y']", "names"),
    ("[layers]\nx = 1\ny = 1\nz = 1\n[edges]\nA = ['x', 'y']\nB = ['y', 'z']\nC = ['z', 'y']",
     "edges"),
    ("[layers]\nx = 1\ny = 1\n[edges]\nW = ['x']", "edge W"),
    ("[layers]\nx = 1\ny = 1\n[edges]\nW = ['x', 'y']\n[gates.item]\nq = [1]", "gate target"),
    ("[layers]\nx = 1\ny = 1\n[edges]\nW = ['x', 'y']\n[gates.item]\nW = ['a']", "gate W"),
    ("[layers]\nx = 1\ny = 1\n[edges]\nW = ['x', 'y']\n[gates.item]\nW = [1, nan]", "gate W"),
    ("[layers]\nx = 1\ny = 1\n[edges]\nW = ['x', 'y']\n[gates.context]\nW = [1, 0]",
     "gate W values"),
    ("[layers]\nx = 1\ny = 1\nz = 1\n[edges]\nW = ['x', 'y']\nV = ['z', 'y']\n"
     "[gates.item]\nW = [1, 0]\nV = [1]", "gates"),
    ("[layers]\nx = 1\ny = 1\n[edges]\nW = ['x', 'y']\n[rule]\ninputs = ['y']\n"
     "outputs = ['y']\noffsets = [0]", "rule inputs"),
    ("[layers]\nx = 1\ny = 1\n[edges]\nW = ['x', 'y']\n[rule]\ninputs = ['x']\n"
     "outputs = ['y']\noffsets = []", "rule offsets"),
    ("contexts = ['a']\n[layers]\nx = 1\ny = 1\n[edges]\nW = ['x', 'y']\n[rule]\n"
     "inputs = ['x']\noutputs = ['y']\noffsets = [0]", "contexts"),
    ("[layers]\nx = 1\ny = 1\n[edges]\nW = ['x', 'y']\n[extra]\na = 1", "network keys"),
    ("[layers\nx = 1", "network TOML"),
    ("[layers]\nx = 1\ny = 1\nz = 1\n[edges]\nW = ['x', 'y']", "layer z"),
]


@pytest.mark.parametrize("text,param", BAD)
def test_bad_declarations_are_one_line_errors_naming_the_entry(text, param):
    with pytest.raises(ModspecError) as err:
        network_from_toml(text)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(param), msg


def test_data_must_fit_the_network():
    net = network_from_toml(TWO)
    with pytest.raises(ModspecError, match="inputs\\[x\\]"):
        GatedData({"x": [[1, 0, 1]]}, {"y": [[1, 2, 0], [0, 1, 1]]}).check(net)
    with pytest.raises(ModspecError, match="items"):
        GatedData({"x": [[1, 0], [0, 1]]}, {"y": [[1, 2], [0, 1]]}).check(net)
    with pytest.raises(ModspecError, match="targets"):
        GatedData({"x": [[1, 0, 1], [0, 1, 1]]}, {"z": [[1, 2, 0]]}).check(net)


def test_gated_statistics_weight_each_item_by_its_gates_over_contexts():
    net = network_from_toml(TWO)
    X = sp.Matrix([[1, 0, 1], [0, 1, 1]])
    Y = sp.Matrix([[1, 2, 0], [0, 1, 1]])
    st = gated_statistics(net, GatedData({"x": X}, {"y": Y}))
    assert st.samples == 6
    # W1.W2 passes h: items 0 and 2 in both contexts; V: every item in context a only
    assert st.yx[("W1", "W2")] == Y * sp.diag(2, 0, 2) * X.T / 6
    assert st.yx[("V",)] == Y * X.T / 6
    assert st.x[(("W1", "W2"), ("V",))] == X * sp.diag(1, 0, 1) * X.T / 6
    assert st.y["y"] == sp.Rational(2 * 7, 6)


def test_pairs_never_active_together_are_left_out():
    net = network_from_toml(TWO.replace("h = [1, 0, 1]", "h = [1, 0, 1]\n")
                            .replace("[gates.context]\nV = [1, 0]",
                                     "[gates.context]\nV = [1, 0]\nW1 = [0, 1]"))
    flow = gated_flow(net)
    assert (("W1", "W2"), ("V",)) not in flow.pairs
    assert not any(s.name.startswith("Sigma_x[W1.W2|V]") for s in flow.rhs["V"].free_symbols)


DS = CompositionalDataset(nx=2, ny=1, kx=1, ky=1, r=sp.Rational(3, 2))


def _today_env(flow, weights):
    """Today's weight symbols from module layer arrays (last layers split by block)."""
    env = {}
    for k, m in enumerate(flow.network.modules):
        syms = flow.weights[m.name]
        for i in range(m.depth - 1):
            env[syms[i].name] = weights[k][i]
        last = syms[m.depth - 1:]
        if len(last) == 1:
            env[last[0].name] = weights[k][-1]
        else:
            at = 0
            for sym, o in zip(last, m.outputs, strict=True):
                n = DS.output_blocks[o][1] - DS.output_blocks[o][0]
                env[sym.name] = weights[k][-1][at:at + n]
                at += n
    return env


def _today_gradients(flow, env, values):
    out = []
    for m in flow.network.modules:
        syms = flow.weights[m.name]
        layers = [np.asarray(evaluate(flow.rhs[s.name], {**values, **env}))
                  for s in syms[:m.depth - 1]]
        last = [np.asarray(evaluate(flow.rhs[s.name], {**values, **env}))
                for s in syms[m.depth - 1:]]
        out.append(layers + [np.vstack(last)])
    return out


CASES = [("shallow", 1)] + [(a, d) for a in ("dense", "split", "segregated", "leaky")
                            for d in (1, 2, 3)]
#: the deepest modules (a few seconds each for SymPy): the coupled and the split wiring
DEEP = [pytest.param(a, arch.MAX_DEPTH, marks=pytest.mark.slow) for a in ("leaky", "split")]


@pytest.mark.parametrize("name,depth", CASES + DEEP)
def test_todays_wirings_as_gated_networks_have_the_same_matrix_flow(name, depth):
    network = arch.architecture(name, depth)
    hidden = 3
    conv = as_gated(network, DS, hidden)
    assert all(g == 1 for g in gate_table(conv.network, DS.P).get("x", [1]))
    today = matrix_flow(network, DS)
    rng = np.random.default_rng(depth)
    sizes = {b: e - s for b, (s, e) in {**DS.input_blocks, **DS.output_blocks}.items()}
    weights = []
    for m in network.modules:
        dims = [sum(sizes[b] for b in m.inputs)] + [hidden] * (m.depth - 1) + \
            [sum(sizes[b] for b in m.outputs)]
        weights.append([rng.normal(size=(dims[i + 1], dims[i])) for i in range(m.depth)])
    expected = _today_gradients(today, _today_env(today, weights),
                                covariance_values(today, DS))
    flow = gated_flow(conv.network)
    got = evaluate_flow(flow, flow_values(flow, gated_statistics(conv.network, conv.data)),
                        edge_weights(conv, weights))
    want = edge_weights(conv, expected)
    assert set(got) == set(want) == {e.name for e in conv.network.edges}
    for e in got:
        np.testing.assert_allclose(got[e], want[e], rtol=1e-12, atol=1e-12)


def test_the_routing_example_file_is_the_network_of_the_tutorial():
    from pathlib import Path

    from modspec.theory.gated_data import load_data
    from modspec.theory.gated_toml import load_network

    examples = Path(__file__).resolve().parents[2] / "docs" / "examples"
    net = load_network(examples / "routing.toml")
    M = 7
    layers = ([Layer(f"x{i}", 4) for i in range(M)] + [Layer("h1", 64), Layer("h2", 64)]
              + [Layer(f"y{j}", 7) for j in range(M)])
    edges = ([Edge(f"in{i}", f"x{i}", "h1") for i in range(M)]
             + [Edge("shared", "h1", "h2")] + [Edge(f"out{j}", "h2", f"y{j}") for j in range(M)])
    rule = ModularRule([f"x{i}" for i in range(M)], [f"y{j}" for j in range(M)], [-1, 0, 1, 2])
    python = GatedNetwork(tuple(layers), tuple(edges), rule=rule, name="routing")
    assert (net.layers, net.edges, net.gates, net.contexts, net.rule) == \
        (python.layers, python.edges, python.gates, python.contexts, python.rule)
    assert net.training.lr == pytest.approx(0.02 * 8 / 112) and net.training.start == 0.08
    data = load_data(examples / "routing-data.toml").check(net)
    Y = sp.Matrix([[6] * 4, [4, 4, 0, 0], [0, 0, 4, 4]]).col_join(3 * sp.eye(4))
    assert all(data.inputs[f"x{i}"] == sp.eye(4) for i in range(M))
    assert all(data.targets[f"y{j}"] == Y for j in range(M))
