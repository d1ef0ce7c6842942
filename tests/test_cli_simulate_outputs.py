"""``modspec simulate``: long CSV, the run's a0 and settings in its JSON (``predict --a0-from``
starts the theory there), and progress bars on by default, off with ``--quiet`` /
``progress=False``."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

import modspec.numerics.progress as progress_module
from modspec.numerics.simulate import simulate
from modspec.theory import architectures as arch
from modspec.theory.dataset import CompositionalDataset

RUN = ["simulate", "--nx", "3", "--ny", "1", "--kx", "3", "--ky", "1", "--r", "1",
       "--lr", "0.05", "--epochs", "4", "--seeds", "2"]


def test_simulate_csv_is_the_long_form_of_the_run(run_cli, capsys):
    status, out, err = run_cli(capsys, *RUN, "--format", "csv")
    assert status == 0 and err == ""
    df = pd.read_csv(io.StringIO(out))
    assert list(df.columns) == ["epoch", "seed", "group", "observable", "value"]
    assert sorted(set(df["seed"])) == [0, 1] and sorted(set(df["epoch"])) == [0, 1, 2, 3, 4]
    status, out, _ = run_cli(capsys, *RUN)
    payload = json.loads(out)
    mean = (df.query("group == 'quadrant_norms' and observable == 'Gx->Oy'")
            .groupby("epoch")["value"].mean().to_numpy())
    assert np.allclose(mean, payload["quadrant_norms"]["Gx->Oy"])


def test_simulate_json_records_a0_and_settings_and_predict_starts_there(run_cli, capsys,
                                                                         tmp_path):
    status, out, _ = run_cli(capsys, *RUN)
    payload = json.loads(out)
    assert set(payload["a0"]) == set(payload["modes"]) and all(
        v > 0 for v in payload["a0"].values())
    meta = payload["meta"]
    assert (meta["lr"], meta["epochs"], meta["seeds"], meta["seed"], meta["arch"]) == \
        (0.05, 4, 2, 0, "dense")
    assert meta["modspec"] and meta["backend"] == "numpy"
    run = tmp_path / "run.json"
    run.write_text(out)
    predict = ["predict", "--nx", "3", "--ny", "1", "--kx", "3", "--ky", "1", "--r", "1",
               "--lr", "0.05", "--epochs", "4"]
    status, out, _ = run_cli(capsys, *predict, "--a0-from", str(run))
    assert status == 0
    theory = json.loads(out)
    for key, a0 in payload["a0"].items():
        assert theory["modes"][key][0] == pytest.approx(a0)
    bad = tmp_path / "bad.json"
    bad.write_text('{"modes": {}}')
    for path in (bad, tmp_path / "missing.json"):
        status, out, err = run_cli(capsys, *predict, "--a0-from", str(path))
        assert status == 2 and out == "" and "a0-from" in err and len(err.splitlines()) == 1


def test_no_bar_where_nobody_watches(monkeypatch, capsys):
    monkeypatch.setattr(progress_module, "DELAY", 0)
    d0 = CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
    simulate(d0, arch.dense(), lr=0.05, epochs=5)     # stderr captured: not a terminal
    assert capsys.readouterr().err == ""


def test_progress_is_on_by_default_and_off_when_asked(monkeypatch, capsys, run_cli):
    monkeypatch.setattr(progress_module, "DELAY", 0)
    monkeypatch.setattr(progress_module, "_interactive", lambda: True)   # as on a terminal
    d0 = CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
    simulate(d0, arch.dense(), lr=0.05, epochs=5)
    assert "epoch" in capsys.readouterr().err
    simulate(d0, arch.dense(), lr=0.05, epochs=5, progress=False)
    assert capsys.readouterr().err == ""
    status, _, err = run_cli(capsys, *RUN)
    assert status == 0 and "epoch" in err
    status, _, err = run_cli(capsys, *RUN, "--quiet")
    assert status == 0 and err == ""


def test_torch_training_shows_progress_unless_quiet(monkeypatch, capsys):
    pytest.importorskip("torch")
    from modspec.validation.training import train

    monkeypatch.setattr(progress_module, "DELAY", 0)
    monkeypatch.setattr(progress_module, "_interactive", lambda: True)   # as on a terminal
    d0 = CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
    train(d0, arch.dense(), backend="torch", device="cpu", lr=0.05, epochs=5)
    assert "train" in capsys.readouterr().err
    train(d0, arch.dense(), backend="torch", device="cpu", lr=0.05, epochs=5, progress=False)
    assert capsys.readouterr().err == ""
