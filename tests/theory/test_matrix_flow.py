"""Matrix gradient flow derived by SymPy matrix calculus (theory.md §4.1)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from modspec.theory import architectures as arch
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.matrix_flow import covariance_values, evaluate, matrix_flow

D = CompositionalDataset(nx=2, ny=1, kx=1, ky=1, r=sp.Rational(3, 2))


def _random_weights(flow, ds, hidden, rng):
    """Arrays for every weight symbol, shapes read from the blocks."""
    sizes = {b: e - s for b, (s, e) in {**ds.input_blocks, **ds.output_blocks}.items()}
    env = {}
    for m in flow.network.modules:
        n_in = sum(sizes[b] for b in m.inputs)
        for W in flow.weights[m.name]:
            rows = hidden if not W.name.startswith(f"W_{m.name},{m.depth}") and \
                not W.name == f"W_{m.depth}" else None
            if rows is None:
                block = W.name.split("^")[1] if "^" in W.name else None
                rows = sizes[block] if block else sum(sizes[b] for b in m.outputs)
            i = int(W.name.split(",")[-1].split("^")[0]) if "," in W.name else \
                int(W.name.split("_")[1])
            cols = n_in if i == 1 else hidden
            env[W.name] = rng.normal(size=(rows, cols))
    return env


def _loss(flow, ds, env):
    """½ Σ_samples ‖y − ŷ‖² of the network with weights env."""
    X, Y = np.asarray(ds.X, float), np.asarray(ds.Y, float)
    pred = np.zeros_like(Y)
    for m in flow.network.modules:
        xm = np.vstack([X[slice(*ds.input_blocks[b])] for b in m.inputs])
        h = xm
        for W in flow.weights[m.name][: m.depth - 1]:
            h = env[W.name] @ h
        lasts = flow.weights[m.name][m.depth - 1:]
        if len(lasts) == 1:
            out = env[lasts[0].name] @ h
            rows = np.concatenate([np.arange(*ds.output_blocks[b]) for b in m.outputs])
            pred[rows] += out
        else:
            for W in lasts:
                block = W.name.split("^")[1]
                pred[slice(*ds.output_blocks[block])] += env[W.name] @ h
    return 0.5 * np.sum((Y - pred) ** 2)


@pytest.mark.parametrize("net", [arch.shallow(), arch.dense(3), arch.split(), arch.leaky(2),
                                 arch.leaky(1)],
                         ids=["shallow", "dense3", "split", "leaky2", "leaky1"])
def test_derived_flow_is_minus_the_loss_gradient_over_P(net):
    """τ dW/dt from SymPy equals −(1/P) ∂L/∂W by central finite differences."""
    flow = matrix_flow(net, D)
    rng = np.random.default_rng(0)
    env = _random_weights(flow, D, hidden=3, rng=rng)
    env.update(covariance_values(flow, D))
    P, eps = D.P, 1e-6
    for name, rhs in flow.rhs.items():
        got = evaluate(rhs, env)
        W = env[name]
        num = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            old = W[idx]
            W[idx] = old + eps
            up = _loss(flow, D, env)
            W[idx] = old - eps
            down = _loss(flow, D, env)
            W[idx] = old
            num[idx] = -(up - down) / (2 * eps) / P
        np.testing.assert_allclose(got, num, atol=1e-6, err_msg=name)


def test_decoupled_flows_use_only_their_own_covariances_and_coupled_ones_mix():
    split = matrix_flow(arch.split())
    assert not split.coupled
    assert all(left == right for _k, left, right in split.covariance_symbols.values())
    leaky = matrix_flow(arch.leaky())
    assert leaky.coupled
    assert ("x", "B", "A") in leaky.covariance_symbols.values()
    eq1, eq2 = matrix_flow(arch.dense()).odes["dense"]
    assert str(eq1.rhs) == "W_2.T*Sigma_yx - W_2.T*W_2*W_1*Sigma_x"
    assert str(eq2.rhs) == "Sigma_yx*W_1.T - W_2*W_1*Sigma_x*W_1.T"
