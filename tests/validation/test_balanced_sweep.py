"""Sweeps from λ-balanced starts (issue 22): grid keys init/lam/init_scale and the CLI options,
theory and simulation columns of the lazy–rich measures that agree point by point, and
refusals before any work."""

from __future__ import annotations

import numpy as np
import pytest

import modspec as ms
from modspec.theory.errors import ModspecError
from modspec.validation.sweeps import run_bundle
from modspec.validation.sweeps.balanced import with_init
from modspec.validation.sweeps.grid import grid_points

WHITE = {"nx": 3, "ny": 2, "kx": 0, "ky": 1, "r": 1.0}


def _grid(**run):
    base = {"arch": "dense", "lr": 0.002, "epochs": 300, "hidden": 3, "seeds": 2,
            "init": "lambda-balanced", "compute": ["theory", "simulate"]}
    return {"dataset": dict(WHITE), "run": {**base, **run}}


def test_balanced_points_sweep_lam_and_scale_and_random_points_keep_their_keys():
    points = grid_points(_grid(lam=[0.0, 10.0], init_scale=[0.01, 0.3]))
    assert [(p.lam, p.init_scale) for p in points] == [(0.0, 0.01), (0.0, 0.3), (10.0, 0.01),
                                                       (10.0, 0.3)]
    assert points[0].params()["init"] == "lambda-balanced"
    random = grid_points({"dataset": dict(WHITE), "run": {"lr": 0.01, "epochs": 5,
                                                          "compute": ["theory"]}})[0]
    params = random.params()
    assert not {"init", "lam", "init_scale"} & set(params)         # the columns of before
    from dataclasses import replace

    assert random.key == replace(random, init="random", lam=None).key   # unchanged defaults


def test_theory_and_simulated_regime_columns_agree_and_order_lazy_below_rich():
    points = grid_points(_grid(lam=[0.0, 10.0], init_scale=0.01))
    rows = run_bundle(points)
    for row in rows:
        for name in ("kernel_movement", "kernel_distance", "alignment", "pi1", "pi2"):
            assert row[f"simulate.{name}"] == pytest.approx(row[f"theory.{name}"], rel=0.03), \
                (row["lam"], name)
        assert np.isfinite(row["simulate.kernel_movement.std"])
    rich, lazy = rows
    assert lazy["theory.kernel_distance"] < 0.2 * rich["theory.kernel_distance"]
    assert lazy["theory.kernel_movement"] < 1e-2 * rich["theory.kernel_movement"]


@pytest.mark.parametrize("change, names", [
    ({"dataset": {"kx": 1}}, "whitened"),
    ({"run": {"depth": 3}}, "two-layer"),
    ({"run": {"rule": "hebbian"}}, "run.rule"),
    ({"run": {"init": "random", "lam": 1.0}}, "run.lam"),
    ({"run": {"init": "lazy"}}, "run.init"),
    ({"run": {"init_scale": -1.0}}, "run.init_scale"),
])
def test_a_point_the_exact_solution_does_not_cover_is_refused_in_one_line(change, names):
    grid = _grid(lam=1.0)
    for table, values in change.items():
        grid[table].update(values)
    with pytest.raises(ModspecError) as info:
        grid_points(grid)
    assert names in str(info.value) and "\n" not in str(info.value)


def test_command_line_options_set_the_grid_and_refuse_a_key_given_twice(tmp_path, run_cli,
                                                                        capsys):
    grid = _grid(lam=None)
    del grid["run"]["lam"], grid["run"]["init"]
    merged = with_init(grid, "lambda-balanced", 2.0, None)
    assert merged["run"]["lam"] == 2.0 and "init_scale" not in merged["run"]
    with pytest.raises(ModspecError, match="--lam"):
        with_init(_grid(lam=1.0), "lambda-balanced", 2.0, None)
    with pytest.raises(ModspecError, match="--lam"):
        with_init(grid, "random", 2.0, None)
    (tmp_path / "g.toml").write_text(
        '[dataset]\nnx = 3\nny = 2\nkx = 0\nky = 1\n[run]\nlr = 0.002\nepochs = 50\n'
        'hidden = 3\nlam = [0.0, 10.0]\ncompute = ["theory"]\n')
    code, _, err = run_cli(capsys, "sweep", str(tmp_path / "g.toml"), "--out",
                           str(tmp_path / "s.jsonl"), "--workers", "0", "--init",
                           "lambda-balanced", "--init-scale", "0.1")
    assert code == 0, err
    df = ms.load_sweep(tmp_path / "s.jsonl")
    assert list(df["lam"]) == [0.0, 10.0] and list(df["init_scale"]) == [0.1, 0.1]
    assert df["theory.kernel_distance"].iloc[1] < df["theory.kernel_distance"].iloc[0]
