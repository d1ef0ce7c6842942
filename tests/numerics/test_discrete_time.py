"""Discrete-time predictions: the exact per-epoch mode map against gradient descent itself."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

import modspec as ms
from modspec.cli import main
from modspec.numerics.discrete import iterate_modes, layer_map_code
from modspec.numerics.simulate import initial_weights, simulate
from modspec.theory import architectures as arch
from modspec.theory import discrete as theory
from modspec.theory import symbols as sy
from modspec.theory.errors import ModspecError

D0 = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
TH = ms.derive(D0, arch.dense())
F = ms.compile(TH)


def test_discrete_prediction_follows_gradient_descent_on_every_d0_mode():
    """Issue 4's acceptance run: D0 dense, lr 0.02 (τ = 6.25), 300 epochs, init std 2e-4,
    hidden 50, a0 from the simulation's own ``a0``. Every mode of the discrete prediction is
    within 0.05 of gradient descent at every epoch.

    Measured (seeds 0–2 of seed 0): max |Δa| = 6.6e-6 (π1), 3.7e-3 (π2), 1.5e-2 (π3); the
    continuous closed form is off by 0.25 on π1 (a lag of ~2.5 epochs). What remains on π2/π3
    is the random start, not time: their several directions start from different strengths
    and the mean of their sigmoids is not the sigmoid from the mean ``a0``.
    """
    sim = simulate(D0, arch.dense(), lr=0.02, epochs=300, hidden=50, init_std=2e-4, seeds=3,
                   seed=0)
    disc = F(sim.t, lr=0.02, a0=dict(sim.a0), time="discrete")      # (seeds, T)
    cont = F(sim.t, lr=0.02, a0=dict(sim.a0))
    err = {k: np.abs(disc.modes[k] - sim.modes[k]).max() for k in TH.modes}
    assert all(e < 0.05 for e in err.values()), err
    assert err["pi1"] < 1e-4
    assert np.abs(cont.modes["pi1"] - sim.modes["pi1"]).max() > 0.2   # the flow lags here
    for q in disc.quadrant_norms:
        assert np.abs(disc.quadrant_norms[q] - sim.quadrant_norms[q]).max() < 0.05
    for name in disc.loss:
        assert np.abs(disc.loss[name] - sim.loss[name]).max() < 0.05


@given(s=st.floats(0.05, 2.5), lam=st.floats(0.1, 3), a0=st.floats(1e-9, 1.5),
       lr=st.floats(1e-4, 0.05))
@example(s=1.24373, lam=1.375, a0=7e-7, lr=0.02)
def test_iterated_map_equals_the_explicit_deep_recursion(s, lam, a0, lr):
    """Depth 2: ``c ← c (1 + (s − λc²)/τ)``, ``a = c²`` — the recursion gradient descent runs."""
    tau = 1 / (8 * lr)
    c, ref = np.sqrt(a0), []
    for _ in range(121):
        ref.append(c**2)
        c = c * (1 + (s - lam * c**2) / tau)
    got = iterate_modes(2, np.arange(121), s, lam, a0, tau)
    np.testing.assert_allclose(got, ref, rtol=1e-12)


@given(s=st.floats(0.05, 3), lam=st.floats(0.05, 3), a0=st.floats(1e-9, 3),
       tau=st.floats(1, 100))
@example(s=1.0, lam=1.0, a0=1.0, tau=1.0)
def test_shallow_iteration_equals_the_rsolve_closed_form(s, lam, a0, tau):
    closed = sp.lambdify((theory.n, sy.s, sy.lam, sy.a0, sy.tau), theory.discrete_solution(1))
    n = np.arange(200)
    np.testing.assert_allclose(iterate_modes(1, n, s, lam, a0, tau),
                               closed(n, s, lam, a0, tau), rtol=1e-9, atol=1e-12 * s / lam)


def test_vectorised_over_batches_and_unsorted_times_equals_a_loop():
    s = np.array([1.2, 0.4, 0.2])[:, None]           # modes on one axis ...
    lam = np.array([1.4, 1.4, 0.4])[:, None]
    tau = np.array([6.25, 25.0])                     # ... learning rates on another
    a0 = 1e-6
    t = np.array([[40, 0], [7, 300]])
    got = iterate_modes(2, t, s, lam, a0, tau)
    assert got.shape == (3, 2, 2, 2)
    for i in range(3):
        for j in range(2):
            ref = iterate_modes(2, np.arange(301), s[i, 0], lam[i, 0], a0, tau[j])
            np.testing.assert_array_equal(got[i, j], ref[t])


def test_start_is_a0_and_long_runs_reach_the_fixed_point():
    pr = F([0, 5000], lr=0.02, a0=7e-7, time="discrete")
    for k, mode in TH.modes.items():
        assert pr.modes[k][0] == pytest.approx(7e-7, rel=1e-13)
        assert pr.modes[k][1] == pytest.approx(float(mode.fixed_point), rel=1e-12)
    assert pr.time == "discrete" and pr.kind == "theory"


def _tau_min(depth):
    return sp.lambdify((sy.s, sy.lam), theory.stability_limit(depth).tau_min)


@pytest.mark.parametrize("depth", [1, 2, 3])
@settings(max_examples=30)
@given(s=st.floats(0.1, 3), lam=st.floats(0.1, 3))
@example(s=1.24373, lam=1.375)                       # D0 π1
@example(s=0.1, lam=3.0)
def test_derived_learning_rate_limit_is_where_iteration_stops_converging(depth, s, lam):
    """Just below the derived limit (lr = 0.9 lr_max) the iteration returns to ``s/λ`` from a
    nearby start; just above (1.1 lr_max) it does not (a cycle, or divergence for L = 1)."""
    tau_min = _tau_min(depth)(s, lam)
    star = s / lam
    below = iterate_modes(depth, [400], s, lam, 1.05 * star, tau_min / 0.9)[0]
    above = iterate_modes(depth, [400], s, lam, 1.001 * star, tau_min / 1.1)[0]
    assert abs(below - star) < 1e-9 * star
    assert not abs(above - star) < 1e-3 * star      # nan/inf (diverged) count as not converged


def test_symbolic_dataset_predicts_the_same_discrete_curves():
    sym = ms.compile(ms.derive(ms.CompositionalDataset.symbolic(), arch.dense()))
    t = np.arange(0, 301, 10)
    num = F(t, lr=0.02, a0=7e-7, time="discrete")
    pr = sym(t, lr=np.array([0.02, 0.01]), a0=7e-7, time="discrete",
             nx=3, ny=1, kx=3, ky=1, r=1)
    for k in num.modes:
        np.testing.assert_allclose(pr.modes[k][0], num.modes[k], rtol=1e-12)
    assert not np.allclose(pr.modes["pi1"][1], num.modes["pi1"])


def test_coupled_network_in_discrete_time_is_matrix_gradient_descent():
    """Leaky (coupled): discrete time is exact matrix GD from the predictor's small start."""
    f = ms.compile(ms.derive(D0, arch.leaky()))
    a0, hidden, lr = 1e-4, 6, 0.02
    t = np.arange(0, 61, 3)
    pr = f(t, lr=lr, a0=a0, hidden=hidden, seed=3, time="discrete")
    init = initial_weights(D0, arch.leaky(), hidden, float(np.sqrt(2 * a0 / hidden)), 1, 3)
    sim = simulate(D0, arch.leaky(), lr, 60, init=init)
    for k in sim.modes:
        np.testing.assert_array_equal(pr.modes[k], sim.modes[k][0, ::3])
    for q in sim.quadrant_norms:
        np.testing.assert_array_equal(pr.quadrant_norms[q], sim.quadrant_norms[q][0, ::3])


@pytest.mark.parametrize(("kw", "param"), [
    ({"t": [0, 2.5]}, "t"), ({"t": [-1]}, "t"), ({"t": [0, np.inf]}, "t"),
    ({"time": "sideways"}, "time"), ({"a0": 0.0}, "a0"),
])
def test_bad_discrete_input_names_the_parameter(kw, param):
    args = {"t": [0, 1, 2], "lr": 0.02, "a0": 1e-6, "time": "discrete", **kw}
    with pytest.raises(ModspecError, match=f"^{param}"):
        F(args.pop("t"), **args)


def test_generated_map_source_names_its_arguments():
    code = layer_map_code(2)
    assert code.args == ("c", "s", "lambda_", "tau")
    assert "epochs, tau = 1/(P*lr)" in code.source


def test_cli_predict_discrete_time(capsys):
    assert main(["predict", "--lr", "0.02", "--epochs", "60", "--time", "discrete",
                 "--a0", "7e-7"]) == 0
    out = json.loads(capsys.readouterr().out)
    ref = F(np.arange(61), lr=0.02, a0=7e-7, time="discrete")
    assert out["t"] == list(range(61))
    np.testing.assert_allclose(out["modes"]["pi1"], ref.modes["pi1"], rtol=1e-12)
    assert main(["predict", "--lr", "0.02", "--epochs", "5", "--time", "sideways"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--time" in err
