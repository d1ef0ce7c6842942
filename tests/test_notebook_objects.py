"""What a notebook shows: short reprs (no arrays), LaTeX of modes and rules, tidy tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sympy as sp

import modspec as ms
from modspec.theory import rules as r


@pytest.fixture(scope="module")
def run():
    ds = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
    return ms.simulate(ds, ms.architectures.dense(), lr=0.05, epochs=20, seeds=3, hidden=8,
                       init_std=1e-3, record_every=5)


def test_a_trajectory_prints_one_line_without_its_arrays(run):
    text = repr(run)
    assert "\n" not in text and len(text) < 200
    assert text.startswith("Trajectory(simulation") and "3 seeds" in text
    assert "array" not in text


def test_to_dataframe_is_long_and_holds_every_recorded_value(run):
    df = run.to_dataframe()
    assert list(df.columns) == ["epoch", "seed", "group", "observable", "value"]
    n_values = sum(np.asarray(v).size for g in ("modes", "quadrant_norms", "loss")
                   for v in getattr(run, g).values())
    assert len(df) == n_values
    pi1 = df.query("observable == 'pi1' and seed == 2").sort_values("epoch")
    assert np.array_equal(pi1["value"].to_numpy(), np.asarray(run.modes["pi1"])[2])
    assert np.array_equal(pi1["epoch"].to_numpy(), run.t)
    # the mean over seeds of the table is the record's own mean
    means = df.groupby(["observable", "epoch"])["value"].mean()
    assert np.allclose(means.loc["Gx->Oy"].to_numpy(), run.mean()["quadrant_norms"]["Gx->Oy"])


def test_a_theory_record_has_seed_minus_one_in_its_table(run):
    th = ms.derive(ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1),
                   ms.architectures.dense())
    pred = ms.compile(th)(run.t, lr=0.05, a0=1e-4, time="discrete")
    df = pred.to_dataframe()
    assert set(df["seed"]) == {-1}
    assert isinstance(df, pd.DataFrame) and len(df) == len(run.t) * sum(
        len(getattr(pred, g)) for g in ("modes", "quadrant_norms", "loss"))
    assert "Trajectory(theory" in repr(pred)


def test_modes_print_their_numbers_and_render_as_latex():
    mode = ms.spectrum(ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)).modes[0]
    assert repr(mode) == ("Mode(pi1: s=3*sqrt(11)/8, lam=11/8, multiplicity=1, "
                          "fixed_point=3*sqrt(11)/11)")
    tex = mode._repr_latex_()
    assert tex.startswith("$") and tex.endswith("$") and r"s_{\pi_1}" in tex
    assert r"\frac{3 \sqrt{11}}{8}" in tex


def test_a_rule_renders_its_dynamics_in_paper_notation():
    kappa = sp.Symbol("kappa")
    decay = r.Rule("weight-decay", (r.Term(1, -kappa * r.W1), r.Term(2, -kappa * r.W2)),
                   {kappa: 1e-3})
    tex = decay.to_latex()
    assert r"\frac{1}{\tau}\left(G_{1} - \kappa W_{1}\right)" in tex
    assert r"\kappa = 0.001" in tex and "+ -" not in tex
    hebb = r.preset("hebbian").to_latex()
    assert r"\nabla" in hebb and "nabla" not in hebb.replace(r"\nabla", "")
    assert decay._repr_latex_().startswith("$$\\begin{aligned}")
