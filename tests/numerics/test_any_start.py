"""λ-balanced starts of modular networks and their exact prediction (issue 22)."""

from __future__ import annotations

import numpy as np
import pytest

import modspec as ms
from modspec.numerics.any_start import (
    lambda_balanced_weights,
    predict_balanced,
    regime_measures,
)
from modspec.numerics.flow import covariances
from modspec.numerics.integrate import integrate_flow
from modspec.numerics.riccati import solve_balanced
from modspec.numerics.simulate import simulate
from modspec.theory.errors import ModspecError

#: Σx = I: the compositional family without identity inputs.
WHITE = ms.CompositionalDataset(nx=3, ny=2, kx=0, ky=1, r=1)
T = np.arange(0, 301, 50.0)


@pytest.mark.parametrize("arch", ["dense", "split"])
@pytest.mark.parametrize("lam", [0.0, 1.0, -1.0])
def test_prediction_equals_the_integrated_matrix_flow_from_the_same_start(arch, lam):
    net = ms.architectures.architecture(arch)
    init = lambda_balanced_weights(WHITE, net, 2, lam, 0.3, 1, seed=4)
    theory = predict_balanced(WHITE, net, T, 0.002, lam, init=init)
    flow = integrate_flow(WHITE, net, T, 0.002, init)
    for key in theory.modes:
        np.testing.assert_allclose(theory.modes[key], flow.modes[key][0], rtol=0, atol=1e-8)
    for q in theory.quadrant_norms:
        np.testing.assert_allclose(theory.quadrant_norms[q], flow.quadrant_norms[q][0],
                                   rtol=0, atol=1e-8)


def test_gradient_descent_approaches_it_as_the_learning_rate_shrinks():
    """GD lags the flow by O(lr) at fixed τ-time: halving lr (and doubling the epochs)
    about halves the largest gap."""
    net = ms.architectures.dense()
    init = lambda_balanced_weights(WHITE, net, 2, 1.0, 0.3, 1, seed=1)
    gaps = []
    for lr, scale in ((0.004, 1), (0.002, 2)):
        t = T[:4] * scale
        theory = predict_balanced(WHITE, net, t, lr, 1.0, init=init)
        run = simulate(WHITE, net, lr, int(t[-1]), init=init)
        gaps.append(max(np.max(np.abs(run.modes[k][0, t.astype(int)] - theory.modes[k]))
                        for k in theory.modes))
    assert gaps[1] < gaps[0] and gaps[1] == pytest.approx(gaps[0] / 2, rel=0.15)


def test_drawn_starts_are_balanced_for_every_seed():
    net = ms.architectures.split()
    init = lambda_balanced_weights(WHITE, net, 2, -0.5, 0.7, seeds=3, seed=2)
    for W1, W2 in init:
        for k in range(3):
            imbalance = W2[k].T @ W2[k] - W1[k] @ W1[k].T
            np.testing.assert_allclose(imbalance, -0.5 * np.eye(2), atol=1e-12)
    again = lambda_balanced_weights(WHITE, net, 2, -0.5, 0.7, seeds=3, seed=2)
    assert all(np.array_equal(a, b) for la, lb in zip(init, again, strict=True)
               for a, b in zip(la, lb, strict=True))


@pytest.mark.parametrize("argv,match", [
    ([], "whitened inputs"),                                       # D0: Σx ≠ I
    (["--kx", "0", "--hidden", "50"], "hidden=50"),                 # λ > 0 needs Nh ≤ No
    (["--kx", "0", "--time", "discrete"], "time='discrete'"),
    (["--kx", "0", "--depth", "3"], "two-layer"),
])
def test_the_command_line_refuses_what_has_no_exact_solution(run_cli, capsys, argv, match):
    base = ["predict", "--lr", "0.002", "--epochs", "10", "--init", "lambda-balanced",
            "--lam", "1", "--hidden", "2"]
    code, out, err = run_cli(capsys, *base, *argv)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert match in err


def test_the_command_line_predicts_and_simulates_from_the_same_start(run_cli, capsys):
    import json

    args = ["--kx", "0", "--lr", "0.002", "--epochs", "200", "--init", "lambda-balanced",
            "--lam", "1", "--init-scale", "0.3", "--hidden", "2", "--seed", "3"]
    code, out, _ = run_cli(capsys, "predict", *args)
    assert code == 0
    theory = json.loads(out)
    code, out, _ = run_cli(capsys, "simulate", *args)
    assert code == 0
    run = json.loads(out)
    for key, values in theory["modes"].items():
        assert abs(values[-1] - np.ravel(run["modes"][key])[-1]) < 0.01


def test_an_unbalanced_init_is_refused():
    net = ms.architectures.dense()
    init = lambda_balanced_weights(WHITE, net, 2, 1.0, 0.3, 1, seed=0)
    init[0][0] = init[0][0] * 1.1
    with pytest.raises(ModspecError, match="λ-balanced"):
        predict_balanced(WHITE, net, T, 0.002, 1.0, init=init)


@pytest.mark.parametrize("lam,scale", [(0.0, 1e-2), (5.0, 0.1)])
def test_a_runs_regime_measures_match_its_theory(lam, scale):
    """Kernel movement and alignment read off a gradient-descent run's start and end weights
    equal those of the exact solution at the same time (small lr)."""
    net = ms.architectures.dense()
    init = lambda_balanced_weights(WHITE, net, 3, lam, scale, 1, seed=5)
    run = simulate(WHITE, net, 0.002, 1500, init=init)
    measured = regime_measures(WHITE, net, run.init, run.weights)["dense"]
    sol = solve_balanced(covariances(WHITE).sigma_yx, init[0][0][0], init[0][1][0],
                         [0.0, 1500.0], tau=run.tau)
    assert measured["kernel_movement"][0] == pytest.approx(sol.kernel_movement()[-1], rel=0.02)
    assert measured["alignment"][0] == pytest.approx(sol.alignment()[-1], abs=0.01)
