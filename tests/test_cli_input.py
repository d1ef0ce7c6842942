"""Bad command-line input: one line naming the option, exit status 2, before any work.

Every command's options are probed with zero, negative, infinite, NaN, huge, wrong-type and
empty values; output folders with an empty path, an existing file, a file on the way and a
folder that cannot be written; requests whose arrays would not fit in memory.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

from modspec.commands.options import integer, number, output_folder, write_json
from modspec.numerics import budget
from modspec.theory.errors import ModspecError

#: The memory every test sees, so refusals do not depend on the machine.
MEMORY = 16 * 2**30

PREDICT = ("predict", "--lr", "0.1", "--epochs", "3")
SIMULATE = ("simulate", "--lr", "0.1", "--epochs", "3")
# validate and reproduce get an --out folder that must never be created

CASES = {
    # derive: dataset, architecture and output options
    "derive --nx 0": (("derive", "--nx", "0"), "--nx"),
    "derive --nx -1": (("derive", "--nx", "-1"), "--nx"),
    "derive --nx 2.5": (("derive", "--nx", "2.5"), "--nx"),
    "derive --nx empty": (("derive", "--nx", ""), "--nx"),
    "derive --nx 10**5000": (("derive", "--nx", "1" + "0" * 5000), "--nx"),
    "derive --ny -1": (("derive", "--ny", "-1"), "--ny"),
    "derive --kx x": (("derive", "--kx", "x"), "--kx"),
    "derive --ky -2": (("derive", "--ky", "-2"), "--ky"),
    "derive --r -1": (("derive", "--r", "-1"), "--r"),
    "derive --r nan": (("derive", "--r", "nan"), "--r"),
    "derive --r inf": (("derive", "--r", "inf"), "--r"),
    "derive --r 1e999": (("derive", "--r", "1e999"), "--r"),
    "derive --rx -0.5": (("derive", "--rx", "-0.5"), "--rx"),
    "derive --ry one": (("derive", "--ry", "one"), "--ry"),
    "derive --depth 0": (("derive", "--depth", "0"), "--depth"),
    "derive --depth -3": (("derive", "--depth", "-3"), "--depth"),
    "derive --arch nope": (("derive", "--arch", "nope"), "--arch"),
    "derive --format xml": (("derive", "--format", "xml"), "--format"),
    "derive --train-objects x": (("derive", "--train-objects", "x"), "--train-objects"),
    "derive --train-objects 0 8": (("derive", "--train-objects", "0", "8"), "--train-objects"),
    "derive --train-objects 1,1": (("derive", "--train-objects", "1,1"), "--train-objects"),
    "derive --train-objects -1": (("derive", "--train-objects", "-1"), "--train-objects"),
    "derive --symbolic --train-objects": (("derive", "--symbolic", "--train-objects", "1"),
                                          "--train-objects"),
    # predict
    "predict --lr 0": (("predict", "--epochs", "3", "--lr", "0"), "--lr"),
    "predict --lr -1": (("predict", "--epochs", "3", "--lr", "-1"), "--lr"),
    "predict --lr nan": (("predict", "--epochs", "3", "--lr", "nan"), "--lr"),
    "predict --lr inf": (("predict", "--epochs", "3", "--lr", "inf"), "--lr"),
    "predict --lr empty": (("predict", "--epochs", "3", "--lr", ""), "--lr"),
    "predict --epochs -1": (("predict", "--lr", "0.1", "--epochs", "-1"), "--epochs"),
    "predict --epochs 1.5": (("predict", "--lr", "0.1", "--epochs", "1.5"), "--epochs"),
    "predict --epochs 2e9": (("predict", "--lr", "0.1", "--epochs", "2000000000"), "--epochs"),
    "predict --a0 nan": ((*PREDICT, "--a0", "nan"), "--a0"),
    "predict --a0 -inf": ((*PREDICT, "--a0", "-inf"), "--a0"),
    "predict --hidden 0": ((*PREDICT, "--arch", "leaky", "--hidden", "0"), "--hidden"),
    "predict --hidden 1e20": ((*PREDICT, "--arch", "leaky", "--hidden", "1" + "0" * 20),
                              "--hidden=100000000000000000000"),
    "predict --seed -1": ((*PREDICT, "--seed", "-1"), "--seed"),
    "predict --seed 2**64": ((*PREDICT, "--seed", str(2**64)), "--seed"),
    "predict --time soon": ((*PREDICT, "--time", "soon"), "--time"),
    "predict --format xml": ((*PREDICT, "--format", "xml"), "--format"),
    "predict lacks --lr": (("predict", "--epochs", "3"), "--lr"),
    # simulate
    "simulate --lr 0": (("simulate", "--epochs", "3", "--lr", "0"), "--lr"),
    "simulate --lr nan": (("simulate", "--epochs", "3", "--lr", "nan"), "--lr"),
    "simulate --epochs -1": (("simulate", "--lr", "0.1", "--epochs", "-1"), "--epochs"),
    "simulate --epochs 2e9": (("simulate", "--lr", "0.1", "--epochs", "2000000000"), "epochs"),
    "simulate --seeds 1e4 --hidden 1e5": ((*SIMULATE, "--seeds", "10000", "--hidden", "100000"),
                                          "seeds=10000"),
    "simulate --hidden 0": ((*SIMULATE, "--hidden", "0"), "--hidden"),
    "simulate --hidden -5": ((*SIMULATE, "--hidden", "-5"), "--hidden"),
    "simulate --init-std -1": ((*SIMULATE, "--init-std", "-1"), "--init-std"),
    "simulate --init-std inf": ((*SIMULATE, "--init-std", "inf"), "--init-std"),
    "simulate --seeds 0": ((*SIMULATE, "--seeds", "0"), "--seeds"),
    "simulate --seed -1": ((*SIMULATE, "--seed", "-1"), "--seed"),
    "simulate --backend jax": ((*SIMULATE, "--backend", "jax"), "--backend"),
    "simulate --device gpu": ((*SIMULATE, "--device", "gpu"), "--device"),
    "simulate --train-objects 0 99": ((*SIMULATE, "--train-objects", "0", "99"),
                                      "--train-objects"),
    # validate (--out added by the test)
    "validate --lr 0": (("validate", "--lr", "0"), "--lr"),
    "validate --lr -0.1": (("validate", "--lr", "-0.1"), "--lr"),
    "validate --epochs 0": (("validate", "--epochs", "0"), "--epochs"),
    "validate --hidden 0": (("validate", "--hidden", "0"), "--hidden"),
    "validate --init-std nan": (("validate", "--init-std", "nan"), "--init-std"),
    "validate --seeds 0": (("validate", "--seeds", "0"), "--seeds"),
    "validate --seed -1": (("validate", "--seed", "-1"), "--seed"),
    "validate --device gpu": (("validate", "--device", "gpu"), "--device"),
    "validate --dtype float16": (("validate", "--dtype", "float16"), "--dtype"),
    "validate --nonlinearity sigmoid": (("validate", "--nonlinearity", "sigmoid"),
                                        "--nonlinearity"),
    "validate --time soon": (("validate", "--time", "soon"), "--time"),
    "validate --train-objects 9": (("validate", "--train-objects", "9"), "--train-objects"),
    "validate --claims --heldout 99": (("validate", "--claims", "--heldout", "99"),
                                       "--heldout"),
    "validate --claims --heldout all": (("validate", "--claims", "--heldout", "0,1,2,3,4,5,6,7"),
                                        "--heldout"),
    "validate lacks --out": (("validate",), "--out"),
    # reproduce (--out added by the test)
    "reproduce --seed -1": (("reproduce", "--seed", "-1"), "--seed"),
    "reproduce --seed x": (("reproduce", "--seed", "x"), "--seed"),
    "reproduce --parts nope": (("reproduce", "--parts", "spectrum", "nope"), "--parts"),
    "reproduce --device tpu": (("reproduce", "--device", "tpu"), "--device"),
    "reproduce --source mnist": (("reproduce", "--source", "mnist"), "--source"),
    "reproduce --source idx:missing": (("reproduce", "--source", "idx:/no/such/folder"),
                                       "--source"),
    "reproduce --source empty": (("reproduce", "--source", ""), "--source"),
}


@pytest.fixture(autouse=True)
def _fixed_memory(monkeypatch):
    monkeypatch.setattr(budget, "available_bytes", lambda: MEMORY)



def assert_one_line_refusal(code, out, err, names):
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert names in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, names", list(CASES.values()), ids=list(CASES))
def test_bad_option_is_one_line_naming_it_with_status_2_before_any_work(run_cli, argv, names,
                                                                       capsys, tmp_path):
    out_dir = tmp_path / "never-created"
    if argv[0] in ("validate", "reproduce") and names != "--out":
        argv = (*argv, "--out", str(out_dir))
    start = time.perf_counter()
    code, out, err = run_cli(capsys, *argv)
    assert_one_line_refusal(code, out, err, names)
    assert time.perf_counter() - start < 5          # refused before deriving or training
    assert not out_dir.exists()


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_validate_refuses_training_that_cannot_fit_in_memory_before_training(run_cli, backend,
                                                                             capsys, tmp_path):
    pytest.importorskip("torch")
    start = time.perf_counter()
    code, out, err = run_cli(capsys, "validate", "--backend", backend, "--epochs", "2000000000",
                             "--out", str(tmp_path / "out"))
    assert_one_line_refusal(code, out, err, "epochs=2000000000")
    assert re.search(r"[GT]iB of memory", err) and time.perf_counter() - start < 5


# ------------------------------------------------------------------ output folders
def _read_only(tmp_path: Path) -> str:
    if os.geteuid() == 0:  # root writes anywhere a mode allows nothing: use a read-only tree
        if not Path("/sys/kernel").is_dir():
            pytest.skip("no read-only folder for root here")
        return "/sys/modspec-out"
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return str(folder / "out")


def _bad_folders(tmp_path: Path) -> dict[str, str]:
    file = tmp_path / "results.json"
    file.write_text("{}")
    return {"empty": "", "blank": "  ", "existing file": str(file),
            "file on the way": str(file / "out")}


BAD_FOLDER_KINDS = ("empty", "blank", "existing file", "file on the way", "read-only")
WRITERS = {"validate": ("validate",), "reproduce": ("reproduce",)}


@pytest.mark.parametrize("kind", BAD_FOLDER_KINDS)
@pytest.mark.parametrize("command", sorted(WRITERS))
def test_bad_output_folder_is_refused_before_any_work(run_cli, command, kind, tmp_path, capsys):
    path = _read_only(tmp_path) if kind == "read-only" else _bad_folders(tmp_path)[kind]
    before = sorted(tmp_path.rglob("*"))
    code, out, err = run_cli(capsys, *WRITERS[command], "--out", path)
    assert_one_line_refusal(code, out, err, "--out")
    assert sorted(tmp_path.rglob("*")) == before                 # nothing written anywhere


@pytest.mark.parametrize("kind", BAD_FOLDER_KINDS)
def test_output_folder_check_names_the_problem(kind, tmp_path):
    import argparse

    path = _read_only(tmp_path) if kind == "read-only" else _bad_folders(tmp_path)[kind]
    reason = {"empty": "empty", "blank": "empty", "existing file": "existing file",
              "file on the way": "is a file", "read-only": "cannot write"}[kind]
    with pytest.raises(argparse.ArgumentTypeError, match=reason):
        output_folder(path)


def test_output_folder_accepts_new_and_existing_folders_without_creating_them(tmp_path):
    new = tmp_path / "a" / "b"
    assert output_folder(str(new)) == str(new)
    assert output_folder(str(tmp_path)) == str(tmp_path)
    assert list(tmp_path.iterdir()) == []                       # no folder, no probe left


# ----------------------------------------------------------------- value types
@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "-inf", "1e999", "", "x", "1,5"])
def test_positive_number_refuses_zero_negative_non_finite_and_text(text):
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="finite number > 0"):
        number(0, strict=True)(text)


@pytest.mark.parametrize("text", ["-1", "2.0", "1e3", "", "x", "0x10", "9" * 5000])
def test_integer_at_least_one_refuses_non_integers_and_small_values(text):
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="integer ≥ 1"):
        integer(1)(text)


def test_value_types_return_valid_values_unchanged():
    assert number(0, strict=True)("1e-300") == 1e-300
    assert number()("-2.5") == -2.5
    assert number(0)("0") == 0.0
    assert integer(0)(" 7 ") == 7
    assert integer(0, 3)("3") == 3


# ---------------------------------------------------------------------- JSON output
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_json_output_is_strict_json_or_nothing(bad):
    import io

    stream = io.StringIO()
    with pytest.raises(ModspecError, match="NaN or Infinity"):
        write_json({"modes": {"pi1": [0.5, bad]}}, stream)
    assert stream.getvalue() == ""
    write_json({"modes": {"pi1": [0.5, 1e308]}}, stream)
    assert json.loads(stream.getvalue(), parse_constant=pytest.fail) == {"modes": {"pi1": [0.5,
                                                                                          1e308]}}


def test_derive_json_never_prints_infinity(run_cli, capsys):
    code, out, err = run_cli(capsys, "derive", "--r", "1e300", "--format", "json", "--no-cache")
    assert_one_line_refusal(code, out, err, "")
    assert "Infinity" not in out + err.replace("NaN or Infinity", "")


def test_overflowing_prediction_is_refused_instead_of_printing_infinity(run_cli, capsys):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        code, out, err = run_cli(capsys, *PREDICT, "--a0", "1e308")
    if code == 0:                     # finite answer: it must be strict JSON
        json.loads(out, parse_constant=pytest.fail)
    else:
        assert_one_line_refusal(code, out, err, "")


def test_bad_input_through_the_installed_entry_point_is_one_line():
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "modspec", "validate", "--lr", "0", "--out",
                           os.devnull], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--lr" in proc.stderr
