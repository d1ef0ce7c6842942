"""Zero-shot error on untrained pathways from random starts: the derived matrix dynamics
equal gradient descent seed by seed, and the error grows with the initial scale."""

from __future__ import annotations

import numpy as np
import pytest
from gated_cases import GATED, GATED_DATA, ROUTING_SMALL, ROUTING_SMALL_DATA, RULE, RULE_DATA

from modspec.numerics.gated_simulate import gated_initial_weights, gated_simulate
from modspec.numerics.gated_zero_shot import (
    derived_run,
    untrained_pathways,
    zero_shot_curve,
    zero_shot_errors,
)
from modspec.theory.gated_toml import network_from_toml
from modspec.validation.gated_validate import validate_network


@pytest.mark.parametrize("text,data", [(GATED, GATED_DATA), (RULE, RULE_DATA)])
def test_the_derived_dynamics_are_gradient_descent_for_every_seed_at_once(text, data):
    net = network_from_toml(text)
    init = gated_initial_weights(net, init_std=0.4, seeds=3, seed=2)
    run = gated_simulate(net, data, 0.02, 40, init=init, keep_weights=True)
    theory = derived_run(net, data, 0.02, 40, init, keep_weights=True)
    assert theory.tau == pytest.approx(run.tau)
    for e, w in run.history.items():
        np.testing.assert_allclose(theory.history[e], w, rtol=1e-10, atol=1e-12)


def test_the_zero_shot_error_from_random_starts_grows_with_the_initial_scale():
    net, data = network_from_toml(ROUTING_SMALL), ROUTING_SMALL_DATA
    assert untrained_pathways(net, data.P) == ["i0.hg.o2", "i1.hg.o0", "i2.hg.o1"]
    scales, lr, epochs = (0.05, 0.3), 0.05, 400
    curve = zero_shot_curve(net, data, lr, epochs, scales, seeds=3, seed=4)
    for std in scales:       # the theory's curve is training's, seed by seed
        run = gated_simulate(net, data, lr, epochs, init_std=std, seeds=3, seed=4)
        assert run.loss[:, -1].max() < 0.02                     # the trained pairs are fitted
        errs = np.mean(list(zero_shot_errors(net, data, run.weights).values()), axis=0)
        assert curve[std]["mean"] == pytest.approx(float(np.mean(errs)), rel=1e-8, abs=1e-12)
    means = [curve[s]["mean"] for s in scales]
    assert means[0] < 1e-6 and means[1] > 1.0


def test_validate_from_random_starts_judges_the_zero_shot_error():
    net, data = network_from_toml(ROUTING_SMALL), ROUTING_SMALL_DATA
    result = validate_network(net, data, lr=0.05, epochs=200, init_std=0.5, seeds=2, seed=1)
    zero = {k: v for k, v in result.comparison.verdicts.items() if k.startswith("zero-shot")}
    assert len(zero) == 3 and all(v["passed"] for v in zero.values())
    for v in result.zero_shot.values():
        assert v["theory"] == pytest.approx(v["simulation"], rel=1e-8) and v["theory"] > 1e-3
