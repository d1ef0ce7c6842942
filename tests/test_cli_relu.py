"""``modspec relu``: the ReLU network against its gated network, text and JSON, one-line
errors."""

from __future__ import annotations

import json

import pytest

from modspec.cli import main

pytest.importorskip("torch")


@pytest.fixture()
def contexts_file(tmp_path):
    path = tmp_path / "contexts.toml"
    path.write_text('family = "contexts"\nC = 3\n')
    return str(path)


def test_relu_text_and_json(contexts_file, capsys):
    opts = ["relu", "--dataset", contexts_file, "--hidden", "4", "--lr", "0.01", "--epochs",
            "600", "--init-std", "0.1", "--threshold", "0"]
    assert main(opts) == 0
    text = capsys.readouterr().out
    assert "stable from epoch" in text and "from_stable: epochs" in text
    assert "agrees (tolerance 0.05)" in text
    assert main([*opts, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["applicable"] and out["predictions"]["from_stable"]["loss_error"] < 1e-8
    assert out["predictions"]["from_start"]["claimed"] == (out["start_instability"] == 0)


def test_relu_not_applicable(contexts_file, capsys):
    assert main(["relu", "--dataset", contexts_file, "--epochs", "200"]) == 0
    assert "not applicable" in capsys.readouterr().out


@pytest.mark.parametrize("opts, name", [(["--threshold", "1"], "--threshold"),
                                        (["--hidden", "0"], "--hidden"),
                                        (["--lr", "0"], "--lr"),
                                        (["--epochs", "-1"], "--epochs")])
def test_relu_bad_options_are_one_line(contexts_file, capsys, opts, name):
    try:
        code = main(["relu", "--dataset", contexts_file, *opts])
    except SystemExit as err:              # the parser's own errors
        code = err.code
    assert code == 2
    msg = capsys.readouterr().err.strip()
    assert "\n" not in msg and name in msg


def test_relu_refuses_what_cannot_fit_in_memory(contexts_file, capsys):
    assert main(["relu", "--dataset", contexts_file, "--epochs", "2000000000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "epochs=2000000000" in err and "memory" in err


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def test_relu_full_size_preset_and_time_per_epoch(contexts_file, capsys):
    """--full sets the follow-up's size (an explicit option still wins: 20 epochs here)."""
    assert main(["relu", "--dataset", contexts_file, "--full", "--epochs", "20",
                 "--format", "json"]) == 0
    s = json.loads(capsys.readouterr().out)["settings"]
    assert (s["hidden"], s["lr"], s["epochs"], s["record_every"]) == (700, 1e-3, 20, 10)
    assert s["seconds_per_epoch"] > 0 and s["device"] == "cpu"


@pytest.mark.skipif(_cuda(), reason="checks the refusal where CUDA is absent")
def test_relu_cuda_refused_in_one_line_without_a_device(contexts_file, capsys):
    assert main(["relu", "--dataset", contexts_file, "--full", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CUDA is not available" in err


@pytest.mark.slow
@pytest.mark.skipif(not _cuda(), reason="the full-size protocol needs a CUDA device")
def test_relu_full_size_on_cuda(contexts_file, capsys):
    assert main(["relu", "--dataset", contexts_file, "--full", "--device", "cuda"]) == 0
    out = capsys.readouterr().out
    assert "hidden 700, lr 0.001, 8000 epochs" in out and "ms per epoch" in out
