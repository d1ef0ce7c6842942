"""Every command takes its options from a TOML file (``--config``)."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modspec.cli import build_parser, main, with_config
from modspec.theory.errors import ModspecError


def test_every_command_takes_its_options_from_a_toml_config(tmp_path, capsys):
    cfg = tmp_path / "study.toml"
    cfg.write_text('[dataset]\nnx = 4\nny = 2\n[architecture]\narch = "segregated"\n'
                   '[derive]\nformat = "json"\n')
    assert main(["derive", "--config", str(cfg)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["dataset"]["nx"] == 4 and payload["architecture"] == "segregated"
    assert payload["converged"]["systematic"] is True
    assert main(["derive", "--config", str(cfg), "--nx", "3"]) == 0
    assert json.loads(capsys.readouterr().out)["dataset"]["nx"] == 3   # the command line wins


def test_unknown_config_key_is_one_line_naming_it(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("bogus = 1\n")
    assert main(["derive", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "'bogus'" in err and err.count("\n") == 1


def test_unreadable_config_is_one_line(tmp_path, capsys):
    assert main(["derive", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "--config" in capsys.readouterr().err


# ------------------------------------------------ file values are command-line values
def _parse(argv):
    """``(namespace, None)`` or ``(None, error line)`` for parsing ``argv`` (config applied)."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            return vars(build_parser().parse_args(with_config(list(argv), build_parser()))), None
        except SystemExit:
            return None, err.getvalue()
        except ModspecError as exc:
            return None, str(exc)


def _toml(tmp_path, text):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text, encoding="utf-8")
    return str(cfg)


def _same(a, b):
    """Two parse results agree (the --config option itself aside)."""
    (na, ea), (nb, eb) = a, b
    if na is None or nb is None:
        return na is nb and ea == eb
    strip = {"config", "func"}
    return ({k: v for k, v in na.items() if k not in strip}
            == {k: v for k, v in nb.items() if k not in strip})


#: TOML line under [simulate] → the same value typed on the command line.
EQUIVALENT = {
    "lr = 0": ["--lr", "0"],
    "lr = -1.5": ["--lr", "-1.5"],
    "lr = inf": ["--lr", "inf"],
    "lr = nan": ["--lr", "nan"],
    'lr = "fast"': ["--lr", "fast"],
    "lr = 0.25": ["--lr", "0.25"],
    "epochs = -1": ["--epochs", "-1"],
    "epochs = 2.5": ["--epochs", "2.5"],
    "epochs = 7": ["--epochs", "7"],
    "nx = 0": ["--nx", "0"],
    "nx = true": ["--nx", "True"],
    "r = -inf": ["--r=-inf"],            # typed "--r -inf" reads -inf as an option
    'backend = "jax"': ["--backend", "jax"],
    'backend = "torch"': ["--backend", "torch"],
    'format = "xml"': ["--format", "xml"],
    "seeds = 0": ["--seeds", "0"],
    "seed = -1": ["--seed", "-1"],
    "hidden = 0": ["--hidden", "0"],
    'arch = "nope"': ["--arch", "nope"],
    "train-objects = [0, 1, 2, 4, 7]": ["--train-objects", "0", "1", "2", "4", "7"],
    'train_objects = "0,1,2"': ["--train-objects", "0,1,2"],
    "train-objects = []": ["--train-objects"],
}


@pytest.mark.parametrize("line", list(EQUIVALENT))
def test_a_value_from_the_file_is_checked_exactly_as_on_the_command_line(line, tmp_path):
    key = line.split()[0]
    rest = [t for opt, value in (("--lr", "0.1"), ("--epochs", "3")) if opt[2:] != key
            for t in (opt, value)]                   # the required options the line leaves
    from_file = _parse(["simulate", "--config", _toml(tmp_path, f"[simulate]\n{line}\n"),
                        *rest])
    typed = _parse(["simulate", *rest, *EQUIVALENT[line]])
    assert _same(from_file, typed), (from_file, typed)


@given(nx=st.integers(-3, 12) | st.floats(allow_nan=True, allow_infinity=True),
       lr=st.floats(allow_nan=True, allow_infinity=True) | st.integers(-2, 2),
       fmt=st.text(alphabet="abcjnosx", max_size=5))
def test_any_file_value_parses_like_the_same_typed_value(nx, lr, fmt):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        def literal(v):
            return json.dumps(v) if isinstance(v, str) else (
                "nan" if v != v else ("inf" if v == float("inf") else
                                      "-inf" if v == -float("inf") else repr(v)))

        path = os.path.join(folder, "c.toml")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(f"nx = {literal(nx)}\n[predict]\nlr = {literal(lr)}\nepochs = 2\n"
                     f"format = {json.dumps(fmt)}\n")
        from_file = _parse(["predict", "--config", path])
    typed = _parse(["predict", f"--nx={nx}", f"--lr={lr}", "--epochs=2", f"--format={fmt}"])
    assert _same(from_file, typed), (from_file, typed)


def test_required_options_can_come_from_the_file(tmp_path, capsys):
    path = _toml(tmp_path, "[predict]\nlr = 0.01\nepochs = 3\n")
    assert main(["predict", "--config", path]) == 0
    assert len(json.loads(capsys.readouterr().out)["t"]) == 4
    out = tmp_path / "results"
    args, err = _parse(["validate", "--config", _toml(tmp_path, f"out = {json.dumps(str(out))}\n")])
    assert err is None and args["out"] == str(out) and not out.exists()


def test_the_command_line_wins_over_the_file_for_required_options(tmp_path):
    path = _toml(tmp_path, "[predict]\nlr = 0.01\nepochs = 3\n")
    args, _ = _parse(["predict", "--config", path, "--lr", "0.02"])
    assert args["lr"] == 0.02 and args["epochs"] == 3


@pytest.mark.parametrize("value, flag_on", [("true", True), ("false", False)])
def test_a_boolean_in_the_file_is_the_flag(value, flag_on, tmp_path):
    args, err = _parse(["derive", "--config", _toml(tmp_path, f"[derive]\nsymbolic = {value}\n")])
    assert err is None and args["symbolic"] is flag_on


@pytest.mark.parametrize("value", ['"false"', '"true"', "0", "1", "[true]"])
def test_a_flag_from_the_file_takes_only_true_or_false(value, tmp_path, capsys):
    path = _toml(tmp_path, f"[derive]\nsymbolic = {value}\n")
    assert main(["derive", "--config", path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "symbolic" in err and "true or false" in err


@pytest.mark.parametrize("argv, option", [
    (["derive"], "--format"),
    (["simulate", "--lr", "0.1", "--epochs", "3"], "--backend"),
])
def test_a_bad_choice_in_the_file_is_refused_naming_the_option(argv, option, tmp_path, capsys):
    key = option.lstrip("-")
    path = _toml(tmp_path, f'{key} = "xml-or-jax"\n')
    assert main([argv[0], "--config", path, *argv[1:]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"argument {option}" in err


def test_a_list_for_a_one_value_option_is_refused(tmp_path, capsys):
    assert main(["derive", "--config", _toml(tmp_path, "nx = [3, 4]\n")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'nx'" in err and "one value" in err


@pytest.mark.parametrize("content", [b"\xff\xfe[derive]\n", b"nx = 3\n\x80\n", b"[derive\n",
                                     b"nx = \n"])
def test_a_config_that_is_not_utf8_toml_is_one_line(content, tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_bytes(content)
    assert main(["derive", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--config" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--config"], ["--config="], ["--config", ""]])
def test_a_missing_or_empty_config_path_is_one_line(argv, capsys):
    assert main(["derive", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("modspec derive: error:") and "--config" in err


def test_a_folder_as_config_is_one_line(tmp_path, capsys):
    assert main(["derive", "--config", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--config" in err and "cannot read" in err


@pytest.mark.parametrize("line", ["lr = 0", "epochs = 0", 'device = "gpu"', "seeds = -1",
                                  'heldout = [99]\nclaims = true'])
def test_a_bad_file_value_stops_validate_before_its_output_folder_exists(line, tmp_path, capsys):
    out = tmp_path / "results"
    path = _toml(tmp_path, f"out = {json.dumps(str(out))}\n[validate]\n{line}\n")
    assert main(["validate", "--config", path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and line.split()[0] in err
    assert not out.exists()


# ------------------------------------------------------------------ the [rule] table
#: A [rule] table line → the same value typed on the command line.
RULE_EQUIVALENT = {
    'name = "hebbian"': ["--rule", "hebbian"],
    'name = "oja"': ["--rule", "oja"],
    'name = ""': ["--rule="],
    "gamma = 0.5": ["--gamma", "0.5"],
    "gamma = inf": ["--gamma", "inf"],
    "gamma = nan": ["--gamma", "nan"],
    "gamma = -inf": ["--gamma=-inf"],
    'gamma = "big"': ["--gamma", "big"],
    "gamma = true": ["--gamma", "True"],
    "nabla = -1e-3": ["--nabla=-1e-3"],
    "nabla = 1e999": ["--nabla", "inf"],
}


@pytest.mark.parametrize("command", ["simulate", "validate"])
@pytest.mark.parametrize("line", list(RULE_EQUIVALENT))
def test_a_rule_table_value_is_checked_exactly_as_the_rule_options(line, command, tmp_path):
    rest = (["--lr", "0.1", "--epochs", "3"] if command == "simulate"
            else ["--out", str(tmp_path / "out")])
    from_file = _parse([command, "--config", _toml(tmp_path, f"[rule]\n{line}\n"), *rest])
    typed = _parse([command, *rest, *RULE_EQUIVALENT[line]])
    assert _same(from_file, typed), (from_file, typed)


def test_a_simulation_runs_under_the_rule_of_the_rule_table(tmp_path, capsys):
    path = _toml(tmp_path, '[rule]\nname = "anti-hebbian"\nnabla = -2e-3\n'
                           "[simulate]\nlr = 0.01\nepochs = 5\nhidden = 4\n")
    assert main(["simulate", "--config", path]) == 0
    meta = json.loads(capsys.readouterr().out)["meta"]
    assert meta == {**meta, "rule": "anti-hebbian", "gamma": 0.0, "nabla": -2e-3}
    assert main(["simulate", "--config", path, "--nabla=-1e-3"]) == 0   # the line wins
    assert json.loads(capsys.readouterr().out)["meta"]["nabla"] == -1e-3


@pytest.mark.parametrize("line, words", [
    ("rate = 1", ["'rate'", "[rule]", "name, gamma, nabla"]),
    ('name = "oja"', ["--rule", "'oja'", "hebbian"]),
    ("gamma = nan", ["--gamma", "'nan'", "finite"]),
    ("nabla = inf", ["--nabla", "'inf'", "finite"]),
    ('name = ["hebbian"]', ["'rule'", "one value"]),
])
def test_a_bad_rule_table_is_one_line_before_any_work(line, words, tmp_path, capsys):
    out = tmp_path / "results"
    path = _toml(tmp_path, f"out = {json.dumps(str(out))}\n[rule]\n{line}\n")
    assert main(["validate", "--config", path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and all(w in err for w in words), err
    assert not out.exists()


def test_a_rule_table_is_left_to_the_commands_that_take_a_rule(tmp_path):
    path = _toml(tmp_path, '[rule]\nname = "hebbian"\n[reproduce]\nrules = ["hebbian", '
                           '"predictive-coding"]\n')
    args, err = _parse(["reproduce", "--config", path, "--out", str(tmp_path / "r")])
    assert err is None and args["rules"] == ["hebbian", "predictive-coding"]
    args, err = _parse(["derive", "--config", path])
    assert err is None and args["rule"] == "hebbian"
    args, err = _parse(["cmnist", "--config", path, "--out", str(tmp_path / "c")])
    assert err is None and "rule" not in args
    bad = _toml(tmp_path, '[reproduce]\nrules = ["hebbian", "oja"]\n')
    args, err = _parse(["reproduce", "--config", bad, "--out", str(tmp_path / "r")])
    assert args is None and "--rules" in err and "'oja'" in err


@given(gamma=st.floats(allow_nan=True, allow_infinity=True) | st.integers(-3, 3),
       name=st.sampled_from(["hebbian", "anti-hebbian", "gradient-descent", "oja", ""]))
def test_any_rule_table_parses_like_the_same_typed_rule_options(gamma, name):
    import tempfile

    literal = ("nan" if gamma != gamma else "inf" if gamma == float("inf") else
               "-inf" if gamma == -float("inf") else repr(gamma))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "c.toml")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(f'[rule]\nname = "{name}"\ngamma = {literal}\n')
        from_file = _parse(["simulate", "--config", path, "--lr", "0.1", "--epochs", "2"])
    typed = _parse(["simulate", "--lr", "0.1", "--epochs", "2", f"--rule={name}",
                    f"--gamma={gamma}"])
    assert _same(from_file, typed), (from_file, typed)
