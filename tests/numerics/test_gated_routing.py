"""The routing example of the race paper (docs/examples/routing.toml): theory against gradient
descent on the whole network, and what ``modspec derive --network`` prints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modspec.cli import main
from modspec.numerics.gated_race import race
from modspec.numerics.gated_simulate import gated_simulate
from modspec.theory.gated_data import gated_statistics, load_data
from modspec.theory.gated_flow import gated_flow
from modspec.theory.gated_modes import aligned_weights, mode_strengths, pathway_modes
from modspec.theory.gated_toml import load_network

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
NETWORK, DATA = EXAMPLES / "routing.toml", EXAMPLES / "routing-data.toml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def routing():
    net, data = load_network(NETWORK), load_data(DATA)
    stats = gated_statistics(net, data)
    return net, data, pathway_modes(gated_flow(net), stats)


def test_the_discrete_theory_is_gradient_descent_on_the_whole_network(routing):
    net, data, modes = routing
    assert sorted(modes.edges) == [0, 1, 2, 3]            # Y has rank 4
    lr, b0, epochs = net.training.lr, net.training.start, 500
    start = {a: {e: b0 for e in es} for a, es in modes.edges.items()}
    init = {e: w[None] for e, w in aligned_weights(modes, start).items()}
    run = gated_simulate(net, data, lr, epochs, init=init, keep_weights=True)
    theory = race(modes, start, lr, epochs)
    measured = mode_strengths(modes, run.history)
    for a, es in modes.edges.items():
        for e in es:
            np.testing.assert_allclose(measured[a][e][0], theory["strengths"][a][e],
                                       rtol=0, atol=1e-6)


def test_derive_prints_the_fixed_points_of_flow_and_of_gradient_descent(capsys):
    assert main(["derive", "--network", str(NETWORK), "--dataset", str(DATA),
                 "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["basis_condition"] == {"holds": True, "reason": ""}
    assert len(report["pathways"]["trained"]) == 28 and report["samples"] == 112
    for mode in report["modes"]:
        assert len(mode["conserved"]) == 2
        for key in ("fixed_point_flow", "fixed_point_gradient_descent"):
            point = mode[key]
            assert point["attracting"] and point["residual"] < 1e-12
            b = point["strengths"]
            # every trained pathway fits its mode: b_in · b_shared · b_out · d = s
            s = mode["statistics"]["s[in0.shared.out0]"]
            d = mode["statistics"]["d[in0.shared.out0|in0.shared.out0]"]
            assert b["in0"] * b["shared"] * b["out0"] * d == pytest.approx(s, rel=1e-9)
        # the flow keeps b_shared² − Σ b_in² of the start (0.08 on every edge): 6 · 0.08²
        flow = mode["fixed_point_flow"]["strengths"]
        q = sum(flow[f"in{i}"] ** 2 for i in range(7)) - flow["shared"] ** 2
        assert q == pytest.approx(6 * 0.08**2, abs=1e-10)
    # from the symmetric aligned start every module ends equal: the untrained pairs are
    # right too (zero-shot error 0), and so are the trained ones
    errors = report["pathway_errors"]
    assert len(errors) == 49 and max(errors.values()) < 1e-9
