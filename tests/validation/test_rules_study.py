"""Learning rules in the PyTorch trainer, and the study's robustness measurement on D0."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modspec.numerics.rules import PRESETS, learning_rule
from modspec.numerics.simulate import initial_weights, simulate
from modspec.theory import architectures as arch
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.errors import ModspecError
from modspec.validation.rules_study import D0, rules_study

DATA = CompositionalDataset(**D0)
W_STAR_GX_OY = 2 * math.sqrt(6) / 11    # ‖W*[Gx→Oy]‖ of gradient descent on D0
W_STAR_OX_OY = 8 / 11


@pytest.mark.parametrize("name", list(PRESETS))
def test_float64_torch_training_under_every_rule_matches_numpy_within_1e_8(name):
    pytest.importorskip("torch")
    from modspec.validation.training import train

    lr = 0.005 if name == "contrastive-hebbian" else 0.01
    init = initial_weights(DATA, arch.dense(), hidden=6, init_std=0.1, seeds=2, seed=4)
    kw = dict(lr=lr, epochs=60, init=init, train_objects=[0, 1, 2, 4, 7], record_every=20)
    sim = simulate(DATA, arch.dense(), rule=name, **kw)
    tor = train(DATA, arch.dense(), device="cpu", dtype="float64", rule=name, **kw)
    assert tor.meta["rule"] == name
    for group in ("modes", "quadrant_norms"):
        a, b = getattr(sim, group), getattr(tor, group)
        for k in a:
            assert np.max(np.abs(a[k] - b[k])) < 1e-8, (group, k)
    for ws, wt in zip(sim.weights[0], tor.weights[0], strict=True):
        assert np.max(np.abs(ws - wt)) < 1e-8


def test_numpy_backend_of_train_passes_the_rule_to_the_simulator():
    from modspec.validation.training import train

    kw = dict(lr=0.01, epochs=20, hidden=5, init_std=0.1, seeds=2, seed=1)
    a = train(DATA, arch.dense(), backend="numpy", rule="hebbian", **kw)
    b = simulate(DATA, arch.dense(), rule="hebbian", **kw)
    assert a.meta["nabla"] == 1e-3
    assert np.array_equal(a.weights[0][0], b.weights[0][0])


def test_a_rule_on_a_nonlinear_or_biased_network_is_refused_in_one_line():
    pytest.importorskip("torch")
    from modspec.validation.training import train

    for kw in ({"nonlinearity": "relu"}, {"bias": True}):
        with pytest.raises(ModspecError, match=r"rule.*anti-hebbian.*linear") as e:
            train(DATA, arch.dense(), device="cpu", lr=0.01, epochs=1, hidden=4,
                  rule=learning_rule("anti-hebbian"), **kw)
        assert "\n" not in str(e.value)


def test_every_rule_reaches_the_non_systematic_map_of_gradient_descent_on_d0():
    """Small version of the study (2 seeds, full epochs: about a second)."""
    out = {o.rule: o for o in rules_study(seeds=2)}
    assert list(out) == ["gradient-descent", "hebbian", "anti-hebbian", "contrastive-hebbian",
                         "predictive-coding"]
    for name, o in out.items():
        assert o.same_map, name
        assert o.target["Gx->Oy"] == pytest.approx(W_STAR_GX_OY, abs=1e-12)
        slack = 1e-2 if name == "anti-hebbian" else 1e-3    # anti-Hebbian shrinks W1's rows
        assert o.norms_mean["Gx->Oy"] == pytest.approx(W_STAR_GX_OY, abs=slack), name
        assert o.norms_mean["Ox->Oy"] == pytest.approx(W_STAR_OX_OY, abs=2 * slack), name
        assert o.norms_mean["Gx->Oy"] > 0.4    # far from the systematic map's 0
    assert out["gradient-descent"].distance_mean < 5e-3
    # measured: predictive coding's extra term leaves the Gy rows short of W* at 3000 epochs
    pc = out["predictive-coding"]
    assert pc.target["Gx->Gy"] - pc.norms_mean["Gx->Gy"] > 0.05


def test_the_study_refuses_a_rule_it_has_no_setting_for():
    with pytest.raises(ModspecError, match=r"rules.*'oja'"):
        rules_study(seeds=1, rules=("oja",))
