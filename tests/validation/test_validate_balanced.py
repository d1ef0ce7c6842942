"""``validate --init lambda-balanced``: gradient descent from a λ-balanced start against the
exact flow from each seed's start; what the solution does not cover is refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

import modspec as ms
from modspec.numerics.any_start import expect_balanced, predict_balanced
from modspec.theory import architectures as arch
from modspec.theory.errors import ModspecError
from modspec.validation.pipeline import validate

WHITE = ms.CompositionalDataset(nx=3, ny=1, kx=0, ky=1, r=1)


@pytest.mark.parametrize("lam", [0.0, 1.0, -0.5])
def test_gradient_descent_from_a_balanced_start_follows_the_exact_flow(lam):
    """Small lr: gradient descent within the trajectory tolerance of the exact flow; the
    theory is the mean over seeds of each seed's own exact solution."""
    result = validate(WHITE, arch.dense(2), time="continuous", lam=lam, init_scale=0.3,
                      lr=0.002, epochs=300, hidden=2, seeds=2, seed=3, backend="numpy")
    comp = result.comparison
    assert "λ-balanced" in result.expectation.method
    assert any(k.startswith("trajectory") for k in comp.verdicts)
    assert result.passed, comp.verdicts
    assert max(m["rel"] for m in comp.modes.values()) < 0.02
    run = result.run
    one = [predict_balanced(WHITE, arch.dense(2), run.t, run.lr, lam,
                            init=[[np.asarray(w)[k:k + 1] for w in layers]
                                  for layers in run.init]) for k in range(2)]
    for key, a in result.theory.modes.items():
        np.testing.assert_allclose(a, (one[0].modes[key] + one[1].modes[key]) / 2,
                                   rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("argv, name", [
    (["--kx", "0"], "time"),                                     # discrete: refused
    (["--time", "continuous"], "dataset"),                       # D0's inputs are not white
    (["--kx", "0", "--time", "continuous", "--depth", "3"], "depth"),
    (["--kx", "0", "--time", "continuous", "--arch", "leaky"], "arch"),
    (["--kx", "0", "--time", "continuous", "--nonlinearity", "relu"], "init"),
    (["--kx", "0", "--time", "continuous", "--claims"], "--init"),
])
def test_what_the_solution_does_not_cover_is_refused_in_one_line(tmp_path, capsys, argv, name):
    from modspec.cli import main

    code = main(["validate", *argv, "--init", "lambda-balanced", "--lam", "1", "--lr", "0.002",
                 "--epochs", "10", "--hidden", "2", "--backend", "numpy", "--no-figures",
                 "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and name in err, err
    assert not (tmp_path / "comparison.json").exists()


def test_the_cli_writes_the_balanced_comparison(tmp_path, capsys):
    from modspec.cli import main

    code = main(["validate", "--kx", "0", "--time", "continuous", "--init", "lambda-balanced",
                 "--lam", "1", "--init-scale", "0.3", "--lr", "0.002", "--epochs", "300",
                 "--hidden", "2", "--backend", "numpy", "--strict", "--no-figures",
                 "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert code == 0, text
    result = json.loads((tmp_path / "comparison.json").read_text())
    assert "λ-balanced" in result["theory"]["method"]
    assert result["verdicts"]["trajectory pi1"]["passed"]


def test_a_run_without_its_start_is_refused():
    th = ms.derive(WHITE, arch.dense(2))
    run = ms.simulate(WHITE, arch.dense(2), 0.002, 5, hidden=2)
    from dataclasses import replace

    with pytest.raises(ModspecError, match="init"):
        expect_balanced(th, replace(run, init=None), 1.0)
