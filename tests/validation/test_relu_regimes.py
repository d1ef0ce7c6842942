"""Where the gating of a ReLU network on the contexts dataset is stable: measured."""

import numpy as np
import pytest

pytest.importorskip("torch")

import modspec as ms  # noqa: E402
from modspec.numerics.relu_gating import frozen_gate_gap  # noqa: E402
from modspec.theory.errors import ModspecError  # noqa: E402
from modspec.validation.relu_regimes import (  # noqa: E402
    QUICK_GRID,
    WIDE_GRID,
    scan_setting,
    stability_scan,
)


def test_frozen_gate_gap_is_zero_without_flips_and_sees_a_flip():
    rng = np.random.default_rng(0)
    X, Y, W1, W2 = (rng.normal(size=s) for s in ((3, 5), (2, 5), (4, 3), (2, 4)))
    same = frozen_gate_gap(np.array([W1, 2 * W1]), np.array([W2, W2]), X, Y, 0)
    assert same == 0.0                           # scaling by 2 > 0 keeps every sign
    flipped = frozen_gate_gap(np.array([W1, -W1]), np.array([W2, W2]), X, Y, 0)
    H = -W1 @ X
    want = np.linalg.norm(W2 @ (np.maximum(H, 0) - H * (W1 @ X > 0))) / np.linalg.norm(Y)
    assert flipped == pytest.approx(want, rel=1e-12) and flipped > 0
    with pytest.raises(ModspecError):
        frozen_gate_gap(np.array([W1]), np.array([W2]), X, Y, 1)


@pytest.mark.parametrize("C", [3, 4, 5])
def test_no_quick_setting_has_a_gating_stable_over_the_learning(C):
    """Measured on the quick grid (16 or 64 units, init std 1e-2 or 1e-4, lr 0.02, 600
    epochs): the gating never settles while half the loss decrease is still to come, and
    freezing the gates at any epoch of the first half of the learning changes the output later
    by more than 20 % of ‖Y‖ — the units reorganise while the network learns."""
    rows = stability_scan(ms.contexts(C=C), QUICK_GRID)
    assert len(rows) == len(QUICK_GRID)
    for r in rows:
        assert r["loss"][1] < 0.2 * r["loss"][0]            # every run learns
        assert not r["stable_over_learning"]
        assert r["learning_left"] is None or r["learning_left"] < 0.5
        assert r["half_gap"] > 0.2


def test_a_late_settling_small_network_is_stable_but_not_over_the_learning():
    r = scan_setting(ms.contexts(C=3), hidden=4, init_std=0.1, lr=0.01, epochs=600,
                     threshold=0.0)
    assert r["stable_epoch"] is not None and r["learning_left"] < 0.05
    assert not r["stable_over_learning"]


@pytest.mark.slow
@pytest.mark.parametrize("C", [3, 4, 5])
def test_no_wide_setting_has_a_gating_stable_over_the_learning(C):
    rows = stability_scan(ms.contexts(C=C), WIDE_GRID)
    assert not any(r["stable_over_learning"] for r in rows)
