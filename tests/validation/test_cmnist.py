"""Compositional MNIST: the dataset builder, IDX files, CNN shapes, resumable runs, the CLI."""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
import pytest

from modspec.cli import main
from modspec.theory.errors import ModspecError
from modspec.validation.cmnist import build, read_idx, targets, tuple_number
from modspec.validation.cnn import kernel_sizes

pytest.importorskip("sklearn")


def test_digits_build_is_deterministic_under_its_seed():
    a = build("digits", positions=2, n_train=50, n_test=20, holdout=0.2, seed=4)
    b = build("digits", positions=2, n_train=50, n_test=20, holdout=0.2, seed=4)
    c = build("digits", positions=2, n_train=50, n_test=20, holdout=0.2, seed=5)
    np.testing.assert_array_equal(a.train.images, b.train.images)
    np.testing.assert_array_equal(a.test_heldout.digits, b.test_heldout.digits)
    assert a.heldout_tuples == b.heldout_tuples != c.heldout_tuples
    assert a.train.images.shape == (50, 1, 8, 16)
    assert a.train.images.dtype == np.float32 and 0 <= a.train.images.min() \
        and a.train.images.max() <= 1


def test_heldout_combinations_never_occur_in_training():
    d = build("digits", positions=2, n_train=2000, n_test=300, holdout=0.3, seed=0)
    held = set(d.heldout_tuples)
    assert len(held) == 30
    assert not held & set(tuple_number(d.train.digits).tolist())
    assert not held & set(tuple_number(d.test_seen.digits).tolist())
    assert set(tuple_number(d.test_heldout.digits).tolist()) <= held
    for i in range(2):  # every digit still occurs at every position in training
        assert set(d.train.digits[:, i].tolist()) == set(range(10))


def test_original_protocol_has_no_heldout_split():
    d = build("digits", positions=3, n_train=30, n_test=10, holdout=0.0, seed=1)
    assert len(d.test_heldout) == 0 and d.heldout_tuples == ()
    assert d.image_shape == (8, 24)


def test_targets_are_per_position_one_hots_then_scaled_number_one_hot():
    t = targets(np.array([[3, 0, 7]]), positions=3, r=10.0)
    assert t.shape == (1, 30 + 1000)
    assert np.flatnonzero(t[0, :30]).tolist() == [3, 10, 27]
    assert np.flatnonzero(t[0, 30:]).tolist() == [307] and t[0, 30 + 307] == 10.0
    # an untrained network (output 0) has normalised errors 1 and 1
    n_comp = 30
    assert (t[0, :n_comp] ** 2).sum() / 3 == pytest.approx(1.0)
    assert (t[0, n_comp:] ** 2).sum() / 10.0**2 == pytest.approx(1.0)


def _write_idx(path, array, gz):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    with open(path, "wb") as fh:
        fh.write(gzip.compress(raw) if gz else raw)


@pytest.fixture
def idx_dir(tmp_path):
    rng = np.random.default_rng(0)
    for part, n, gz in (("train", 300, True), ("t10k", 40, False)):
        images = rng.integers(0, 256, (n, 28, 28))
        labels = np.arange(n) % 10
        name_i, name_l = f"{part}-images-idx3-ubyte", f"{part}-labels-idx1-ubyte"
        _write_idx(tmp_path / (name_i + (".gz" if gz else "")), images, gz)
        _write_idx(tmp_path / (name_l + (".gz" if gz else "")), labels, gz)
    return tmp_path


def test_idx_source_reads_gzipped_and_plain_mnist_files(idx_dir):
    raw = read_idx(str(idx_dir / "t10k-images-idx3-ubyte"))
    assert raw.shape == (40, 28, 28) and raw.dtype == np.uint8
    d = build(f"idx:{idx_dir}", positions=3, n_train=12, n_test=6, holdout=0.1, seed=0)
    assert d.image_shape == (28, 84)
    assert d.train.images.max() <= 1.0
    assert kernel_sizes(d.image_shape) == [(9, 27), (7, 21), (5, 15)]  # the original CNN


def test_bad_idx_file_and_bad_options_are_user_errors(tmp_path, idx_dir):
    bad_file = tmp_path / "junk"
    bad_file.write_bytes(b"\x00\x00\x09\x01\x00\x00\x00\x01\x05")
    with pytest.raises(ModspecError, match="IDX"):
        read_idx(str(bad_file))
    with pytest.raises(ModspecError, match="holdout"):
        build("digits", positions=2, holdout=0.7)
    with pytest.raises(ModspecError, match="source"):
        build("mnist-online")
    with pytest.raises(ModspecError, match="positions"):
        build("digits", positions=0)
    os.remove(idx_dir / "t10k-labels-idx1-ubyte")
    with pytest.raises(ModspecError, match="t10k-labels"):
        build(f"idx:{idx_dir}", positions=2, n_train=5, n_test=5)


def test_kernels_scale_with_the_image_and_cnn_outputs_have_the_target_width():
    torch = pytest.importorskip("torch")
    from modspec.validation.cnn import build_cnn

    assert kernel_sizes((8, 24)) == [(3, 8), (2, 6), (1, 4)]
    x = torch.zeros(5, 1, 8, 16)
    for arch, channels in (("dense", 32), ("split", 16)):
        model = build_cnn(arch, (8, 16), positions=2)
        assert model(x).shape == (5, 20 + 100)
        convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
        assert {c.out_channels for c in convs} == {channels}
    assert kernel_sizes((2, 2)) == [(1, 1)] * 3  # never below 1×1


def test_cmnist_smoke_run_saves_each_seed_and_resumes(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from modspec.validation import cmnist_run
    from modspec.validation.cmnist_run import CMNISTConfig, run

    cfg = CMNISTConfig(positions=2, n_train=48, n_test=12, holdout=0.2, epochs=2, batch=16,
                       init="default", seeds=2, eval_every=1, eval_train=24, threads=1,
                       device="cpu")
    summary = run(cfg, str(tmp_path))
    for arch in ("dense", "split"):
        a = summary["archs"][arch]
        assert a["seeds"] == [0, 1]
        assert len(a["curves"]["epochs"]) == 3
        for split in ("train", "seen", "heldout"):
            assert np.isfinite(a["final"][split]["compositional"]["mean"])
        assert a["gap"]["mean"] == pytest.approx(
            a["final"]["heldout"]["compositional"]["mean"]
            - a["final"]["seen"]["compositional"]["mean"])
        assert os.path.exists(tmp_path / "seeds" / f"{arch}-seed1.json")
    assert summary["verdict"]["status"] in {"holds", "fails", "mixed", "inconclusive"}

    def boom(*args, **kwargs):
        raise AssertionError("a finished seed was trained again")

    monkeypatch.setattr(cmnist_run, "train_one", boom)
    again = run(cfg, str(tmp_path))
    assert again["archs"]["dense"]["gap_per_seed"] == summary["archs"]["dense"]["gap_per_seed"]
    with open(tmp_path / "summary.json") as fh:
        assert json.load(fh)["data"]["positions"] == 2


def test_cmnist_command_writes_report_and_figure(tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "run"
    code = main(["cmnist", "--quick", "--epochs", "1", "--n-train", "32", "--n-test", "8",
                 "--seeds", "1", "--eval-train", "16", "--device", "cpu", "--quiet",
                 "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "systematic generalisation gap" in text and "claim:" in text
    assert (out / "cmnist.png").stat().st_size > 0
    assert (out / "report.txt").exists()


def test_cmnist_command_bad_source_is_one_line_exit_2(tmp_path, capsys):
    code = main(["cmnist", "--source", "nowhere", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "source" in err and len(err.strip().splitlines()) == 1
