"""Compositional MNIST: the dataset builder, IDX files, CNN shapes, resumable runs, the CLI."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from modspec.cli import main
from modspec.theory.errors import ModspecError
from modspec.validation.cmnist.cnn import kernel_sizes
from modspec.validation.cmnist.dataset import build, read_idx, targets, tuple_number

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
    from modspec.validation.cmnist.cnn import build_cnn

    assert kernel_sizes((8, 24)) == [(3, 8), (2, 6), (1, 4)]
    x = torch.zeros(5, 1, 8, 16)
    for arch, channels in (("dense", 32), ("split", 16)):
        model = build_cnn(arch, (8, 16), positions=2)
        assert model(x).shape == (5, 20 + 100)
        convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
        assert {c.out_channels for c in convs} == {channels}
    assert kernel_sizes((2, 2)) == [(1, 1)] * 3  # never below 1×1


TINY = {"positions": 2, "n_train": 48, "n_test": 12, "holdout": 0.2, "batch": 16,
        "init": "default", "eval_train": 24, "threads": 1, "device": "cpu"}


def test_cmnist_smoke_run_saves_each_seed_and_reuses_a_finished_run(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from modspec.validation.cmnist import run as cmnist_run
    from modspec.validation.cmnist.config import CMNISTConfig
    from modspec.validation.cmnist.run import run

    cfg = CMNISTConfig(epochs=2, seeds=2, eval_every=1, plateau_window=1, **TINY)
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
    assert summary["convergence"]["stopped_epoch"] == 2
    assert not (tmp_path / "checkpoint.npz").exists()

    def boom(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(cmnist_run, "train_seeds", boom)
    again = run(cfg, str(tmp_path))
    assert again["archs"]["dense"]["gap_per_seed"] == summary["archs"]["dense"]["gap_per_seed"]
    with open(tmp_path / "summary.json") as fh:
        assert json.load(fh)["data"]["positions"] == 2


def test_seeds_trained_together_equal_seeds_trained_one_at_a_time():
    torch = pytest.importorskip("torch")
    from modspec.validation.cmnist.config import CMNISTConfig
    from modspec.validation.cmnist.seeds import SeedGroup, data_tensors

    cfg = CMNISTConfig(epochs=2, seeds=3, **TINY)
    data = build("digits", 2, 48, 12, 0.2, 10.0, 0)
    tensors = data_tensors(data, cfg, "cpu")
    torch.set_num_threads(1)
    for arch in ("dense", "split"):
        together = SeedGroup(tensors, arch, [0, 1, 2], cfg, "cpu", data.image_shape, 2)
        alone = [SeedGroup(tensors, arch, [s], cfg, "cpu", data.image_shape, 2)
                 for s in (0, 1, 2)]
        for g in (together, *alone):
            for epoch in (1, 2):
                g.train_epoch(epoch)
            g.evaluate(2)
        for k, one in enumerate(alone):
            for split in ("train", "seen", "heldout"):
                for part in ("compositional", "noncompositional"):
                    assert together.curves[split][part][k] == pytest.approx(
                        one.curves[split][part][0], rel=1e-4)
        # and the seeds differ from each other (they are not one network three times)
        assert together.curves["train"]["compositional"][0] != pytest.approx(
            together.curves["train"]["compositional"][1], rel=1e-4)


@given(start=st.floats(0.5, 2.0), rate=st.floats(0.02, 0.5), window=st.sampled_from([5, 10, 20]),
       tol=st.floats(1e-3, 0.1))
@example(start=1.0, rate=0.1, window=10, tol=0.01)
def test_plateau_rule_holds_first_where_the_windowed_fall_drops_below_tol(start, rate, window,
                                                                          tol):
    from modspec.validation.cmnist.train import plateau_epoch

    epochs = list(range(0, 400, 5))
    curve = [start * np.exp(-rate * t) for t in epochs]
    got = plateau_epoch(epochs, {"compositional": curve, "noncompositional": curve}, window, tol)
    expected = next((t for i, t in enumerate(epochs) if t >= window
                     and curve[epochs.index(t - window)] - curve[i] < tol
                     and curve[i] <= start / 2), None)
    assert got == expected
    if got is not None:  # the error has learned and its fall over the window is small
        i = epochs.index(got)
        assert curve[i] <= start / 2
        assert curve[epochs.index(got - window)] - curve[i] < tol


def test_an_initial_plateau_or_one_part_still_learning_is_not_convergence():
    from modspec.validation.cmnist.train import plateau_epoch

    epochs = list(range(0, 101, 5))
    flat = [1.0] * len(epochs)                      # the plateau of a small initialisation
    learned = [1.0] + [0.01] * (len(epochs) - 1)
    falling = [1.0 - 0.009 * t for t in epochs]     # still falling 0.18 per 20 epochs
    assert plateau_epoch(epochs, {"c": flat, "n": flat}, 20, 0.01) is None
    assert plateau_epoch(epochs, {"c": learned, "n": falling}, 20, 0.01) is None
    # the first window that starts after the drop: epochs 5 → 25
    assert plateau_epoch(epochs, {"c": learned, "n": learned}, 20, 0.01) == 25
    assert plateau_epoch(epochs, {"c": learned, "n": [float("nan")] * len(epochs)}, 20,
                         0.01) is None


def test_training_stops_once_every_network_has_plateaued_and_reports_each_epoch(tmp_path):
    pytest.importorskip("torch")
    from modspec.validation.cmnist.config import CMNISTConfig
    from modspec.validation.cmnist.run import run
    from modspec.validation.cmnist.train import plateau_epoch

    cfg = CMNISTConfig(**{**TINY, "positions": 1, "holdout": 0.0, "eval_train": 48},
                       archs=("dense",), epochs=60, lr=0.01, seeds=2, eval_every=1,
                       plateau_window=2, plateau_tol=0.05)
    summary = run(cfg, str(tmp_path))
    conv = summary["convergence"]
    a = summary["archs"]["dense"]
    assert conv["all_converged"] and conv["stopped_epoch"] < 60
    assert a["curves"]["epochs"][-1] == conv["stopped_epoch"]
    assert conv["converged_epoch"]["dense"] == max(a["converged_epoch_per_seed"])
    for seed in (0, 1):   # each network's convergence epoch is where its own rule first held
        with open(tmp_path / "seeds" / f"dense-seed{seed}.json") as fh:
            saved = json.load(fh)
        train = {p: saved["errors"]["train"][p] for p in ("compositional", "noncompositional")}
        assert saved["converged_epoch"] == plateau_epoch(saved["epochs"], train, 2, 0.05)
    assert summary["verdict"]["status"] == "not tested"


def _runs(diffs_gap, diffs_err, seeds=5):
    """Synthetic runs whose paired differences dense − split are the given curves."""
    rng = np.random.default_rng(0)
    runs = {"dense": [], "split": []}
    for _ in range(seeds):
        noise = rng.normal(0, 0.01, len(diffs_gap))
        seen_s = np.full(len(diffs_gap), 0.3)
        held_s = seen_s + 0.2
        held_d = held_s + np.asarray(diffs_err) + noise
        seen_d = held_d - (held_s - seen_s) - np.asarray(diffs_gap)
        for arch, seen, held in (("dense", seen_d, held_d), ("split", seen_s, held_s)):
            runs[arch].append({"epochs": list(range(0, 5 * len(diffs_gap), 5)),
                               "errors": {"seen": {"compositional": list(seen)},
                                          "heldout": {"compositional": list(held)}}})
    return runs


def test_claim_over_time_finds_the_epoch_from_which_it_holds():
    from modspec.validation.cmnist.summary import claim_over_time

    rising = [0.0] * 4 + [0.2] * 6          # dense − split > 0 from the fifth evaluation on
    over = claim_over_time(_runs(rising, rising), heldout=True)
    assert over["error"]["holds_from"] == over["gap"]["holds_from"] == 20
    assert over["holds_from"] == 20
    assert over["error"]["status"][-1] == "holds" and len(over["error"]["sem"]) == 10
    never = claim_over_time(_runs(rising, [-0.2] * 10), heldout=True)
    assert never["error"]["holds_from"] is None and never["holds_from"] is None
    assert never["error"]["status"][-1] == "fails"
    gone = claim_over_time(_runs([0.2] * 9 + [0.0], rising), heldout=True)  # lost at the end
    assert gone["gap"]["holds_from"] is None


def test_one_seed_gives_an_inconclusive_verdict_and_strict_json():
    from modspec.validation.cmnist.summary import claim_over_time, verdict

    archs = {a: {"gap_per_seed": [0.1], "heldout_compositional_per_seed": [0.5],
                 "seen_compositional_per_seed": [0.4]} for a in ("dense", "split")}
    v = verdict(archs, heldout=True)
    assert v["status"] == "inconclusive" and v["gap"]["dense_minus_split_sem"] is None
    over = claim_over_time(_runs([0.2] * 3, [0.2] * 3, seeds=1), heldout=True)
    json.dumps({"v": v, "over": over}, allow_nan=False)   # no Infinity, no NaN
    assert over["holds_from"] is None


def test_an_interrupted_run_resumes_from_its_checkpoint_to_the_same_result(tmp_path):
    pytest.importorskip("torch")
    from modspec.validation.cmnist.config import CMNISTConfig
    from modspec.validation.cmnist.run import run

    cfg = CMNISTConfig(epochs=4, seeds=2, eval_every=1, plateau_window=1, **TINY)
    whole = run(cfg, str(tmp_path / "whole"))

    def stop_at_epoch_2(line):
        if line.startswith("epoch 2/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(cfg, str(tmp_path / "cut"), stop_at_epoch_2)
    assert (tmp_path / "cut" / "checkpoint.npz").exists()
    messages = []
    resumed = run(cfg, str(tmp_path / "cut"), messages.append)
    assert any("resumed" in m and "epoch 2" in m for m in messages)
    assert not any(m.startswith("epoch 1/") for m in messages)
    for arch in ("dense", "split"):
        a, b = resumed["archs"][arch]["curves"], whole["archs"][arch]["curves"]
        assert a["epochs"] == b["epochs"] == [0, 1, 2, 3, 4]
        for name in ("train/compositional", "heldout/noncompositional", "gap"):
            np.testing.assert_allclose(a[name]["mean"], b[name]["mean"], rtol=1e-6)


def test_a_damaged_checkpoint_is_ignored_and_training_starts_afresh(tmp_path):
    pytest.importorskip("torch")
    from modspec.validation.cmnist.config import CMNISTConfig
    from modspec.validation.cmnist.run import run

    cfg = CMNISTConfig(epochs=1, seeds=1, eval_every=1, plateau_window=1, **TINY)
    (tmp_path / "checkpoint.npz").write_bytes(b"PK\x03\x04 not a zip")
    messages = []
    summary = run(cfg, str(tmp_path), messages.append)
    assert summary["convergence"]["stopped_epoch"] == 1
    assert not any("resumed" in m for m in messages)


def test_a_checkpoint_with_non_finite_weights_is_not_resumed_and_lr_is_not_blamed(tmp_path):
    """A NaN checkpoint (same run key) used to be resumed and its NaN blamed on lr."""
    pytest.importorskip("torch")
    from modspec.validation.cmnist.config import CMNISTConfig
    from modspec.validation.cmnist.run import run

    cfg = CMNISTConfig(epochs=2, seeds=1, eval_every=1, plateau_window=1, **TINY)
    cut = tmp_path / "cut"

    def stop_at_epoch_1(line):
        if line.startswith("epoch 1/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(cfg, str(cut), stop_at_epoch_1)
    path = cut / "checkpoint.npz"
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    first = next(k for k in arrays if "/param/" in k)
    arrays[first] = np.full_like(arrays[first], np.nan)
    np.savez(path, **arrays)
    messages = []
    summary = run(cfg, str(cut), messages.append)        # trains afresh, no lr error
    assert not any("resumed" in m for m in messages)
    assert summary["convergence"]["stopped_epoch"] == 2


def test_ctrl_c_stops_a_run_within_seconds_and_keeps_its_progress(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "modspec", "cmnist", "--positions", "1", "--n-train", "64",
           "--n-test", "8", "--seeds", "2", "--epochs", "100000", "--eval-every", "1",
           "--plateau-window", "1", "--init", "default", "--threads", "1", "--device", "cpu",
           "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoint.npz").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.2)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and took < 5, (took, err)
    assert err.strip().splitlines()[-1] == "modspec cmnist: interrupted"
    with np.load(out / "checkpoint.npz", allow_pickle=False) as z:
        assert int(z["epoch"]) >= 1
        assert z["dense/curves/train/compositional"].shape == (2, int(z["epoch"]) + 1)


def test_diverging_sgd_stops_with_the_epoch_and_writes_no_result(tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "run"
    code = main(["cmnist", "--positions", "1", "--n-train", "32", "--n-test", "8", "--seeds",
                 "1", "--epochs", "5", "--lr", "1e6", "--device", "cpu", "--quiet",
                 "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert "lr=1000000.0" in captured.err and "diverged" in captured.err
    assert "epoch 1" in captured.err
    assert not (out / "summary.json").exists() and not list((out / "seeds").iterdir())


def test_cmnist_command_writes_report_and_figure(tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "run"
    code = main(["cmnist", "--quick", "--epochs", "1", "--n-train", "32", "--n-test", "8",
                 "--seeds", "1", "--eval-train", "16", "--device", "cpu", "--quiet",
                 "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "systematic generalisation gap" in text and "claim at epoch 1:" in text
    assert "NOT converged by the cap (1 epochs)" in text
    assert "claim over time (holds at every evaluation from): gap not at the end" in text
    assert (out / "cmnist_claim.png").stat().st_size > 0
    assert (out / "cmnist.png").stat().st_size > 0
    assert (out / "cmnist.pdf").read_bytes().startswith(b"%PDF")      # PNG and PDF
    assert (out / "report.txt").exists()
    from modspec.validation.provenance import read_provenance

    record = read_provenance(out)
    assert record["command"] == "cmnist" and record["network"] == ["dense", "split"]
    assert record["dataset"]["family"] == "compositional-mnist" and record["modspec"]


def test_cmnist_command_bad_source_is_one_line_exit_2(tmp_path, capsys):
    code = main(["cmnist", "--source", "nowhere", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "source" in err and len(err.strip().splitlines()) == 1


def _damage(idx_dir, case):
    """Damage one IDX file of a valid folder in the way ``case`` names."""
    train_images = idx_dir / "train-images-idx3-ubyte.gz"
    if case == "truncated gzip":
        train_images.write_bytes(train_images.read_bytes()[:200])
    elif case == "corrupt gzip":
        raw = bytearray(train_images.read_bytes())
        raw[20:40] = b"\xff" * 20
        train_images.write_bytes(bytes(raw))
    elif case == "folder for a file":
        os.remove(idx_dir / "t10k-images-idx3-ubyte")
        (idx_dir / "t10k-images-idx3-ubyte").mkdir()
    elif case == "header without data":
        (idx_dir / "t10k-images-idx3-ubyte").write_bytes(
            bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (40, 28, 28)))
    elif case == "short header":
        (idx_dir / "t10k-images-idx3-ubyte").write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    elif case == "sizes that overflow":
        big = (2**32 - 1).to_bytes(4, "big")
        (idx_dir / "t10k-images-idx3-ubyte").write_bytes(bytes([0, 0, 8, 3]) + big * 3
                                                          + b"\x00" * 64)
    elif case == "test images of another size":
        images = np.random.default_rng(1).integers(0, 256, (40, 20, 20))
        _write_idx(idx_dir / "t10k-images-idx3-ubyte", images, gz=False)
    else:  # pragma: no cover
        raise ValueError(case)


@pytest.mark.parametrize("case", ["truncated gzip", "corrupt gzip", "folder for a file",
                                  "header without data", "short header", "sizes that overflow",
                                  "test images of another size"])
def test_damaged_mnist_idx_input_is_one_line_exit_2_before_any_work(idx_dir, tmp_path, case,
                                                                      capsys):
    _damage(idx_dir, case)
    out = tmp_path / "out"
    code = main(["cmnist", "--source", f"idx:{idx_dir}", "--positions", "1", "--n-train", "8",
                 "--n-test", "4", "--seeds", "1", "--epochs", "1", "--device", "cpu",
                 "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and "idx" in err.lower()
    assert not list((out / "seeds").iterdir()) and not (out / "summary.json").exists()


@pytest.mark.parametrize("option, value, name", [
    ("--data-seed", "-1", "data_seed"), ("--seed", "-2", "seed"), ("--lr", "inf", "lr"),
    ("--lr", "nan", "lr"), ("--lr", "0", "lr"), ("--init", "inf", "init"),
    ("--threads", "0", "threads"), ("--r", "inf", "r"), ("--epochs", "-1", "epochs"),
    ("--plateau-window", "7", "plateau_window"), ("--plateau-tol", "nan", "plateau_tol"),
    ("--device", "tpu", "device")])
def test_unchecked_cmnist_options_are_one_line_exit_2_before_any_work(tmp_path, capsys, option,
                                                                       value, name):
    out = tmp_path / "out"
    code = main(["cmnist", "--quick", option, value, "--eval-every", "5", "--quiet",
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert option in err or f"{name}=" in err, err     # the parser or the run names it
    assert not out.exists() or not list(out.rglob("*.json"))


def test_unusable_output_folders_are_one_line_exit_2_before_training(tmp_path, capsys,
                                                                      monkeypatch):
    from modspec.validation.cmnist import run as cmnist_run
    from modspec.validation.cmnist.config import CMNISTConfig
    from modspec.validation.cmnist.run import run

    def never(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(cmnist_run, "train_seeds", never)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    cases = [str(a_file), "", str(a_file / "below")]
    for out in cases:   # the command line refuses them while parsing
        code = main(["cmnist", "--quick", "--quiet", "--out", out])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and "--out" in err, (out, err)
    cfg = CMNISTConfig(epochs=1, seeds=1, **TINY)
    for out in cases:   # and so does the Python API, before building anything
        with pytest.raises(ModspecError, match="out="):
            run(cfg, out)

    def read_only(*args, **kwargs):   # what a folder without write permission answers
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    with pytest.raises(ModspecError, match="out=.*Permission denied"):
        run(cfg, str(tmp_path / "ro"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only folder")
def test_a_read_only_output_folder_is_refused(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code = main(["cmnist", "--quick", "--quiet", "--out", str(ro)])
    finally:
        ro.chmod(0o700)
    assert code == 2 and "--out" in capsys.readouterr().err


def test_study_part_reports_convergence_verdict_epoch_and_claim_over_time(tmp_path,
                                                                           monkeypatch):
    pytest.importorskip("torch")
    from modspec.validation.cmnist import presets as cmnist_presets
    from modspec.validation.study.context import Context
    from modspec.validation.study.experiments import part_cmnist
    from modspec.validation.study.report import write_results

    tiny = {**cmnist_presets.QUICK, "n_train": 48, "n_test": 12, "epochs": 2, "seeds": 2,
            "eval_every": 1, "eval_train": 24, "plateau_window": 1}
    monkeypatch.setattr(cmnist_presets, "QUICK", tiny)
    part = part_cmnist(Context(tmp_path, quick=True, seed=0, quiet=True, device="cpu"))
    names = [c.name for c in part.claims]
    assert names[0] == "CMNIST: every network's training error plateaued before the cap"
    assert names[1].endswith("(at epoch 2)")
    assert set(part.numbers["convergence"]["converged_epoch"]) == {"dense", "split"}
    assert part.numbers["over_time"]["epochs"] == [0, 1, 2]
    assert "holds_from_epoch" in part.numbers
    assert {"cmnist.png", "cmnist_claim.png", "cmnist_claim.pdf"} <= set(part.figures)
    results = json.loads(write_results(tmp_path, [part], {}).read_text())
    assert "holds_from_epoch" in results["parts"]["cmnist"]["numbers"]


def test_weights_gone_infinite_are_reported_at_the_evaluation_not_written_as_errors():
    torch = pytest.importorskip("torch")
    from modspec.validation.cmnist.config import CMNISTConfig
    from modspec.validation.cmnist.seeds import SeedGroup, data_tensors

    cfg = CMNISTConfig(epochs=1, seeds=2, **TINY)
    data = build("digits", 2, 48, 12, 0.2, 10.0, 0)
    group = SeedGroup(data_tensors(data, cfg, "cpu"), "split", [0, 1], cfg, "cpu",
                      data.image_shape, 2)
    with torch.no_grad():
        next(iter(group.params.values()))[1].fill_(float("inf"))   # seed 1 only
    with pytest.raises(ModspecError, match=r"split network \(seed 1\) is not finite at epoch 7"):
        group.evaluate(7)
