"""One record for everything that unfolds in time: statistics, selection and the JSON contract."""

from __future__ import annotations

import json

import numpy as np
import pytest

import modspec as ms
from modspec.numerics.expectation import A0_FLOOR, expect, start_strengths
from modspec.numerics.record import Trajectory

D0 = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)


def _measured(seeds=3, T=5):
    rng = np.random.default_rng(0)
    t = np.arange(T, dtype=float)
    return Trajectory(t, {"pi1": rng.random((seeds, T))}, {"Gx->Oy": rng.random((seeds, T))},
                      {"compositional": rng.random((seeds, T))},
                      heldout={"compositional_error": rng.random((seeds, T)),
                               "objects": np.array([6, 7])})


def test_mean_std_and_averaged_reduce_the_seed_axis_only():
    run = _measured()
    mean, std = run.mean(), run.std()
    np.testing.assert_array_equal(mean["modes"]["pi1"], run.modes["pi1"].mean(0))
    np.testing.assert_array_equal(std["loss"]["compositional"], run.loss["compositional"].std(0))
    avg = run.averaged()
    assert not avg.seed_axis and avg.modes["pi1"].shape == (5,)
    assert avg.averaged() is avg
    np.testing.assert_array_equal(avg.std()["modes"]["pi1"], np.zeros(5))
    assert avg.final_heldout() == pytest.approx(run.final_heldout())


def test_at_selects_recorded_epochs_and_final_is_the_last_seed_mean():
    run = _measured(T=10)
    part = run.at([0, 3, 9, 42])
    np.testing.assert_array_equal(part.t, [0, 3, 9])
    np.testing.assert_array_equal(part.modes["pi1"], run.modes["pi1"][:, [0, 3, 9]])
    assert run.final("quadrant_norms", "Gx->Oy") == pytest.approx(run.quadrant_norms["Gx->Oy"]
                                                                    [:, -1].mean())


def test_payload_is_the_simulate_contract_for_measured_and_predict_contract_for_theory():
    payload = json.loads(_measured().to_json())
    assert set(payload) == {"t", "modes", "quadrant_norms", "loss", "std", "heldout"}
    assert payload["heldout"]["objects"] == [6, 7]
    theory = ms.compile(ms.derive(D0, ms.architectures.dense()))(np.arange(3.0), lr=0.02)
    assert set(json.loads(theory.to_json())) == {"t", "modes", "quadrant_norms", "loss"}
    assert theory.kind == "theory" and theory.time == "continuous" and theory.tau == 6.25


def test_every_producer_returns_the_one_record():
    net = ms.architectures.dense()
    sim = ms.simulate(D0, net, lr=0.02, epochs=4, seeds=2)
    from modspec.numerics.integrate import integrate_flow

    flow = integrate_flow(D0, net, sim.t, 0.02, sim.init)
    for record, kind in ((sim, "simulation"), (flow, "flow")):
        assert isinstance(record, Trajectory) and record.kind == kind and record.seed_axis
        assert record.modes["pi1"].shape == (2, 5) and record.final_map.shape == (2, 9, 27)


def test_the_theory_of_a_run_follows_one_policy():
    net = ms.architectures.dense()
    th = ms.derive(D0, net)
    sim = ms.simulate(D0, net, lr=0.02, epochs=60, seeds=2)
    exp = expect(th, sim)                                       # discrete time by default
    assert exp.time == "discrete" and exp.full_data and exp.flow_lag["pi1"] > 0
    assert exp.a0 == start_strengths(th, sim)
    assert exp.end_point == pytest.approx({k: float(v) for k, v in
                                           th.converged["quadrant_norms"].items()})
    held = ms.simulate(D0, net, lr=0.02, epochs=5, train_objects=[0, 1, 2, 3, 4, 5])
    exp = expect(th, held)                                     # a subset: its converged map
    assert not exp.full_data and not exp.trajectory.modes and exp.heldout_error > 0
    tiny = ms.simulate(D0, net, lr=0.02, epochs=1, init_std=0.0)
    assert all(v == A0_FLOOR for v in start_strengths(th, tiny).values())


def test_a_coupled_run_is_compared_with_its_exact_dynamics_from_its_own_start():
    net = ms.architectures.leaky()
    sim = ms.simulate(D0, net, lr=0.02, epochs=50, seeds=2)
    exp = expect(ms.derive(D0, net), sim)
    for key, values in sim.mean()["quadrant_norms"].items():
        np.testing.assert_allclose(exp.trajectory.quadrant_norms[key], values, atol=1e-12)


def _per_block(seeds=3, T=6):
    from modspec.numerics.record import heldout_curve

    rng = np.random.default_rng(1)
    t = np.arange(T, dtype=float)
    blocks = {"Oy": rng.random((seeds, T)), "Py": rng.random((seeds, T))}
    return Trajectory(t, {}, {}, {}, heldout=heldout_curve(blocks, [3, 7]))


def test_held_out_blocks_are_reduced_selected_and_serialised_like_every_curve():
    run = _per_block()
    blocks = run.heldout["blocks"]
    assert run.heldout["compositional_error"] is blocks["Oy"]
    avg = run.averaged()
    np.testing.assert_array_equal(avg.heldout["blocks"]["Py"], blocks["Py"].mean(0))
    np.testing.assert_array_equal(avg.heldout["compositional_error"], blocks["Oy"].mean(0))
    part = run.at([1, 4])
    np.testing.assert_array_equal(part.heldout["blocks"]["Py"], blocks["Py"][:, [1, 4]])
    assert run.final_heldout_blocks() == {b: pytest.approx(v[:, -1].mean())
                                          for b, v in blocks.items()}
    held = json.loads(run.to_json())["heldout"]
    assert held["blocks"] == {b: pytest.approx(v[:, -1].mean()) for b, v in blocks.items()}
    assert held["compositional_error"] == pytest.approx(blocks["Oy"][:, -1].mean())
    assert held["objects"] == [3, 7]


def test_a_dataset_without_oy_has_block_errors_and_no_compositional_error():
    from modspec.numerics.record import heldout_curve

    run = Trajectory(np.arange(2.0), {}, {}, {},
                     heldout=heldout_curve({"level0": np.ones((1, 2))}, [0]))
    assert run.final_heldout() is None and run.final_heldout_blocks() == {"level0": 1.0}
    assert run.averaged().heldout["compositional_error"] is None
    held = json.loads(run.to_json())["heldout"]
    assert held == {"compositional_error": None, "blocks": {"level0": 1.0}, "objects": [0]}
