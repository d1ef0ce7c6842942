"""compare(): exact on identical curves, fails on a shifted one; half-rise times; rule error."""

from __future__ import annotations

import numpy as np
import pytest

import modspec as ms
from modspec.numerics.record import Trajectory
from modspec.theory.observables import rule_error
from modspec.validation.comparison import compare, measured_half_rise


def _sigmoid(t, t_half, a_star=1.0, rate=0.05):
    return a_star / (1 + np.exp(-rate * (t - t_half)))


def _pair(shift=0.0, seeds=3):
    t = np.arange(0, 400.0)
    pred = Trajectory(t, modes={"pi1": _sigmoid(t, 100), "pi2": _sigmoid(t, 200, 0.5)},
                      quadrant_norms={"Gx->Oy": _sigmoid(t, 100, 0.4)}, loss={},
                      seed_axis=False, kind="theory")
    sim = Trajectory(
        t, modes={k: np.tile(_sigmoid(t, th + shift, a), (seeds, 1))
                  for k, th, a in (("pi1", 100, 1.0), ("pi2", 200, 0.5))},
        quadrant_norms={"Gx->Oy": np.tile(_sigmoid(t, 100 + shift, 0.4), (seeds, 1))},
        loss={})
    return pred, sim


def test_identical_curves_compare_exactly_and_pass():
    pred, sim = _pair()
    c = compare(pred, sim, fixed_points={"pi1": 1.0, "pi2": 0.5})
    assert c.passed
    assert c.modes["pi1"]["max_abs"] < 1e-15
    assert c.half_rise["pi2"]["theory"] == pytest.approx(200.0, abs=1e-9)
    assert c.half_rise["pi2"]["rel"] < 1e-12
    assert c.systematicity["Gx->Oy"] == pytest.approx(0.4, rel=1e-6)


def test_a_delayed_simulation_fails_its_trajectory_and_half_rise_verdicts():
    pred, sim = _pair(shift=20.0)
    c = compare(pred, sim, fixed_points={"pi1": 1.0, "pi2": 0.5})
    assert not c.verdicts["trajectory pi1"]["passed"]
    assert not c.verdicts["half-rise pi1"]["passed"]
    assert c.half_rise["pi1"]["simulation"] == pytest.approx(120.0, abs=1e-6)
    # judged only at the end, the delayed run still reaches the same end point
    c2 = compare(pred, sim, fixed_points={"pi1": 1.0, "pi2": 0.5}, check_trajectories=False)
    assert c2.passed


def test_prediction_on_other_times_is_interpolated():
    pred, sim = _pair()
    coarse = Trajectory(pred.t[::10], modes={k: v[::10] for k, v in pred.modes.items()},
                        quadrant_norms={}, loss={}, seed_axis=False, kind="theory")
    c = compare(coarse, sim, fixed_points={"pi1": 1.0, "pi2": 0.5})
    assert c.modes["pi1"]["rel"] < 5e-3


def test_measured_half_rise_interpolates_and_is_nan_when_never_reached():
    t = np.arange(5.0)
    assert measured_half_rise(t, np.array([0, 0.1, 0.3, 0.7, 0.9]), 1.0) == pytest.approx(2.5)
    assert np.isnan(measured_half_rise(t, np.zeros(5), 1.0))


def test_rule_error_vanishes_exactly_for_the_rule():
    ds = ms.CompositionalDataset(nx=3, ny=2, kx=1, ky=1, r=1)
    W = np.zeros((1, ds.shape_y[0], ds.shape_x[0]))
    W[0, :2, :3] = ds.selection
    assert rule_error(ds, W)[0] == 0.0
    W[0, 0, 2] = 0.3
    assert rule_error(ds, W)[0] == pytest.approx(0.3)
