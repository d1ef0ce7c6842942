"""PyTorch training of gated networks equals the NumPy simulator to rounding error."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from gated_cases import GATED, GATED_DATA  # noqa: E402

from modspec.numerics.gated_simulate import gated_initial_weights, gated_simulate  # noqa: E402
from modspec.theory.errors import ModspecError  # noqa: E402
from modspec.theory.gated_toml import network_from_toml  # noqa: E402
from modspec.validation.gated_training import gated_train  # noqa: E402


def test_torch_training_is_the_numpy_simulation_to_rounding():
    net = network_from_toml(GATED)
    init = gated_initial_weights(net, init_std=0.3, seeds=4, seed=2)
    kw = dict(init=init, record_every=5, keep_weights=True)
    sim = gated_simulate(net, GATED_DATA, 0.01, 40, **kw)
    run = gated_train(net, GATED_DATA, 0.01, 40, device="cpu", **kw)
    np.testing.assert_array_equal(run.t, sim.t)
    np.testing.assert_allclose(run.loss, sim.loss, rtol=1e-12)
    for e in sim.weights:
        np.testing.assert_allclose(run.weights[e], sim.weights[e], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(run.history[e], sim.history[e], rtol=1e-10, atol=1e-13)
    assert run.tau == sim.tau


def test_bad_arguments_are_one_line_errors():
    net = network_from_toml(GATED)
    with pytest.raises(ModspecError, match="^lr="):
        gated_train(net, GATED_DATA, 0.0, 3)
    with pytest.raises(ModspecError, match="^dtype="):
        gated_train(net, GATED_DATA, 0.1, 3, dtype="float16")
