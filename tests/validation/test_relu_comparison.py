"""PyTorch ReLU training against the gated network of its gating (validation/relu_gating.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

import modspec as ms  # noqa: E402
from modspec.numerics.relu_gating import (  # noqa: E402
    gated_output,
    relu_gated_record,
    relu_output,
)
from modspec.theory.errors import ModspecError  # noqa: E402
from modspec.validation.relu_gating import (  # noqa: E402
    compare_relu_gating,
    relu_network,
    train_relu,
)
from modspec.validation.training import train  # noqa: E402


def test_train_relu_is_the_trainer_with_relu():
    ds = ms.contexts(C=3)
    mine = train_relu(ds, hidden=8, lr=0.02, epochs=40, seed=2, init_std=1e-2,
                      record_every=10)
    ref = train(ds, relu_network(ds), lr=0.02, epochs=40, hidden=8, init_std=1e-2, seed=2,
                nonlinearity="relu", device="cpu", record_every=10)
    assert np.max(np.abs(mine["W1"][-1] - ref.weights[0][0][0])) < 1e-12
    assert np.max(np.abs(mine["W2"][-1] - ref.weights[0][1][0])) < 1e-12
    X, Y = np.asarray(ds.X, float), np.asarray(ds.Y, float)
    loss = ((mine["W2"] @ np.maximum(mine["W1"] @ X, 0) - Y) ** 2).sum(axis=1).mean(axis=1)
    assert np.allclose(loss, sum(v[0] for v in ref.loss.values()), rtol=1e-10)


def test_gated_network_of_a_training_record():
    ds = ms.contexts(C=3)
    rec = train(ds, relu_network(ds), lr=0.02, epochs=30, hidden=6, init_std=0.1, seeds=2,
                seed=1, nonlinearity="relu", device="cpu")
    X = np.asarray(ds.X, float)
    for start in (False, True):
        w = rec.init if start else rec.weights
        g = relu_gated_record(rec, ds, seed=1, start=start)
        assert np.max(np.abs(gated_output(g) - relu_output(w[0][0][1], w[0][1][1], X))) < 1e-12
    lin = train(ds, relu_network(ds), lr=0.02, epochs=3, hidden=6, device="cpu",
                backend="torch")
    for bad_call in (lambda: relu_gated_record(rec, ds, seed=2),
                     lambda: relu_gated_record(lin, ds)):
        with pytest.raises(ModspecError):
            bad_call()


@pytest.mark.parametrize("C, hidden", [(3, 4), (4, 8), (5, 8)])
def test_stable_gating_is_predicted_exactly(C, hidden):
    """Threshold 0: from the last flip on no unit changes pattern, and the gated network's
    gradient descent is the ReLU network's (loss and module norms) to rounding."""
    r = compare_relu_gating(ms.contexts(C=C), hidden=hidden, lr=0.01, epochs=600,
                            init_std=0.1, threshold=0.0)
    assert np.all(np.diff(r.instability) <= 0) and r.instability[-1] == 0
    assert r.applicable and r.instability[r.t == r.stable_epoch][0] == 0
    p = r.predictions["from_stable"]
    assert p["claimed"] and p["t"][0] == r.stable_epoch and p["t"][-1] == 600
    assert p["loss_error"] < 1e-8 and p["norm_error"] < 1e-8
    assert p["agrees"]
    assert p["t"][0] <= 520 and sum(r.groups["sizes"]) == hidden
    race = r.groups["race"]
    assert race["checked"] == (r.groups["groups"] <= 4)
    if race["checked"]:                        # measured: these gatings share no basis
        assert race["holds"] is False and "basis condition fails" in race["reason"]
    start = r.predictions["from_start"]
    assert start["claimed"] == (r.start_instability == 0)
    payload = json.loads(json.dumps(r.payload()))
    assert payload["applicable"] and payload["stable_epoch"] == r.stable_epoch
    assert "stable from epoch" in r.summary()
    # exact from the stable epoch: the winners are the same; the plateau is judged only when
    # the gating settled before it
    win = payload["groups"]["winners"]
    assert win["agree"] and win["predicted"] == win["trained"]
    assert "winning pathways" in r.summary()
    plateau = payload["groups"]["common_plateau"]
    if plateau is not None and not plateau["judged"]:
        assert r.loss[r.t == r.stable_epoch][0] <= plateau["loss"] * 1.05
        assert "not judged" in r.summary()


def test_unstable_gating_is_not_applicable():
    r = compare_relu_gating(ms.contexts(C=3), hidden=16, lr=0.02, epochs=200, init_std=1e-3,
                            threshold=0.05)
    assert not r.applicable and not r.predictions
    assert r.instability[:-1].min() > 0.05
    assert r.entries[-1] == 0 and np.all(r.entries <= r.instability + 1e-12)
    assert "not applicable" in r.summary() and r.payload()["applicable"] is False


@pytest.mark.parametrize("kw", [dict(hidden=0), dict(lr=-1.0), dict(threshold=1.0),
                                dict(epochs=0), dict(init_std=float("nan")),
                                dict(tolerance=0.0)])
def test_bad_settings_are_one_line(kw):
    with pytest.raises(ModspecError) as err:
        compare_relu_gating(ms.contexts(C=3), **kw)
    assert "\n" not in str(err.value)
