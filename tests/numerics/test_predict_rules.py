"""A derivation with a learning rule compiles to the rule's own per-mode system, never to
gradient descent's (issue 19), or is refused in one line; its LaTeX shows the rule."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp

import modspec as ms
from modspec.theory import architectures as arch
from modspec.theory import rules as r
from modspec.theory.errors import ModspecError
from modspec.theory.rules import as_rule

D0 = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
KAPPA = sp.Symbol("kappa", positive=True)
DECAY = r.Rule("weight-decay", (r.Term(1, -KAPPA * r.W1), r.Term(2, -KAPPA * r.W2)),
               {KAPPA: 0.01})


@pytest.fixture(scope="module")
def decay():
    th = ms.derive(D0, arch.dense(), rule=DECAY)
    return th, ms.compile(th)


@pytest.mark.parametrize("time", ["continuous", "discrete"])
def test_a_user_weight_decay_rule_ends_at_s_minus_kappa_over_lambda_not_s_over_lambda(
        decay, time):
    th, f = decay
    end = f(np.array([0.0, 3000.0]), lr=0.01, a0=1e-6, time=time)
    assert end.meta["rule"] == "weight-decay" and end.meta["kappa"] == 0.01
    for k, mode in th.modes.items():
        s, lam = float(mode.s), float(mode.lam)
        assert end.modes[k][-1] == pytest.approx((s - 0.01) / lam, rel=1e-6)
        assert abs(end.modes[k][-1] - s / lam) > 5e-3          # not gradient descent's
    assert end.loss["compositional"][-1] > 1e-5                # decay keeps W off W*


def test_the_compiled_rule_follows_a_simulated_run_of_that_rule(decay):
    _, f = decay
    epochs = np.arange(0, 1501, 100)
    run = ms.simulate(D0, arch.dense(), lr=0.01, epochs=1500, hidden=16, init_std=1e-3,
                      seeds=2, rule=DECAY).at(epochs)
    theory = f(epochs, lr=0.01, a0=1e-6, time="discrete")
    for k, v in run.modes.items():
        assert theory.modes[k][-1] == pytest.approx(v[:, -1].mean(), abs=1e-3)
    for q, v in run.quadrant_norms.items():
        assert theory.quadrant_norms[q][-1] == pytest.approx(v[:, -1].mean(), abs=1e-3)


def test_a_gradient_descent_rule_compiles_to_gradient_descent_exactly():
    plain = ms.compile(ms.derive(D0, arch.dense()))
    ruled = ms.compile(ms.derive(D0, arch.dense(), rule="gradient-descent"))
    t = np.array([0.0, 50.0, 500.0])
    a, b = plain(t, lr=0.02, a0=1e-4), ruled(t, lr=0.02, a0=1e-4)
    for k in a.modes:
        assert np.array_equal(a.modes[k], b.modes[k])


def test_a_rule_that_does_not_reduce_is_refused_in_one_line_when_compiled():
    th = ms.derive(D0, arch.dense(), rule="anti-hebbian")
    with pytest.raises(ModspecError, match=r"rule.*anti-hebbian.*not reducible") as err:
        ms.compile(th)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("rule", [DECAY, "contrastive-hebbian"])
def test_a_symbolic_derivation_with_a_rule_predicts_the_numeric_one(rule):
    """σy = s²/λ where the derivation shows the outputs linear in the inputs (the
    contrastive-Hebbian term needs it); P from the dataset."""
    symbolic = ms.compile(ms.derive(ms.CompositionalDataset.symbolic(), arch.dense(),
                                    rule=rule))
    t = np.array([0.0, 40.0, 400.0])
    for point in ({"nx": 3, "ny": 1, "kx": 3, "ky": 1, "r": 1.0},
                  {"nx": 2, "ny": 1, "kx": 0, "ky": 2, "r": 0.5}):
        numeric = ms.compile(ms.derive(ms.CompositionalDataset(**point), arch.dense(),
                                       rule=rule))
        want = numeric(t, lr=0.01, a0=1e-3, time="discrete")
        got = symbolic(t, lr=0.01, a0=1e-3, time="discrete", **point)
        for k, v in got.modes.items():
            np.testing.assert_allclose(v, want.modes.get(k, np.zeros_like(t)), rtol=1e-9,
                                       atol=1e-15, err_msg=k)
        for q, v in want.quadrant_norms.items():
            np.testing.assert_allclose(got.quadrant_norms[q], v, rtol=1e-9, atol=1e-15)


def test_the_compiled_rule_equals_the_rule_theory_of_rule_modes():
    """One per-mode system: the predictor and numerics.rule_modes agree to round-off."""
    from modspec.numerics.rule_modes import rule_prediction

    rule = as_rule("hebbian", nabla=0.01)
    t = np.arange(0.0, 301.0, 30.0)
    want = rule_prediction(D0, arch.dense(), rule, t, 0.01, 1e-3, "continuous").trajectory
    got = ms.compile(ms.derive(D0, arch.dense(), rule=rule))(t, lr=0.01, a0=1e-3)
    for k, v in want.modes.items():
        np.testing.assert_allclose(got.modes[k], v, rtol=1e-7)
    for q, v in want.quadrant_norms.items():
        np.testing.assert_allclose(got.quadrant_norms[q], v, rtol=1e-7)


def test_to_latex_of_a_derivation_with_a_rule_shows_the_rule(decay):
    th, _ = decay
    tex = th.to_latex()
    assert r"\text{Learning rule weight-decay}" in tex and r"\kappa" in tex
    assert r"\frac{dc_{1}}{dt}" in tex and r"\frac{- \kappa + s}{\lambda}" in tex
    assert "Learning rule" in th._repr_latex_()
    assert "Learning rule" not in ms.derive(D0, arch.dense()).to_latex()


def test_predict_rule_on_the_command_line_is_the_rules_dynamics(run_cli, capsys):
    code, out, err = run_cli(capsys, "predict", "--rule", "hebbian", "--nabla", "0.01",
                             "--lr", "0.01", "--epochs", "300", "--a0", "1e-3")
    assert code == 0, err
    ruled = json.loads(out)
    code, out, _ = run_cli(capsys, "predict", "--lr", "0.01", "--epochs", "300", "--a0",
                           "1e-3")
    plain = json.loads(out)
    assert ruled["meta"]["rule"] == "hebbian" and ruled["meta"]["nabla"] == 0.01
    assert abs(ruled["modes"]["pi3"][100] - plain["modes"]["pi3"][100]) > 0.1   # 0.38, 0.03
    assert set(ruled["loss"]) == set(plain["loss"])


@pytest.mark.parametrize("rule", ["anti-hebbian", DECAY])
def test_a_gradient_descent_run_is_expected_by_gradient_descents_theory_whatever_the_rule(
        rule):
    """expect() of a plain run compiles the derivation without its rule (an unreducible rule
    is not refused there, a reducible one does not replace gradient descent)."""
    from modspec.numerics.expectation import expect

    run = ms.simulate(D0, arch.dense(), lr=0.02, epochs=100, hidden=8, init_std=1e-3, seeds=1)
    plain = expect(ms.derive(D0, arch.dense()), run)
    ruled = expect(ms.derive(D0, arch.dense(), rule=rule), run)
    assert ruled.method == plain.method
    for k, v in plain.trajectory.modes.items():
        assert np.array_equal(ruled.trajectory.modes[k], v)


def test_a_diverging_rule_prediction_is_one_line_naming_the_rule_not_nan():
    f = ms.compile(ms.derive(D0, arch.dense(),
                             rule=as_rule("predictive-coding", gamma=-50.0)))
    with pytest.raises(ModspecError, match=r"lr=0\.5.*predictive-coding.*diverges") as err:
        f(np.arange(0.0, 501.0), lr=0.5, a0=1e-3, time="discrete")
    assert "\n" not in str(err.value)
