"""From an aligned start the per-mode pathway system is gradient descent on the whole network."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from gated_cases import SHALLOW_DEEP, SHALLOW_DEEP_DATA, SHARED_DATA, SHARED_NET
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from modspec.numerics.gated_race import end_point, mode_system, race
from modspec.numerics.gated_simulate import gated_simulate
from modspec.theory.gated import Edge, Gate, GatedNetwork, Layer
from modspec.theory.gated_data import GatedData, gated_statistics
from modspec.theory.gated_flow import gated_flow
from modspec.theory.gated_modes import (
    aligned_weights,
    basis_condition,
    mode_strengths,
    pathway_modes,
)
from modspec.theory.gated_toml import network_from_toml


@st.composite
def aligned_problems(draw):
    """Input layers of one size n fed X = I_n, output layers of one size fed multiples of one
    target matrix, hidden layers of random width, gates per context: the statistics share
    singular vectors."""
    n, m = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    k_in, k_hid, k_out = draw(st.integers(1, 2)), draw(st.integers(0, 2)), draw(
        st.integers(1, 2))
    names = [f"x{i}" for i in range(k_in)] + [f"h{i}" for i in range(k_hid)] + \
        [f"y{i}" for i in range(k_out)]
    sizes = [n] * k_in + [draw(st.integers(1, 3)) for _ in range(k_hid)] + [m] * k_out
    pairs = set()
    for t in range(k_in, len(names)):                       # every non-input has a source
        pairs.add((draw(st.integers(0, min(t, k_in + k_hid) - 1)), t))
    for s in range(k_in + k_hid):                            # every non-output has a target
        pairs.add((s, draw(st.integers(max(s + 1, k_in), len(names) - 1))))
    for _ in range(draw(st.integers(0, 2))):
        s = draw(st.integers(0, k_in + k_hid - 1))
        t = draw(st.integers(max(s + 1, k_in), len(names) - 1))
        pairs.add((s, t))
    layers = tuple(Layer(a, b) for a, b in zip(names, sizes, strict=True))
    edges = tuple(Edge(f"e{k}", names[s], names[t]) for k, (s, t) in enumerate(sorted(pairs)))
    contexts = draw(st.integers(1, 2))
    targets = list(names) + [e.name for e in edges]
    gates = tuple(Gate(t, "context", tuple(draw(st.sampled_from([0, 1, 2]))
                                           for _ in range(contexts)))
                  for t in draw(st.lists(st.sampled_from(targets), max_size=3, unique=True)))
    net = GatedNetwork(layers, edges, gates, tuple(f"c{c}" for c in range(contexts)))
    Y = np.array([[draw(st.integers(-2, 2)) for _ in range(n)] for _ in range(m)])
    scale = [draw(st.sampled_from([1, 2, -1])) for _ in range(k_out)]
    data = GatedData({x: np.eye(n, dtype=int) for x in net.input_layers},
                     {y: c * Y for y, c in zip(net.output_layers, scale, strict=True)})
    return net, data, draw(st.integers(0, 2**16))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(aligned_problems())
@example((SHARED_NET, SHARED_DATA, 7))
def test_per_mode_system_equals_gradient_descent_from_an_aligned_start(problem):
    net, data, seed = problem
    stats = gated_statistics(net, data)
    cond = basis_condition(stats)
    assert cond.holds, cond.reason
    modes = pathway_modes(gated_flow(net), stats, cond)
    rng = np.random.default_rng(seed)
    start = {a: {e: float(rng.uniform(0.2, 0.6)) for e in es} for a, es in modes.edges.items()}
    lr, epochs = 0.02, 25
    run = gated_simulate(net, data, lr, epochs,
                         init={e: w[None] for e, w in aligned_weights(modes, start).items()},
                         keep_weights=True)
    measured = mode_strengths(modes, run.history)
    for a, es in modes.edges.items():
        if not es:
            continue
        system = modes.system(a)
        syms = [modes.b[e] for e in es]
        step = sp.lambdify(syms, [system[e] for e in es], "numpy")
        b = np.array([start[a][e] for e in es])
        for epoch in range(epochs + 1):
            got = np.array([measured[a][e][0, epoch] for e in es])
            np.testing.assert_allclose(got, b, rtol=0, atol=1e-10)
            b = b + np.array(step(*b), dtype=float) / run.tau
    # the weights stay aligned: rebuilt from the mode strengths they are the weights
    final = {a: {e: float(measured[a][e][0, -1]) for e in es} for a, es in modes.edges.items()}
    rebuilt = aligned_weights(modes, final)
    for e, w in run.weights.items():
        np.testing.assert_allclose(w[0], rebuilt[e], rtol=0, atol=1e-10)


def test_the_end_point_is_the_fixed_point_on_the_conserved_level_set_of_the_start():
    net, data = SHARED_NET, SHARED_DATA
    stats = gated_statistics(net, data)
    modes = pathway_modes(gated_flow(net), stats)
    start = {a: {"i0": 0.3, "i1": 0.2, "o0": 0.25, "o1": 0.35} for a in modes.edges}
    lr, epochs = 0.05, 3000
    run = gated_simulate(net, data, lr, epochs,
                         init={e: w[None] for e, w in aligned_weights(modes, start).items()})
    final = mode_strengths(modes, run.weights)
    theory = race(modes, start, lr, epochs)
    for a in modes.edges:
        system = mode_system(modes, a)
        guess = {e: theory["strengths"][a][e][-1] for e in system.edges}
        descent = end_point(system, guess, run.tau)          # where gradient descent ends
        flow = end_point(system, guess, run.tau, start=start[a])   # where the flow ends
        for end in (descent, flow):
            assert end.residual < 1e-12 and end.attracting
        for e in system.edges:
            assert descent.b[e] == pytest.approx(float(final[a][e][0]), abs=1e-6)
            assert flow.b[e] == pytest.approx(descent.b[e], abs=5e-3)    # O(lr) apart
        # the flow keeps the conserved quantities of the start; gradient descent nearly
        for q in system.conserved:
            f = sp.lambdify([modes.b[e] for e in system.edges], q)
            q0 = f(*[start[a][e] for e in system.edges])
            assert f(*[flow.b[e] for e in system.edges]) == pytest.approx(q0, abs=1e-12)
            assert f(*[descent.b[e] for e in system.edges]) == pytest.approx(q0, abs=0.05)


def test_a_shallow_pathway_wins_the_race_against_a_deep_one_from_a_small_start():
    net = network_from_toml(SHALLOW_DEEP)
    modes = pathway_modes(gated_flow(net), gated_statistics(net, SHALLOW_DEEP_DATA))
    result = race(modes, {0: {"V": 1e-3, "W1": 1e-3, "W2": 1e-3}}, 0.1, 300)
    assert result["winner"][0] == "V"
    assert result["half_rise"][0]["V"] < result["half_rise"][0]["W1.W2"]
    total = result["pathways"][0]["V"][-1] + result["pathways"][0]["W1.W2"][-1]
    assert total == pytest.approx(2.0, rel=1e-6)      # together they fit the target


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(aligned_problems())
@example((SHARED_NET, SHARED_DATA, 7))
def test_where_gradient_descent_settles_the_fixed_point_is_its_end_point(problem):
    net, data, seed = problem
    stats = gated_statistics(net, data)
    modes = pathway_modes(gated_flow(net), stats)
    rng = np.random.default_rng(seed)
    start = {a: {e: float(rng.uniform(0.3, 0.7)) for e in es} for a, es in modes.edges.items()}
    lr, epochs = 0.02, 3000
    theory = race(modes, start, lr, epochs)
    tau = 1 / (modes.samples * lr)
    for a in modes.edges:
        system = mode_system(modes, a)
        end = np.array([theory["strengths"][a][e][-1] for e in system.edges])
        step = np.abs(system(end)).max() / tau
        # only runs that have settled (modes whose pathways have nothing to learn decay
        # without end, modes that diverge do not settle)
        assume(np.all(np.isfinite(end)) and step < 1e-13)
        fixed = end_point(system, dict(zip(system.edges, end, strict=True)), tau)
        assert fixed.residual < 1e-10
        for k, e in enumerate(system.edges):
            assert fixed.b[e] == pytest.approx(end[k], abs=1e-6)
