"""The derived matrix flow of random gated networks equals finite differences of the loss."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from modspec.theory.gated import Edge, Gate, GatedNetwork, Layer, gate_table
from modspec.theory.gated_data import GatedData, gated_statistics
from modspec.theory.gated_flow import evaluate_flow, flow_values, gated_flow

GATE_VALUES = st.sampled_from([0, 1, 1, 2, -0.5])


@st.composite
def gated_problems(draw):
    """A random DAG over 2-4 layers (a chain plus extra, possibly parallel, edges), random
    gates per item or per context, integer data."""
    n = draw(st.integers(2, 4))
    sizes = [draw(st.integers(1, 3)) for _ in range(n)]
    pairs = [(i, i + 1) for i in range(n - 1)]
    pairs += draw(st.lists(st.tuples(st.integers(0, n - 2), st.integers(1, n - 1))
                           .filter(lambda t: t[0] < t[1]), max_size=3))
    layers = tuple(Layer(f"l{i}", s) for i, s in enumerate(sizes))
    edges = tuple(Edge(f"e{k}", f"l{a}", f"l{b}") for k, (a, b) in enumerate(pairs))
    contexts = draw(st.integers(1, 2))
    items = draw(st.integers(1, 3))
    targets = [x.name for x in layers] + [e.name for e in edges]
    gates = []
    for t in draw(st.lists(st.sampled_from(targets), max_size=4)):
        by = draw(st.sampled_from(["item", "context"]))
        count = items if by == "item" else contexts
        gates.append(Gate(t, by, tuple(draw(GATE_VALUES) for _ in range(count))))
    if not any(g.by == "item" for g in gates):
        gates.append(Gate(layers[0].name, "item", tuple([1] * items)))
    net = GatedNetwork(layers, edges, tuple(gates),
                       tuple(f"c{c}" for c in range(contexts)))
    ints = st.integers(-2, 2)
    data = GatedData(
        {i: [[draw(ints) for _ in range(items)] for _ in range(net.sizes[i])]
         for i in net.input_layers},
        {k: [[draw(ints) for _ in range(items)] for _ in range(net.sizes[k])]
         for k in net.output_layers})
    return net, data, draw(st.integers(0, 2**16))


def direct_loss(net, data, weights):
    """Mean over samples of ½ Σ_k g_k ‖y_k − ŷ_k‖², by a forward pass through the gates."""
    X, Y = data.numeric()
    P = data.P
    table = {k: [float(v) for v in vals] for k, vals in gate_table(net, P).items()}
    N = len(net.contexts) * P
    total = 0.0
    for s in range(N):
        n = s % P
        z = {}
        for layer in net.order:
            g = table.get(layer, [1.0] * N)[s]
            if layer in net.input_layers:
                v = X[layer][:, n]
            else:
                v = sum(table.get(e.name, [1.0] * N)[s] * (weights[e.name] @ z[e.source])
                        for e in net.edges if e.target == layer)
            z[layer] = g * v
        for k in net.output_layers:
            total += 0.5 * table.get(k, [1.0] * N)[s] * np.sum((Y[k][:, n] - z[k]) ** 2)
    return total / N


def _chain():
    net = GatedNetwork((Layer("a", 2), Layer("b", 1)), (Edge("W", "a", "b"),),
                       (Gate("W", "item", (0, 0)),))
    return net, GatedData({"a": [[1, 2], [0, 1]]}, {"b": [[1, -1]]}), 0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gated_problems())
@example(_chain())     # an edge that is never on: its flow is zero
def test_derived_flow_equals_finite_differences_of_the_loss(problem):
    net, data, seed = problem
    rng = np.random.default_rng(seed)
    flow = gated_flow(net)
    values = flow_values(flow, gated_statistics(net, data))
    sizes = net.sizes
    W = {e.name: rng.normal(size=(sizes[e.target], sizes[e.source])) for e in net.edges}
    rhs = evaluate_flow(flow, values, W)
    h = 1e-6
    for e, M in W.items():
        fd = np.zeros_like(M)
        for idx in np.ndindex(*M.shape):
            up, down = {**W, e: M.copy()}, {**W, e: M.copy()}
            up[e][idx] += h
            down[e][idx] -= h
            fd[idx] = (direct_loss(net, data, up) - direct_loss(net, data, down)) / (2 * h)
        np.testing.assert_allclose(rhs[e], -fd, rtol=1e-6, atol=1e-6)
    # the derived loss, evaluated on the statistics, is the loss itself
    num = gated_statistics(net, data).numeric()
    expected = direct_loss(net, data, W)
    got = sum(v / 2 for v in num.y.values())
    for p in net.pathways:
        Wp = _product(W, p)
        got -= np.trace(Wp.T @ num.yx[p])
    for (j, p), S in num.x.items():
        got += (0.5 if j == p else 1.0) * np.trace(_product(W, p).T @ _product(W, j) @ S)
    assert abs(got - expected) < 1e-9 * max(1.0, abs(expected))


def _product(W, path):
    out = W[path[0]]
    for e in path[1:]:
        out = W[e] @ out
    return out
