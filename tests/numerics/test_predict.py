"""Predictors: invariants, broadcasting, symbolic = numeric, CLI contracts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp

import modspec as ms
from modspec.cli import main
from modspec.theory import architectures as arch
from modspec.theory import symbols as sy
from modspec.theory.errors import ModspecError

D0 = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
TH = ms.derive(D0, arch.dense())
F = ms.compile(TH)
T = np.arange(301, dtype=float)


def test_start_and_end_points():
    pr = F(np.array([0.0, 1e7]), lr=0.02, a0=7e-7)
    for k, mode in TH.modes.items():
        assert pr.modes[k][0] == pytest.approx(7e-7, rel=1e-14)
        assert pr.modes[k][1] == pytest.approx(float(mode.fixed_point), rel=1e-14)
    for q, ref in TH.converged["quadrant_norms"].items():
        assert pr.quadrant_norms[q][1] == pytest.approx(float(ref), rel=1e-12)
    assert pr.loss["compositional"][1] == pytest.approx(0.0, abs=1e-12)


def test_half_rise_epochs_of_d0_deep():
    pr = F(T, lr=0.02, a0=7e-7)
    rise = {k: int(np.argmax(v >= float(TH.modes[k].fixed_point) / 2))
            for k, v in pr.modes.items()}
    # theory.md §4.2: "≈ 36, 98 and 195" for a0 ≈ 7e-7
    assert abs(rise["pi1"] - 36) <= 1 and abs(rise["pi2"] - 98) <= 1
    assert abs(rise["pi3"] - 195) <= 3


def test_vectorised_equals_looped_and_batches_broadcast():
    lr = np.array([0.01, 0.02, 0.05])[:, None]
    a0 = {"pi1": 1e-6, "pi2": np.array([1e-7, 1e-6]), "pi3": 1e-5}
    pr = F(T, lr=lr, a0=a0)
    assert pr.modes["pi2"].shape == (3, 2, 301) and pr.loss["compositional"].shape == (3, 2, 301)
    for i, l in enumerate(lr[:, 0]):
        for j, a in enumerate(a0["pi2"]):
            one = F(T, lr=float(l), a0={"pi1": 1e-6, "pi2": float(a), "pi3": 1e-5})
            for k in one.modes:
                np.testing.assert_allclose(pr.modes[k][i, j], one.modes[k], rtol=1e-14)
            np.testing.assert_allclose(pr.quadrant_norms["Gx->Gy"][i, j],
                                       one.quadrant_norms["Gx->Gy"], rtol=1e-14)
            scalar = F(float(T[123]), lr=float(l), a0={"pi1": 1e-6, "pi2": float(a),
                                                        "pi3": 1e-5})
            assert scalar.modes["pi2"][0] == pytest.approx(one.modes["pi2"][123], rel=1e-14)


def test_symbolic_derivation_predicts_the_same_numbers():
    fs = ms.compile(ms.derive(ms.CompositionalDataset.symbolic(), arch.dense()))
    pr = fs(T, lr=0.02, a0=7e-7, nx=[3, 4], ny=1, kx=3, ky=1, r=1)
    num = F(T, lr=0.02, a0=7e-7)
    for k in num.modes:
        np.testing.assert_allclose(pr.modes[k][0], num.modes[k], rtol=1e-12)
    for q in num.quadrant_norms:
        np.testing.assert_allclose(pr.quadrant_norms[q][0], num.quadrant_norms[q], rtol=1e-12,
                                   atol=1e-300)
    d1 = ms.compile(ms.derive(ms.CompositionalDataset(4, 1, 3, 1, 1), arch.dense()))
    np.testing.assert_allclose(pr.loss["noncompositional"][1],
                               d1(T, lr=0.02, a0=7e-7).loss["noncompositional"], rtol=1e-12,
                               atol=1e-14)
    with pytest.raises(ModspecError, match="nx"):
        fs(T, lr=0.02, a0=1e-6, ny=1, kx=3, ky=1, r=1)


def test_deep_modules_without_closed_form_are_integrated():
    f3 = ms.compile(ms.derive(D0, arch.dense(3)))
    pr = f3(np.array([0.0, 50.0, 5000.0]), lr=0.02, a0=1e-2)
    for k, mode in TH.modes.items():
        assert pr.modes[k][0] == pytest.approx(1e-2)
        assert pr.modes[k][-1] == pytest.approx(float(mode.fixed_point), rel=1e-6)


def test_coupled_network_prediction_integrates_the_matrix_flow():
    fl = ms.compile(ms.derive(D0, arch.leaky()))
    pr = fl(np.array([0.0, 2000.0]), lr=0.02, a0=1e-4, hidden=10)
    assert pr.quadrant_norms["Gx->Oy"][-1] > 0.05 and pr.quadrant_norms["Ox->Gy"][-1] == 0


def test_compiled_expression_broadcasts():
    f = ms.compile(sy.s * sp.exp(-sy.lam * sy.t))
    out = f(t=np.arange(4.0), s=np.array([[1.0], [2.0]]), lam=0.5)
    np.testing.assert_allclose(out, np.array([[1.0], [2.0]]) * np.exp(-0.5 * np.arange(4.0)))
    with pytest.raises(ModspecError, match="s"):
        f(t=1.0, lam=1.0)


def test_bad_prediction_input_names_the_parameter():
    with pytest.raises(ModspecError, match="lr"):
        F(T, lr=-0.1, a0=1e-6)
    with pytest.raises(ModspecError, match="a0"):
        F(T, lr=0.1, a0={"pi1": 1e-6})
    with pytest.raises(ModspecError, match="t="):
        F(np.array([-1.0]), lr=0.1)
    with pytest.raises(ModspecError, match="compile"):
        ms.compile(42)


def test_predict_cli_json_contract(capsys):
    assert main(["predict", "--lr", "0.02", "--epochs", "5", "--arch", "split"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"t", "modes", "quadrant_norms", "loss"}
    assert out["t"] == [0, 1, 2, 3, 4, 5]
    assert set(out["modes"]) == {"A:pi1", "B:pi1+pi2", "B:pi3"}
    assert set(out["loss"]) == {"compositional", "noncompositional"}


def test_simulate_cli_json_contract(capsys):
    code = main(["simulate", "--lr", "0.05", "--epochs", "4", "--seeds", "2", "--hidden", "5",
                 "--arch", "segregated", "--train-objects", "0,1,2,4,7"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert {"t", "modes", "quadrant_norms", "loss", "std", "heldout"} <= set(out)
    assert out["heldout"]["objects"] == [3, 5, 6]
    assert len(out["std"]["modes"]["A:pi1"]) == 5


def test_cli_bad_input_is_one_line_and_exit_2(capsys):
    assert main(["simulate", "--lr", "0.02", "--epochs", "3", "--train-objects", "0,99"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--train-objects" in err[0]
    assert main(["predict", "--lr", "0", "--epochs", "3"]) == 2


def test_shallow_modes_accept_a_start_of_either_sign_and_deep_modes_refuse_it():
    """A shallow mode is linear in a0 (a random initial map projects with either sign); the
    continuous and discrete predictions agree with the closed form from a negative start."""
    import modspec as ms

    ds = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
    f = ms.compile(ms.derive(ds, ms.architectures.shallow()))
    t = np.arange(50)
    cont = f(t, lr=0.005, a0=-1e-3).modes["pi1"]
    disc = f(t, lr=0.005, a0=-1e-3, time="discrete").modes["pi1"]
    tau, s, lam = 1 / (8 * 0.005), np.sqrt(11 * 9) / 8, 11 / 8
    np.testing.assert_allclose(cont, s / lam + (-1e-3 - s / lam) * np.exp(-lam * t / tau))
    np.testing.assert_allclose(disc, s / lam + (-1e-3 - s / lam) * (1 - lam / tau) ** t)
    deep = ms.compile(ms.derive(ds, ms.architectures.dense()))
    with pytest.raises(ms.ModspecError, match=r"a0\[pi1\]"):
        deep(t, lr=0.02, a0=-1e-3)
