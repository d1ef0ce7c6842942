"""Bad inputs at the edges (issues 24 and 25): files that are not files, divergence, options that
would be ignored, the parameter to blame, sizes and shapes that used to hang or trace back.

Each case is one line on stderr naming the parameter and exit status 2, before any work, or a
correct result. Cases that used to hang run in a subprocess with a timeout, so a regression
fails instead of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from modspec.numerics import budget
from modspec.theory.inputfile import MAX_INPUT_BYTES, InputFileError, read_bounded, read_toml

MEMORY = 16 * 2**30


@pytest.fixture(autouse=True)
def _fixed_memory(monkeypatch):
    monkeypatch.setattr(budget, "available_bytes", lambda: MEMORY)


def assert_one_line_refusal(code, out, err, names):
    assert code == 2, (code, out, err)
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert names in err, err
    assert "Traceback" not in err


def run_process(*argv, timeout=120):
    """``(status, stdout, stderr)`` of ``python -m modspec argv`` (killed after ``timeout``)."""
    proc = subprocess.run([sys.executable, "-m", "modspec", *argv], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONWARNINGS": ""})
    return proc.returncode, proc.stdout, proc.stderr


def _grid(tmp_path: Path, text: str) -> str:
    path = tmp_path / "grid.toml"
    path.write_text(text)
    return str(path)


GRID_RUN = '[run]\nlr = 0.02\nepochs = 10\ncompute = ["theory"]\n'


# ------------------------------------------------------------ files that are not files
def _not_files(tmp_path: Path) -> dict[str, str]:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    big = tmp_path / "big.toml"
    big.write_text("#" * (MAX_INPUT_BYTES + 1))
    return {"/dev/zero": "/dev/zero", "pipe": str(fifo), "folder": str(tmp_path),
            "over 1 MiB": str(big)}


FILE_KINDS = ("/dev/zero", "pipe", "folder", "over 1 MiB")
WHY = {"/dev/zero": "character device", "pipe": "a pipe", "folder": "a folder",
       "over 1 MiB": "at most 1 MiB"}


@pytest.mark.parametrize("kind", FILE_KINDS)
@pytest.mark.parametrize("surface", ["--config", "--dataset", "GRID"])
def test_an_input_that_is_not_a_small_regular_file_is_one_line(surface, kind, tmp_path):
    path = _not_files(tmp_path)[kind]
    store = tmp_path / "store.jsonl"
    argv = {"--config": ("derive", "--config", path),
            "--dataset": ("predict", "--lr", "0.1", "--epochs", "3", "--dataset", path),
            "GRID": ("sweep", path, "--out", str(store))}[surface]
    code, out, err = run_process(*argv, timeout=60)
    assert_one_line_refusal(code, out, err, surface)
    assert WHY[kind] in err
    assert not store.exists()


def test_bounded_reader_reads_small_files_and_refuses_the_rest(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text('family = "compositional"\nnx = 3\n')
    assert read_toml(path) == {"family": "compositional", "nx": 3}
    size = path.stat().st_size                                  # 32 bytes
    assert read_bounded(path, limit=size) == path.read_bytes()
    with pytest.raises(InputFileError, match=f"at most {size - 1} bytes; it has {size} bytes"):
        read_bounded(path, limit=size - 1)
    for text, reason in ((b"\xff\xfe", "not UTF-8"), (b"a = [", "not valid TOML"),
                         (b"a = " + b"[" * 100_000, "TOML")):
        path.write_bytes(text)
        with pytest.raises(InputFileError, match=reason):
            read_toml(path)


# --------------------------------------------------------------------------- divergence
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_short_diverging_run_is_refused_naming_lr_and_the_limit(run_cli, capsys, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    code, out, err = run_cli(capsys, "simulate", "--lr", "100", "--epochs", "3",
                             "--backend", backend)
    assert_one_line_refusal(code, out, err, "lr=100")
    assert "diverged" in err and "epoch 3" in err and "lr < 0.1005" in err


def test_a_run_above_the_limit_that_stays_bounded_warns_in_one_line(run_cli, capsys):
    import json

    code, out, err = run_cli(capsys, "simulate", "--lr", "0.15", "--epochs", "60")
    assert code == 0 and err.count("\n") == 1
    assert "warning: lr=0.15" in err and "lr < 0.1005" in err
    loss = json.loads(out)["loss"]["compositional"]
    assert all(0 <= v < 2 for v in loss)                 # bounded: an oscillation, no blow-up
    code, out, err = run_cli(capsys, "simulate", "--lr", "0.05", "--epochs", "3")
    assert code == 0 and err == ""                       # below the limit: no warning


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("std, at", [("1e300", "before the first epoch"),
                                     ("1e50", "far beyond the data's scale")])
def test_an_overflowing_start_names_init_std_not_lr(run_cli, capsys, backend, std, at):
    if backend == "torch":
        pytest.importorskip("torch")
    code, out, err = run_cli(capsys, "simulate", "--lr", "0.1", "--epochs", "5",
                             "--init-std", std, "--backend", backend)
    assert_one_line_refusal(code, out, err, f"init_std={float(std)!r}")
    assert at in err and "lr=" not in err.split("invalid")[0]


@pytest.mark.parametrize("extra", [(), ("--time", "discrete"), ("--arch", "leaky"),
                                   ("--arch", "leaky", "--depth", "6"), ("--rule", "hebbian")])
def test_a_huge_predicted_start_names_a0(run_cli, capsys, extra):
    code, out, err = run_cli(capsys, "predict", "--lr", "0.1", "--epochs", "3", "--a0", "1e300",
                             *extra)
    assert_one_line_refusal(code, out, err, "a0=1e+300")
    assert "largest converged mode strength 0.905" in err


def test_the_start_bound_is_derived_from_the_converged_strength():
    import modspec as ms
    from modspec.numerics.discrete import DIVERGENCE_GROWTH, check_start, converged_scale
    from modspec.theory.errors import ModspecError

    d0 = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
    th = ms.derive(d0, ms.architectures.dense())
    assert converged_scale(d0) == pytest.approx(max(float(m.s / m.lam)
                                                    for m in th.modes.values()))
    check_start("a0", 1.0, DIVERGENCE_GROWTH, 0.5)                   # at the bound: fine
    with pytest.raises(ModspecError, match="a0=2000000.0"):
        check_start("a0", 2e6, 2e6, 0.5)
    with pytest.raises(ModspecError, match="init_std"):
        check_start("init_std", 1e200, float("inf"), 3.0)


# ----------------------------------------------------------------------- ignored options
def test_predict_warns_that_hidden_does_not_apply_to_a_decoupled_network(run_cli, capsys):
    code, out, err = run_cli(capsys, "predict", "--lr", "0.1", "--epochs", "3", "--hidden", "5")
    assert code == 0 and err.count("\n") == 1 and "--hidden ignored" in err
    code, out, plain = run_cli(capsys, "predict", "--lr", "0.1", "--epochs", "3")
    assert code == 0 and plain == ""


def test_float32_on_the_numpy_simulator_is_refused(run_cli, capsys, tmp_path):
    code, out, err = run_cli(capsys, "validate", "--dtype", "float32", "--backend", "numpy",
                             "--epochs", "5", "--seeds", "1", "--no-figures",
                             "--out", str(tmp_path / "out"))
    assert_one_line_refusal(code, out, err, "dtype='float32'")
    assert not (tmp_path / "out").exists()


def test_auto_backend_runs_float32_in_torch():
    pytest.importorskip("torch")
    import modspec as ms
    from modspec.validation.training import train

    d0 = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
    run = train(d0, ms.architectures.dense(), backend="auto", device="cpu", dtype="float32",
                lr=0.01, epochs=2, hidden=4)
    assert run.meta["backend"] == "torch" and run.meta["dtype"] == "float32"


@pytest.mark.parametrize("option", [("--gamma", "1"), ("--nabla", "1e-3")])
def test_a_rule_coefficient_on_gradient_descent_is_refused(run_cli, capsys, option):
    for _ in range(2):                        # also when an answer is in the cache
        code, out, err = run_cli(capsys, "derive", *option)
        assert_one_line_refusal(code, out, err, option[0][2:] + "=")
        assert "does not apply to gradient-descent" in err
    code, out, err = run_cli(capsys, "derive", "--gamma", "0", "--nabla", "0")
    assert code == 0


def test_a_negative_number_with_an_exponent_is_a_value(run_cli, capsys):
    code, out, err = run_cli(capsys, "derive", "--rule", "anti-hebbian", "--nabla", "-1e-3",
                             "--format", "json")
    assert code == 0, err
    code, out, err = run_cli(capsys, "derive", "--nx", "-1e3")
    assert_one_line_refusal(code, out, err, "--nx")
    assert "expected one argument" not in err


# --------------------------------------------------------------------------------- grids
GRID_CASES = {
    "a0 = 0": ("a0 = 0", "run.a0=0"),
    "init_std = 0": ("init_std = 0", "run.init_std=0"),
    "a0 = 1e300": ("a0 = 1e300", "a0=1e+300"),
    "init_std = 1e300": ("init_std = 1e300", "init_std=1e+300"),
    "init_std = 1e3": ("init_std = 1e3", "init_std=1000.0"),
}


@pytest.mark.parametrize("line, names", list(GRID_CASES.values()), ids=list(GRID_CASES))
def test_a_grid_start_that_cannot_learn_or_overflows_is_refused(run_cli, capsys, tmp_path,
                                                                line, names):
    grid = _grid(tmp_path, f'[dataset]\nnx = 3\n[run]\nlr = 0.02\nepochs = 10\n{line}\n'
                           'compute = ["theory"]\n')
    store = tmp_path / "s.jsonl"
    code, out, err = run_cli(capsys, "sweep", grid, "--out", str(store), "--workers", "0")
    assert_one_line_refusal(code, out, err, names)
    assert not store.exists()


def test_a_grid_with_r_and_both_rx_and_ry_is_refused_as_ambiguous(run_cli, capsys, tmp_path):
    grid = _grid(tmp_path, "[dataset]\nr = [1, 2]\nrx = 1\nry = 1\n" + GRID_RUN)
    code, out, err = run_cli(capsys, "sweep", grid, "--out", str(tmp_path / "s.jsonl"))
    assert_one_line_refusal(code, out, err, "dataset.r=[1, 2]")
