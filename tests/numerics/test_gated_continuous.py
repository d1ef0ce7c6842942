"""The race in continuous time: the per-mode ODEs under gradient flow, solved exactly, equal
the full matrix flow from an aligned start and the limit of gradient descent at small lr."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gated_cases import (
    CHAIN_DATA,
    FAILING,
    FAILING_DATA,
    ROUTING_SMALL,
    ROUTING_SMALL_DATA,
    SHALLOW_DEEP,
    SHALLOW_DEEP_DATA,
    SHARED_DATA,
    SHARED_NET,
    chain,
    modes_of,
    write_case,
)
from scipy.integrate import solve_ivp

from modspec.cli import main
from modspec.numerics.gated_continuous import flow_race
from modspec.numerics.gated_race import race
from modspec.numerics.gated_simulate import gated_simulate
from modspec.theory.gated_flow import evaluate_flow
from modspec.theory.gated_modes import aligned_weights, mode_strengths
from modspec.theory.gated_toml import network_from_toml

CASES = {
    "shallow and deep": (network_from_toml(SHALLOW_DEEP), SHALLOW_DEEP_DATA, 0.1, 0.05),
    "one pathway, depth 2": (network_from_toml(chain(2)), CHAIN_DATA, 0.1, 0.5),
    "one pathway, depth 3": (network_from_toml(chain(3)), CHAIN_DATA, 0.3, 0.5),
    "two modules": (SHARED_NET, SHARED_DATA, 0.2, 0.1),
    "shared hidden edge": (network_from_toml(ROUTING_SMALL), ROUTING_SMALL_DATA, 0.3, 0.1),
}
SOLUTION = {"shallow and deep": "integrated", "one pathway, depth 2": "closed form",
            "one pathway, depth 3": "implicit t(a)", "two modules": "closed form",
            "shared hidden edge": "implicit t(a)"}


def _matrix_ode(flow, values, W0, tau, times):
    """An ODE solver of the full matrix flow of every edge (not the reduced system)."""
    names = list(W0)
    shapes = [W0[e].shape for e in names]
    cuts = np.cumsum([W0[e].size for e in names])[:-1]

    def unpack(y):
        return {e: v.reshape(s) for e, v, s in zip(names, np.split(y, cuts), shapes,
                                                    strict=True)}

    def f(_t, y):
        d = evaluate_flow(flow, values, unpack(y))
        return np.concatenate([d[e].ravel() for e in names]) / tau

    y0 = np.concatenate([W0[e].ravel() for e in names])
    sol = solve_ivp(f, (0, times[-1]), y0, t_eval=times, method="DOP853", rtol=1e-12,
                    atol=1e-14)
    return {e: np.stack([unpack(y)[e] for y in sol.y.T]) for e in names}


@pytest.mark.parametrize("case", list(CASES))
def test_the_continuous_race_is_the_full_matrix_flow_from_an_aligned_start(case):
    net, data, start_strength, lr = CASES[case]
    modes, flow, values = modes_of(net, data)
    start = {a: {e: start_strength for e in es} for a, es in modes.edges.items()}
    tau = 1 / (modes.samples * lr)
    times = np.linspace(0, 12 * tau, 13)
    result = flow_race(modes, start, lr, times)
    assert set(result["solution"].values()) == {SOLUTION[case]}
    W = _matrix_ode(flow, values, aligned_weights(modes, start), tau, times)
    measured = mode_strengths(modes, W)
    for a, es in modes.edges.items():
        for e in es:
            np.testing.assert_allclose(result["strengths"][a][e], measured[a][e],
                                       rtol=0, atol=1e-8)
    late = flow_race(modes, start, lr, np.array([0.0, 2000 * tau]))   # where the flow ends
    for a in modes.edges:
        for e, v in result["end"][a].items():
            assert late["strengths"][a][e][-1] == pytest.approx(v, abs=1e-6)


def test_gradient_descent_at_small_lr_approaches_the_flow_and_its_half_rise_times():
    net, data = network_from_toml(ROUTING_SMALL), ROUTING_SMALL_DATA
    modes, _, _ = modes_of(net, data)
    start = {a: {e: 0.1 for e in es} for a, es in modes.edges.items()}
    gaps = []
    for lr in (0.01, 0.005):
        tau = 1 / (modes.samples * lr)
        epochs = int(15 * tau)
        times = np.arange(epochs + 1, dtype=float)
        flow = flow_race(modes, start, lr, times)
        run = gated_simulate(net, data, lr, epochs, keep_weights=True, init={
            e: w[None] for e, w in aligned_weights(modes, start).items()})
        measured = mode_strengths(modes, run.history)
        gaps.append(max(np.abs(measured[a][e][0] - flow["strengths"][a][e]).max()
                        for a, es in modes.edges.items() for e in es))
        descent = race(modes, start, lr, 60 * int(tau))
        for a in modes.edges:
            for p, t_flow in flow["half_rise"][a].items():
                # the epoch at which gradient descent's pathway is half-way to the flow's end
                curve = descent["pathways"][a][p]
                end = np.prod([flow["end"][a][e] for e in p.split(".")])
                k = int(np.argmax(np.sign(end - curve[0]) * (curve - (curve[0] + end) / 2)
                                  >= 0))
                t_gd = k - 1 + ((curve[0] + end) / 2 - curve[k - 1]) / (curve[k] - curve[k - 1])
                assert t_gd == pytest.approx(t_flow, rel=0.1 * lr / 0.01)
    assert gaps[0] < 0.1 and 1.8 < gaps[0] / gaps[1] < 2.3      # the gap is O(lr)


def _predict_both(command, capsys):
    """``predict`` in continuous time, then in discrete time (its default)."""
    out = []
    for extra in (["--time", "continuous"], []):
        assert main([*command, *extra]) == 0
        out.append(json.loads(capsys.readouterr().out))
    return out


def test_the_shallow_pathway_wins_in_continuous_time_as_in_discrete(tmp_path, capsys):
    common = ["predict", "--network", *write_case(tmp_path, SHALLOW_DEEP, SHALLOW_DEEP_DATA),
              "--lr", "0.1", "--epochs", "200"]
    flow, descent = _predict_both(common, capsys)
    assert flow["meta"]["time"] == "continuous" and descent["meta"]["time"] == "discrete"
    assert flow["race"]["winner"] == descent["race"]["winner"] == {"0": "V"}
    assert flow["race"]["mode_solution"] == {"0": "integrated"}
    assert "no conserved quantity involves V" in flow["race"]["why_integrated"]["0"]
    rise = flow["race"]["half_rise"]["0"]
    assert rise["V"] < rise["W1.W2"] and set(flow["modes"]) == set(descent["modes"])
    total = flow["modes"]["0:V"][-1] + flow["modes"]["0:W1.W2"][-1]
    assert total == pytest.approx(2.0, rel=1e-6)


def test_where_the_basis_condition_fails_the_flow_is_the_integrated_matrix_flow(tmp_path,
                                                                                capsys):
    common = ["predict", "--network", *write_case(tmp_path, FAILING, FAILING_DATA),
              "--lr", "0.002", "--epochs", "300", "--start", "0.3"]
    flow, descent = _predict_both(common, capsys)
    assert flow["meta"]["solution"] == "matrix dynamics" and "race" not in flow
    for k, v in flow["quadrant_norms"].items():     # gradient descent at small lr: O(lr)
        np.testing.assert_allclose(descent["quadrant_norms"][k], v, rtol=0, atol=5e-3)
