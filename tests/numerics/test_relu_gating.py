"""A two-layer ReLU network as the gated network of its gating pattern (numerics/relu_gating.py).

Oracles: the ReLU network's own output; the linear network's matrix flow written out
(τ dW1/dt = W2ᵀ(Σyx − W2W1Σx), τ dW2/dt = (Σyx − W2W1Σx)W1ᵀ); a direct NumPy simulation of
the network with its gates frozen (masks applied sample by sample).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from modspec.numerics.gated_race import race
from modspec.numerics.gated_simulate import gated_simulate
from modspec.numerics.relu_gating import (
    gated_output,
    gating_instability,
    gating_patterns,
    pattern_groups,
    relu_gated,
    relu_output,
    relu_weights,
)
from modspec.theory.errors import ModspecError
from modspec.theory.gated_data import gated_statistics
from modspec.theory.gated_flow import evaluate_flow, flow_values, gated_flow
from modspec.theory.gated_modes import aligned_weights, basis_condition, pathway_modes


def fixed_gate_descent(W1, W2, X, Y, masks, lr, epochs):
    """The oracle: gradient descent on ½ Σ_s ‖y_s − W2 (m_s ⊙ W1 x_s)‖² with frozen masks."""
    hist = [(W1.copy(), W2.copy())]
    for _ in range(epochs):
        H = masks * (W1 @ X)
        E = Y - W2 @ H
        W1, W2 = W1 + lr * (masks * (W2.T @ E)) @ X.T, W2 + lr * E @ H.T
        hist.append((W1.copy(), W2.copy()))
    return hist


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 4), st.integers(1, 3), st.integers(1, 7),
       st.integers(0, 2**16), st.sampled_from(["normal", "dead", "shared"]))
@example(1, 1, 1, 1, 0, "dead")
@example(4, 3, 2, 5, 1, "shared")
def test_gated_output_equals_relu_output(hidden, d_in, d_out, samples, seed, kind):
    rng = np.random.default_rng(seed)
    W1 = rng.normal(size=(hidden, d_in))
    if kind == "dead":
        W1[: (hidden + 1) // 2] = 0.0             # units at exactly 0: relu(0) = 0, inactive
    if kind == "shared":
        W1 = np.abs(W1[:1]) * rng.uniform(0.5, 2, size=(hidden, 1))   # one pattern
    W2 = rng.normal(size=(d_out, hidden))
    X = rng.normal(size=(d_in, samples))
    Y = rng.normal(size=(d_out, samples))
    g = relu_gated(W1, W2, X, Y)
    assert np.max(np.abs(gated_output(g) - relu_output(W1, W2, X))) < 1e-12
    assert sorted(u for grp in g.groups for u in grp) == list(range(hidden))
    pats = gating_patterns(W1, X)
    for grp, p in zip(g.groups, g.patterns, strict=True):
        assert all((pats[u] == p).all() for u in grp)
    assert len({p.tobytes() for p in g.patterns}) == len(g.groups)   # groups are distinct
    if kind == "shared":
        assert len(g.groups) == 1
    if kind == "dead":
        assert g.dead >= (hidden + 1) // 2
    A, B = relu_weights(g, g.weights)
    assert np.array_equal(A, W1) and np.array_equal(B, W2)


def test_blocks_cut_edges_and_instability():
    rng = np.random.default_rng(3)
    W1, W2 = rng.normal(size=(5, 4)), rng.normal(size=(3, 5))
    X, Y = rng.normal(size=(4, 6)), rng.normal(size=(3, 6))
    g = relu_gated(W1, W2, X, Y, {"a": (0, 1), "b": (1, 4)}, {"o": (0, 2), "p": (2, 3)})
    assert set(g.network.input_layers) == {"a", "b"}
    assert set(g.network.output_layers) == {"o", "p"}
    assert g.weights["g0_in_b"].shape == (len(g.groups[0]), 3)
    assert np.max(np.abs(gated_output(g) - relu_output(W1, W2, X))) < 1e-12
    assert gating_instability(W1, W1, X) == 0.0
    W1b = W1.copy()
    W1b[2] = -W1b[2]                              # one unit flips on every sample
    assert gating_instability(W1, W1b, X) == pytest.approx(1 / 5)
    assert pattern_groups([[1, 0], [0, 1], [1, 0]]) == ((0, 2), (1,))


@pytest.mark.parametrize("bad", [
    dict(W1=np.ones((2, 3)), W2=np.ones((1, 3))),            # W2 columns ≠ hidden
    dict(W1=np.full((2, 3), np.nan), W2=np.ones((1, 2))),
    dict(W1=np.ones((2, 3)), W2=np.ones((1, 2)), input_blocks={"a": (0, 2)}),
    dict(W1=np.ones((2, 3)), W2=np.ones((1, 2)), patterns=np.ones((3, 4))),
])
def test_bad_input_is_one_line(bad):
    X, Y = np.ones((3, 4)), np.ones((1, 4))
    with pytest.raises(ModspecError) as err:
        relu_gated(X=X, Y=Y, **bad)
    assert "\n" not in str(err.value)


def test_all_active_gated_network_is_the_linear_network():
    """All units active: one pathway group; the derived gated flow is the linear network's
    flow and its output the linear map."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3, 5))
    Y = rng.normal(size=(4, 5))
    W1, W2 = rng.normal(size=(6, 3)), rng.normal(size=(4, 6))
    g = relu_gated(W1, W2, X, Y, {"u": (0, 1), "v": (1, 3)}, {"o": (0, 1), "p": (1, 4)},
                   patterns=np.ones((6, 5), dtype=bool))
    assert len(g.groups) == 1 and g.groups[0] == tuple(range(6))
    assert np.max(np.abs(gated_output(g) - W2 @ W1 @ X)) < 1e-12
    flow = gated_flow(g.network)
    rhs = evaluate_flow(flow, flow_values(flow, gated_statistics(g.network, g.data)), g.weights)
    dW1, dW2 = relu_weights(g, rhs)
    P = X.shape[1]
    Syx, Sx = Y @ X.T / P, X @ X.T / P
    err = Syx - W2 @ W1 @ Sx
    assert np.max(np.abs(dW1 - W2.T @ err)) < 1e-12
    assert np.max(np.abs(dW2 - err @ W1.T)) < 1e-12


def test_frozen_gates_follow_gated_simulation():
    """Gates frozen at the start's pattern: the gated network's gradient descent is the
    fixed-gate network's, epoch by epoch, to 1e-8."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(4, 9))
    Y = rng.normal(size=(3, 9))
    W1, W2 = 0.3 * rng.normal(size=(8, 4)), 0.3 * rng.normal(size=(3, 8))
    g = relu_gated(W1, W2, X, Y, {"a": (0, 2), "b": (2, 4)}, {"o": (0, 1), "p": (1, 3)})
    assert len(g.groups) > 1
    lr, epochs = 0.01, 60
    run = gated_simulate(g.network, g.data, lr, epochs, init=g.weights, keep_weights=True)
    A, B = relu_weights(g, {e: w[0] for e, w in run.history.items()})
    hist = fixed_gate_descent(W1, W2, X, Y, gating_patterns(W1, X), lr, epochs)
    assert max(np.max(np.abs(A[t] - h[0])) for t, h in enumerate(hist)) < 1e-8
    assert max(np.max(np.abs(B[t] - h[1])) for t, h in enumerate(hist)) < 1e-8
    masks = gating_patterns(W1, X)
    loss = [0.5 * np.sum((Y - h[1] @ (masks * (h[0] @ X))) ** 2) / X.shape[1] for h in hist]
    assert np.allclose(run.loss[0], loss, rtol=1e-10, atol=1e-12)


def test_frozen_gates_follow_the_per_mode_race():
    """Two unit groups gated on disjoint items, block-structured targets: the basis
    condition holds and the per-mode race from an aligned start is the fixed-gate network's
    gradient descent to 1e-8."""
    X = np.eye(4)
    Y = np.array([[3.0, 1, 0, 0], [1, 2, 0, 0], [0, 0, 2.5, -1], [0, 0, 0.5, 1]])
    masks = np.array([[1, 1, 0, 0]] * 2 + [[0, 0, 1, 1]] * 2, dtype=bool)
    g = relu_gated(np.ones((4, 4)), np.ones((4, 4)), X, Y, patterns=masks)
    assert len(g.groups) == 2
    stats = gated_statistics(g.network, g.data)
    cond = basis_condition(stats)
    assert cond.holds
    modes = pathway_modes(gated_flow(g.network), stats, cond)
    start = {a: {e: 0.05 * (1 + k) for k, e in enumerate(es)} for a, es in modes.edges.items()}
    lr, epochs = 0.05, 300
    out = race(modes, start, lr, epochs)
    W1, W2 = relu_weights(g, aligned_weights(modes, start))
    hist = fixed_gate_descent(W1, W2, X, Y, masks, lr, epochs)
    worst = 0.0
    for t in (0, 1, 50, 150, epochs):
        Wt = aligned_weights(modes, {a: {e: s[t] for e, s in bs.items()}
                                     for a, bs in out["strengths"].items()})
        A, B = relu_weights(g, Wt)
        worst = max(worst, np.max(np.abs(A - hist[t][0])), np.max(np.abs(B - hist[t][1])))
    assert worst < 1e-8
    def loss(h):
        return np.sum((Y - h[1] @ (masks * (h[0] @ X))) ** 2)

    assert loss(hist[-1]) < 0.5 * loss(hist[0])                  # it learned


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 3), st.integers(1, 6), st.integers(0, 2**16))
@example(1, 1, 1, 0)
def test_instability_is_a_symmetric_fraction_zero_iff_patterns_equal(hidden, d_in, samples,
                                                                     seed):
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(hidden, d_in)), rng.normal(size=(hidden, d_in))
    X = rng.normal(size=(d_in, samples))
    v = gating_instability(A, B, X)
    assert v == gating_instability(B, A, X) and 0 <= v <= 1
    assert v * hidden == pytest.approx(round(v * hidden))
    same = np.all(gating_patterns(A, X) == gating_patterns(B, X), axis=1)
    assert (v == 0) == bool(same.all())
    assert gating_instability(A, 2.5 * A, X) == 0.0              # positive scaling keeps gates
