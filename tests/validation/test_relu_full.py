"""The follow-up paper's full size (700 hidden units, lr 1e-3, 8000 epochs) on CPU: is the
gating of the ReLU network on the contexts dataset stable over the learning? Measured: no
(docs/theory/relu-gating.md §6)."""

import pytest

pytest.importorskip("torch")

import modspec as ms  # noqa: E402
from modspec.commands.relu import FULL  # noqa: E402
from modspec.validation.relu_regimes import FULL_SIZE, scan_setting  # noqa: E402


def test_the_full_size_is_the_commands():
    (hidden, _, lr, epochs), every = FULL_SIZE
    assert FULL == {"hidden": hidden, "lr": lr, "epochs": epochs, "record_every": every}


def test_sparse_records_are_reported_and_stable_epochs_fall_on_them():
    r = scan_setting(ms.contexts(C=3), hidden=4, init_std=0.1, lr=0.01, epochs=600,
                     threshold=0.0, record_every=7)
    assert r["record_every"] == 7 and r["seconds_per_epoch"] > 0
    assert r["stable_epoch"] is not None and r["stable_epoch"] % 7 == 0
    assert r["learning_left"] < 0.05 and not r["stable_over_learning"]


@pytest.mark.slow
@pytest.mark.parametrize("C", [3, 4, 5])
def test_full_size_gating_is_not_stable_over_the_learning(C):
    """Measured at the full size (weights read every 10 epochs, so the instabilities are lower
    bounds): the network learns (final loss below 1e-3 of the initial 8), no recorded epoch
    before the end has at most 5 % of the units still to change pattern, and freezing the
    gates at any epoch of the first half of the learning changes the output later by more
    than 10 % of ‖Y‖."""
    (hidden, init_std, lr, epochs), every = FULL_SIZE
    r = scan_setting(ms.contexts(C=C), hidden, init_std, lr, epochs, record_every=every)
    assert r["loss"][1] < 1e-3 * r["loss"][0]
    assert r["stable_epoch"] is None and r["smallest_instability"] > 0.4
    assert not r["stable_over_learning"]
    assert r["half_gap"] > 0.1


@pytest.mark.slow
def test_relu_full_runs_on_cpu_and_predicts_nothing(tmp_path, capsys):
    """``modspec relu --full`` on CPU (C = 3): the follow-up's size, not applicable."""
    from modspec.cli import main

    path = tmp_path / "contexts.toml"
    path.write_text('family = "contexts"\nC = 3\n')
    assert main(["relu", "--dataset", str(path), "--full"]) == 0
    out = capsys.readouterr().out
    assert "hidden 700, lr 0.001, 8000 epochs" in out and "(cpu, " in out
    assert "not applicable: the gating is not stable" in out
