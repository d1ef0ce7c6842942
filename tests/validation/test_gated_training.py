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


def test_the_run_times_its_epochs_and_validate_prints_time_per_epoch_and_seed():
    net = network_from_toml(GATED)
    run = gated_train(net, GATED_DATA, 0.01, 20, seeds=3, device="cpu")
    assert run.seconds is not None and run.seconds > 0
    sim = gated_simulate(net, GATED_DATA, 0.01, 20, seeds=3)
    assert sim.seconds is not None and sim.seconds > 0


@pytest.mark.gpu
def test_gpu_training_equals_the_cpu_and_prints_its_times(tmp_path, capsys):
    """The GPU protocol: on a CUDA device, float64 training of the routing network follows
    the NumPy simulator to rounding, and validate prints the time per epoch and per seed."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device here")
    from pathlib import Path

    from modspec.cli import main

    net = network_from_toml(GATED)
    init = gated_initial_weights(net, init_std=0.3, seeds=8, seed=2)
    sim = gated_simulate(net, GATED_DATA, 0.01, 40, init=init)
    run = gated_train(net, GATED_DATA, 0.01, 40, init=init, device="cuda")
    for e in sim.weights:
        np.testing.assert_allclose(run.weights[e], sim.weights[e], rtol=1e-9, atol=1e-12)
    root = Path(__file__).resolve().parents[2] / "docs" / "examples"
    assert main(["validate", "--network", str(root / "routing.toml"), "--dataset",
                 str(root / "routing-data.toml"), "--epochs", "200", "--seeds", "100",
                 "--backend", "torch", "--device", "cuda", "--out", str(tmp_path),
                 "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert "training on cuda" in out and "ms per epoch per seed" in out
    print(out)
