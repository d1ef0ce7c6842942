"""``modspec sweep --network``: the race's theory columns of a gated network at every point."""

from __future__ import annotations

from pathlib import Path

import pytest
from gated_cases import SHALLOW_DEEP, SHALLOW_DEEP_DATA, write_case

from modspec.cli import main
from modspec.numerics.gated_predict import gated_prediction, gated_theory
from modspec.theory.gated_toml import network_from_toml
from modspec.validation.sweeps.store import read_rows


@pytest.fixture()
def files(tmp_path):
    write_case(tmp_path, SHALLOW_DEEP, SHALLOW_DEEP_DATA)
    return tmp_path


@pytest.mark.parametrize("where", ["option", "grid"])
def test_every_point_holds_the_race_of_its_parameters(files, where, capsys):
    grid = files / "grid.toml"
    network = 'network = "net.toml"\n' if where == "grid" else ""
    grid.write_text("[dataset]\nfamily = 'gated'\nfile = 'data.toml'\n[run]\n" + network +
                    "lr = [0.05, 0.1]\nepochs = 200\ntime = ['discrete', 'continuous']\n")
    extra = ["--network", str(files / "net.toml")] if where == "option" else []
    store = files / "store.jsonl"
    assert main(["sweep", str(grid), "--out", str(store), *extra]) == 0
    assert "4 points: 4 computed" in capsys.readouterr().err
    rows = read_rows(store)
    assert len(rows) == 4 and {(r["lr"], r["time"]) for r in rows} == {
        (lr, t) for lr in (0.05, 0.1) for t in ("discrete", "continuous")}
    theory = gated_theory(network_from_toml(SHALLOW_DEEP), SHALLOW_DEEP_DATA)
    for r in rows:
        rec = gated_prediction(theory, r["lr"], 200, 0.001, time=r["time"])
        assert r["start"] == 0.001 and r["theory.basis_condition"] is True
        assert r["theory.0:V"] == pytest.approx(float(rec.modes["0:V"][-1]), rel=1e-12)
        assert r["theory.loss.y"] == pytest.approx(float(rec.loss["y"][-1]), rel=1e-12)
        assert r["theory.winner.0"] == "V"
        assert r["theory.half_rise.0:V"] < r["theory.half_rise.0:W1.W2"]
    assert main(["sweep", str(grid), "--out", str(store), *extra]) == 0     # resumes
    assert "4 points: 0 computed, 4 already" in capsys.readouterr().err


@pytest.mark.parametrize("run,message", [
    ("lr = 0.1\nepochs = 10\narch = 'dense'\n", "[run] key 'arch' is invalid"),
    ("lr = 0.1\n", "needs epochs"),
    ("lr = -1\nepochs = 10\n", "lr=-1 is invalid"),
    ("lr = 0.1\nepochs = 10\ncompute = ['simulate']\n", "compute="),
])
def test_a_bad_gated_grid_is_one_line_before_any_work(files, run, message, capsys):
    grid = files / "grid.toml"
    grid.write_text("[dataset]\nfamily = 'gated'\nfile = 'data.toml'\n[run]\n"
                    "network = 'net.toml'\n" + run)
    assert main(["sweep", str(grid), "--out", str(files / "s.jsonl")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not Path(files / "s.jsonl").exists()
