"""Gradient descent of gated networks, gates per sample, against the derived flow and today."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from gated_cases import GATED, GATED_DATA, RULE, RULE_DATA

from modspec.numerics.gated_simulate import gated_initial_weights, gated_loss, gated_simulate
from modspec.numerics.simulate import initial_weights, simulate
from modspec.theory import architectures as arch
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.errors import ModspecError
from modspec.theory.gated_convert import as_gated, edge_weights
from modspec.theory.gated_data import gated_statistics
from modspec.theory.gated_flow import evaluate_flow, flow_values, gated_flow
from modspec.theory.gated_toml import network_from_toml


@pytest.mark.parametrize("text,data", [(GATED, GATED_DATA), (RULE, RULE_DATA)])
def test_gradient_descent_is_the_derived_flow_epoch_by_epoch(text, data):
    net = network_from_toml(text)
    flow = gated_flow(net)
    values = flow_values(flow, gated_statistics(net, data))
    init = gated_initial_weights(net, init_std=0.3, seeds=3, seed=1)
    lr, epochs = 0.01, 6
    run = gated_simulate(net, data, lr, epochs, init=init, keep_weights=True)
    assert run.tau == pytest.approx(1 / (len(net.contexts) * data.P * lr))
    for s in range(3):
        W = {e: w[s] for e, w in init.items()}
        for epoch in range(epochs + 1):
            for e in W:
                np.testing.assert_allclose(run.history[e][s, epoch], W[e], rtol=1e-12, atol=1e-14)
            rhs = evaluate_flow(flow, values, W)
            W = {e: W[e] + rhs[e] / run.tau for e in W}
    # the recorded loss is the derived loss on the statistics
    num = gated_statistics(net, data).numeric()
    W0 = {e: w[0] for e, w in init.items()}
    loss = sum(v / 2 for v in num.y.values())
    for p in net.pathways:
        loss -= np.trace(_product(W0, p).T @ num.yx[p])
    for (j, p), S in num.x.items():
        loss += (0.5 if j == p else 1.0) * np.trace(_product(W0, p).T @ _product(W0, j) @ S)
    assert run.loss[0, 0] == pytest.approx(loss, rel=1e-12)
    assert gated_loss(net, data, init)[0] == pytest.approx(loss, rel=1e-12)
    assert np.all(np.diff(run.loss, axis=1) < 0)      # small lr: the loss falls


def _product(W, path):
    out = W[path[0]]
    for e in path[1:]:
        out = W[e] @ out
    return out


DS = CompositionalDataset(nx=2, ny=1, kx=1, ky=1, r=sp.Rational(3, 2))


@pytest.mark.parametrize("name,depth", [("shallow", 1)] + [
    (a, d) for a in ("dense", "split", "segregated", "leaky")
    for d in range(1, arch.MAX_DEPTH + 1)])
def test_todays_wirings_simulated_as_gated_networks_give_todays_weights(name, depth):
    network = arch.architecture(name, depth)
    hidden, lr, epochs = 4, 0.05, 40
    init = initial_weights(DS, network, hidden=hidden, init_std=0.3, seeds=2, seed=3)
    today = simulate(DS, network, lr, epochs, init=init)
    conv = as_gated(network, DS, hidden)
    run = gated_simulate(conv.network, conv.data, lr, epochs, init=edge_weights(conv, init))
    want = edge_weights(conv, today.weights)
    for e, w in run.weights.items():
        np.testing.assert_allclose(w, want[e], rtol=1e-9, atol=1e-11)
    assert run.tau == pytest.approx(today.tau)


def test_a_training_subset_gives_todays_weights_too():
    network = arch.architecture("leaky", 2)
    init = initial_weights(DS, network, hidden=3, init_std=0.3, seeds=2, seed=5)
    today = simulate(DS, network, 0.05, 30, init=init, train_objects=[0, 2, 3])
    conv = as_gated(network, DS, 3, train_objects=[0, 2, 3])
    assert conv.data.P == 3
    run = gated_simulate(conv.network, conv.data, 0.05, 30, init=edge_weights(conv, init))
    want = edge_weights(conv, today.weights)
    for e, w in run.weights.items():
        np.testing.assert_allclose(w, want[e], rtol=1e-9, atol=1e-11)
    with pytest.raises(ModspecError, match="^train_objects="):
        as_gated(network, DS, 3, train_objects=[0, 9])


def test_bad_arguments_are_one_line_errors():
    net = network_from_toml(GATED)
    with pytest.raises(ModspecError, match="^lr="):
        gated_simulate(net, GATED_DATA, -1.0, 3)
    with pytest.raises(ModspecError, match="^init\\[W1\\]"):
        gated_simulate(net, GATED_DATA, 0.1, 3, init={**gated_initial_weights(net),
                                                "W1": np.zeros((1, 2, 2))})
    with pytest.raises(ModspecError, match="^lr=.*diverged"):
        gated_simulate(net, GATED_DATA, 1e6, 50, init_std=1.0)
