"""``modspec simulate --rule/--gamma/--nabla``: the rule reaches the simulator; bad input is one
line with exit status 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modspec.numerics.simulate import simulate
from modspec.theory import architectures as arch
from modspec.theory.rules import PRESETS, as_rule

ARGS = ("simulate", "--lr", "0.01", "--epochs", "5", "--hidden", "4", "--init-std", "0.1",
        "--seeds", "2")


def test_simulate_rule_option_equals_the_library_run_with_that_rule(run_cli, capsys, d0):
    code, out, err = run_cli(capsys, *ARGS, "--rule", "anti-hebbian", "--nabla", "-0.01")
    assert code == 0, err
    got = json.loads(out)
    assert {k: got["meta"][k] for k in ("rule", "gamma", "nabla")} == \
        {"rule": "anti-hebbian", "gamma": 0.0, "nabla": -0.01}
    want = simulate(d0, arch.dense(), lr=0.01, epochs=5, hidden=4, init_std=0.1, seeds=2,
                    rule=as_rule("anti-hebbian", nabla=-0.01)).payload()
    for k, v in want["quadrant_norms"].items():
        assert np.allclose(got["quadrant_norms"][k], v, rtol=1e-12)


def test_default_rule_is_gradient_descent_with_unchanged_output(run_cli, capsys):
    _, plain, _ = run_cli(capsys, *ARGS)
    _, named, _ = run_cli(capsys, *ARGS, "--rule", "gradient-descent")
    assert plain == named
    meta = json.loads(plain)["meta"]          # the run's settings: no rule entry for GD
    assert meta["command"] == "simulate" and not {"rule", "gamma", "nabla"} & set(meta)


@pytest.mark.parametrize("argv, names", [
    (("--rule", "oja"), "--rule"),
    (("--gamma", "nan"), "--gamma"),
    (("--nabla", "inf"), "--nabla"),
    (("--rule", "hebbian", "--arch", "split"), "rule"),
])
def test_bad_rule_input_is_one_line_with_status_2(run_cli, capsys, argv, names):
    code, out, err = run_cli(capsys, *ARGS, *argv)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and names in err


def test_rule_help_names_every_preset_with_its_coefficients(run_cli, capsys):
    code, out, _ = run_cli(capsys, "simulate", "--help")
    assert code == 0
    text = " ".join(out.split())
    for name, rule in PRESETS.items():
        assert name in text
        if rule.nabla:
            assert f"{name} (nabla={rule.nabla:g})" in text
        if rule.gamma:
            assert f"{name} (gamma={rule.gamma:g})" in text


def test_validate_trains_under_a_rule_and_says_so(run_cli, capsys, tmp_path):
    import json

    code, out, err = run_cli(capsys, "validate", "--rule", "hebbian", "--lr", "0.01",
                             "--epochs", "200", "--seeds", "2", "--no-figures", "--out",
                             str(tmp_path))
    assert code == 0, err
    assert "rule hebbian (gamma 0, nabla 0.001)" in out.splitlines()[0]
    meta = json.loads((tmp_path / "training.json").read_text())["meta"]
    assert meta["rule"] == "hebbian" and meta["nabla"] == 1e-3
    code, out, err = run_cli(capsys, "validate", "--rule", "hebbian", "--claims", "--out",
                             str(tmp_path / "claims"))
    assert code == 2 and "--rule" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "claims").exists()


# ---------------------------------------------------------------- the rules' own theory
def test_derive_rule_prints_the_per_mode_system_its_fixed_points_and_vanishing_at_w_star(
        run_cli, capsys, d0):
    import modspec as ms

    code, out, err = run_cli(capsys, "derive", "--rule", "hebbian", "--nabla", "0.002",
                             "--format", "json", "--no-cache")
    assert code == 0, err
    rule = json.loads(out)["rule"]
    assert rule["rule"] == "hebbian" and rule["coefficients"] == {"gamma": 0.0, "nabla": 0.002}
    assert rule["reducible"] and rule["outputs_linear_in_inputs"]
    assert rule["vanishes_at_optimum"] == {"W1": False, "W2": True}
    assert ["1", "s/lam"] in [p["strengths"] for p in rule["fixed_points"]]
    th = ms.derive(d0, arch.dense(), rule=as_rule("hebbian", nabla=0.002))
    from modspec.theory.rule_derivation import describe

    assert describe(th.rule) == rule
    code, text, _ = run_cli(capsys, "derive", "--rule", "anti-hebbian")
    assert code == 0 and "not reducible to modes" in text and "off-diagonal" in text


def test_predict_rule_equals_the_library_prediction_and_refuses_an_unreducible_rule(
        run_cli, capsys, d0):
    from modspec.numerics.rule_modes import rule_prediction

    code, out, err = run_cli(capsys, "predict", "--rule", "contrastive-hebbian", "--gamma",
                             "0.5", "--lr", "0.01", "--epochs", "20", "--a0", "1e-3",
                             "--time", "discrete")
    assert code == 0, err
    want = rule_prediction(d0, arch.dense(), as_rule("contrastive-hebbian", gamma=0.5),
                           np.arange(21.0), 0.01, 1e-3, "discrete").trajectory
    for k, v in want.modes.items():
        assert np.allclose(json.loads(out)["modes"][k], v, rtol=1e-12)
    code, out, err = run_cli(capsys, "predict", "--rule", "anti-hebbian", "--lr", "0.01",
                             "--epochs", "5")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "not reducible" in err


@pytest.mark.parametrize("command", ["derive", "predict"])
def test_rule_options_of_derive_and_predict_refuse_bad_input_in_one_line(run_cli, capsys,
                                                                          command):
    extra = ("--lr", "0.01", "--epochs", "3") if command == "predict" else ()
    for argv in (("--rule", "oja"), ("--gamma", "inf"), ("--rule", "hebbian", "--arch",
                                                          "split")):
        code, out, err = run_cli(capsys, command, *extra, *argv)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, argv
