"""Gradient descent beyond its derived stability limit stops with one line, never NaN."""

from __future__ import annotations

import numpy as np
import pytest

import modspec as ms
from modspec.numerics.discrete import learning_rate_limit
from modspec.theory.errors import ModspecError

D0 = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)


def test_the_limit_is_the_derived_one_of_the_fastest_mode():
    # depth 2: lr < 1/(P s); π1 of D0 has the largest s = 1.24373 → 0.1005
    th = ms.derive(D0, ms.architectures.dense())
    modes = [(2, float(m.s), float(m.lam)) for m in th.modes.values()]
    assert learning_rate_limit(modes, 8) == pytest.approx(1 / (8 * 1.2437336), rel=1e-6)
    # depth 1: lr < 2/(P λ) with the largest λ = 1.375
    assert learning_rate_limit([(1, 1.24, 1.375), (1, 0.2, 0.375)], 8) == \
        pytest.approx(2 / (8 * 1.375))


@pytest.mark.parametrize("arch", ["dense", "shallow", "leaky"])
def test_diverging_simulation_stops_naming_the_epoch_and_the_limit(arch):
    with np.errstate(all="raise"):        # no overflow warning escapes either
        with pytest.raises(ModspecError, match=r"lr=.*diverged .*epoch \d+.*lr < 0\.\d+"):
            ms.simulate(D0, ms.architectures.architecture(arch), lr=100.0, epochs=200)


def test_diverging_discrete_prediction_stops_naming_the_epoch_and_the_limit():
    f = ms.compile(ms.derive(D0, ms.architectures.dense()))
    with pytest.raises(ModspecError, match=r"diverged .*epoch 6\b.*lr < 0\.1005"):
        f(np.arange(50), lr=10.0, time="discrete")
    assert np.all(np.isfinite(f(np.arange(50), lr=0.09, time="discrete").modes["pi1"]))


def test_the_command_line_refuses_a_diverging_run_in_one_line(run_cli, capsys):
    for argv in (["simulate", "--lr", "100", "--epochs", "50"],
                 ["predict", "--time", "discrete", "--lr", "10", "--epochs", "50"]):
        code, out, err = run_cli(capsys, *argv)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
        assert "diverged" in err and "lr < 0.1005" in err
