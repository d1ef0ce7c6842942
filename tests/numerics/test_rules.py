"""Learning rules in the NumPy simulator: definitions, identities, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import modspec as ms
from modspec.numerics.flow import covariances, tau_of
from modspec.numerics.simulate import initial_weights, simulate
from modspec.theory import architectures as arch
from modspec.theory.errors import ModspecError
from modspec.theory.rules import GRADIENT_DESCENT, MAX_COEFFICIENT, PRESETS, as_rule, study_rule

D0 = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
SUBSET = [0, 1, 2, 4, 7]


def _records(run):
    return {f"{g}/{k}": v for g in ("modes", "quadrant_norms", "loss")
            for k, v in getattr(run, g).items()}


def test_presets_carry_the_study_coefficients():
    assert {n: (r.gamma, r.nabla) for n, r in PRESETS.items()} == {
        "gradient-descent": (0.0, 0.0), "hebbian": (0.0, 1e-3), "anti-hebbian": (0.0, -1e-3),
        "contrastive-hebbian": (1.0, 0.0), "predictive-coding": (-1.0, 0.0)}
    assert [n for n, r in PRESETS.items() if r.is_gradient_descent] == ["gradient-descent"]


@pytest.mark.parametrize("rule", [None, "gradient-descent", GRADIENT_DESCENT,
                                  study_rule("hebbian", 0.0, 0.0)])
def test_gradient_descent_through_the_rule_object_is_bit_identical_to_plain_simulate(rule):
    kw = dict(lr=0.02, epochs=40, hidden=6, init_std=0.05, seeds=3, seed=2,
              train_objects=SUBSET)
    plain = simulate(D0, arch.dense(), **kw)
    ruled = simulate(D0, arch.dense(), rule=rule, **kw)
    a, b = _records(plain), _records(ruled)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    assert np.array_equal(plain.heldout["compositional_error"],
                          ruled.heldout["compositional_error"])
    for wa, wb in zip(plain.weights[0], ruled.weights[0], strict=True):
        assert np.array_equal(wa, wb)


def _one_epoch_by_samples(rule, W1, W2, X, Y, tau):
    """One epoch written sample by sample, independently of the matrix form in rules.py."""
    P = X.shape[1]
    E = (Y @ X.T - W2 @ W1 @ X @ X.T) / P
    new1 = W1 + W2.T @ E / tau
    new2 = W2 + E @ W1.T / tau
    norms = np.array([sum(W1[i, j] ** 2 for j in range(W1.shape[1]))
                      for i in range(W1.shape[0])])
    for p in range(P):
        x, y = X[:, p], Y[:, p]
        h = W1 @ x
        yhat = W2 @ h
        if rule.nabla > 0:
            new1 += rule.nabla * np.outer(h, x - W1.T @ h)
        elif rule.nabla < 0:
            new1 += rule.nabla * np.outer(h, x) / (1 - norms)[:, None]
        new2 += rule.gamma / tau * (np.outer(y, y) - np.outer(yhat, yhat)) @ W2
    return new1, new2


@pytest.mark.parametrize("name", list(PRESETS))
def test_one_epoch_of_each_rule_equals_its_sample_by_sample_definition(name):
    rule = as_rule(name, **({"nabla": 0.05 * np.sign(PRESETS[name].nabla)}
                                  if PRESETS[name].nabla else {}))
    init = initial_weights(D0, arch.dense(), hidden=5, init_std=0.1, seeds=2, seed=7)
    run = simulate(D0, arch.dense(), lr=0.01, epochs=1, init=init, rule=rule,
                   train_objects=SUBSET)
    cov = covariances(D0, SUBSET)
    X, Y = np.asarray(D0.X, float)[:, SUBSET], np.asarray(D0.Y, float)[:, SUBSET]
    tau = tau_of(cov.P, 0.01)
    for s in range(2):
        want1, want2 = _one_epoch_by_samples(rule, init[0][0][s], init[0][1][s], X, Y, tau)
        assert np.allclose(run.weights[0][0][s], want1, rtol=1e-12, atol=1e-14)
        assert np.allclose(run.weights[0][1][s], want2, rtol=1e-12, atol=1e-14)
        moved = np.abs(want1 - init[0][0][s]).max()
        assert moved > 1e-3  # the epoch is not a no-op


@pytest.mark.parametrize("name", [n for n in PRESETS if n != "gradient-descent"])
def test_every_rule_beyond_gradient_descent_changes_the_weights(name):
    kw = dict(lr=0.01, epochs=30, hidden=6, init_std=0.05, seeds=2, seed=0)
    gd = simulate(D0, arch.dense(), **kw)
    ruled = simulate(D0, arch.dense(), rule=name, **kw)
    gap = max(np.abs(a - b).max() for a, b in zip(gd.weights[0], ruled.weights[0], strict=True))
    assert gap > 1e-6
    assert all(np.isfinite(w).all() for w in ruled.weights[0])


def test_unknown_rule_name_is_one_line_naming_the_allowed_names():
    with pytest.raises(ModspecError, match=r"rule.*'oja'.*gradient-descent, hebbian") as e:
        simulate(D0, arch.dense(), lr=0.01, epochs=1, rule="oja")
    assert "\n" not in str(e.value)
    with pytest.raises(ModspecError, match="rule"):
        as_rule(3.0)


def test_the_rule_object_and_its_presets_are_the_theorys_alone():
    """numerics.rules runs a rule's terms and names no rule object or preset of its own (the
    deprecated aliases of the one Rule are gone)."""
    from modspec.numerics import rules

    assert rules.__all__ == ["compiled_terms", "rule_terms"]
    for name in ("LearningRule", "learning_rule", "check_rule_network", "PRESETS",
                 "GRADIENT_DESCENT"):
        assert not hasattr(rules, name)


@pytest.mark.parametrize("param", ["gamma", "nabla"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "1", True, None])
def test_a_coefficient_that_is_not_a_finite_number_is_refused(param, value):
    with pytest.raises(ModspecError, match=param) as e:
        study_rule("custom", **{f"{param}_value": value})
    assert "\n" not in str(e.value)


@given(st.sampled_from(list(PRESETS)),
       st.none() | st.floats(allow_nan=False, allow_infinity=False),
       st.none() | st.floats(allow_nan=False, allow_infinity=False))
@example("hebbian", 0.0, 0.0)
@example("gradient-descent", None, None)
@example("gradient-descent", 1.0, None)
@example("hebbian", 1e-320, None)
@example("gradient-descent", None, 1.1125369292536007e-308)
@example("hebbian", 4503599627370497.0, None)
@example("hebbian", None, -1e300)
def test_overriding_coefficients_keeps_the_name_and_replaces_only_what_is_given(name, g, n):
    if name == "gradient-descent" and (g or n):   # it has no extra terms to weigh (issue 25)
        with pytest.raises(ModspecError, match="does not apply to gradient-descent"):
            as_rule(name, gamma=g, nabla=n)
        return
    if any(v and abs(v) < 2.2250738585072014e-308 for v in (g, n)):  # subnormal (issue 24)
        with pytest.raises(ModspecError, match="subnormal"):
            as_rule(name, gamma=g, nabla=n)
        return
    if any(v and abs(v) > MAX_COEFFICIENT for v in (g, n)):      # beyond 1/ε (issue 24)
        with pytest.raises(ModspecError, match="lost in rounding"):
            as_rule(name, gamma=g, nabla=n)
        return
    rule = as_rule(name, gamma=g, nabla=n)
    assert rule.name == name
    assert rule.gamma == (PRESETS[name].gamma if g is None else g)
    assert rule.nabla == (PRESETS[name].nabla if n is None else n)
    assert rule.is_gradient_descent == (rule.gamma == 0 and rule.nabla == 0)


@pytest.mark.parametrize("network", [arch.split(), arch.shallow(), arch.dense(3)],
                         ids=["split", "shallow", "dense-3"])
def test_a_rule_on_a_network_other_than_dense_two_layer_is_refused_naming_it(network):
    with pytest.raises(ModspecError, match=r"rule.*hebbian.*dense two-layer") as e:
        simulate(D0, network, lr=0.01, epochs=1, hidden=4, rule="hebbian")
    assert "\n" not in str(e.value)
    run = simulate(D0, network, lr=0.01, epochs=1, hidden=4)  # gradient descent runs there
    assert run.t.tolist() == [0.0, 1.0]


def test_a_diverging_rule_stops_with_one_line_naming_the_rule_not_nan():
    rule = as_rule("predictive-coding", gamma=-50.0)
    with pytest.raises(ModspecError, match=r"rule.*predictive-coding.*gamma=-50.*diverged") as e:
        simulate(D0, arch.dense(), lr=0.01, epochs=500, hidden=6, init_std=0.1, rule=rule)
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------- the rules' own theory
def _aligned_start(dataset, hidden, c1, c2, seed=0):
    """W1 = R diag(c1) Vᵀ, W2 = U diag(c2) Rᵀ with U, V the dataset's singular vectors and R
    a random matrix of orthonormal columns (hidden × modes)."""
    from modspec.numerics.flow import layout

    lay = layout(dataset, arch.dense(), hidden)
    modes = lay.modules[0].spectrum.modes
    U = np.hstack([np.asarray(m.U, dtype=float) for m in modes])
    V = np.hstack([np.asarray(m.V, dtype=float) for m in modes])
    R, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(hidden, U.shape[1])))
    d1 = np.concatenate([np.full(np.asarray(m.U).shape[1], c1) for m in modes])
    d2 = np.concatenate([np.full(np.asarray(m.U).shape[1], c2) for m in modes])
    return [[(R * d1) @ V.T, (U * d2) @ R.T]]


def _with_seed_axis(init):
    return [[w[None] for w in layers] for layers in init]


REDUCIBLE = {"gradient-descent": {}, "hebbian": {"nabla": 2e-3},
             "contrastive-hebbian": {"gamma": 0.5}, "predictive-coding": {"gamma": -0.5}}


@pytest.mark.parametrize("name", list(REDUCIBLE))
def test_derived_per_mode_map_equals_the_simulation_from_an_aligned_start(name):
    from modspec.numerics.expectation import expect
    from modspec.numerics.rule_modes import rule_theory

    rule = as_rule(name, **REDUCIBLE[name])
    init = _with_seed_axis(_aligned_start(D0, 12, 0.3, 0.2))
    run = simulate(D0, arch.dense(), lr=0.01, epochs=400, init=init, rule=rule)
    theory = rule_theory(D0, arch.dense(), run, rule)
    assert theory.method == (f"derived per-mode system of rule {name} in (c1, c2), exact "
                             "per-epoch map from the run's aligned start")
    assert set(theory.trajectory.modes) == set(run.modes)
    for key, value in theory.trajectory.modes.items():
        assert np.max(np.abs(value - run.modes[key][0])) < 1e-6, key
    for q, value in theory.trajectory.quadrant_norms.items():
        assert np.max(np.abs(value - run.quadrant_norms[q][0])) < 1e-6, q
    if name != "gradient-descent":   # the run's own rule is the default theory of expect
        exp = expect(ms.derive(D0, arch.dense()), run)
        assert exp.method == theory.method


@pytest.mark.parametrize("name, coefficients, lr", [
    ("hebbian", {"nabla": 2e-3}, 0.05), ("contrastive-hebbian", {"gamma": 0.05}, 0.02),
    ("predictive-coding", {"gamma": -0.05}, 0.02)])
def test_derived_fixed_points_equal_the_simulation_end_point(name, coefficients, lr):
    from modspec.numerics.expectation import expect

    rule = as_rule(name, **coefficients)
    init = _with_seed_axis(_aligned_start(D0, 12, 0.3, 0.2))
    run = simulate(D0, arch.dense(), lr=lr, epochs=3000, init=init, rule=rule,
                   record_every=3000)
    exp = expect(ms.derive(D0, arch.dense()), run, rule=rule)
    assert set(exp.fixed_points) == set(run.modes)
    for key, value in exp.fixed_points.items():
        assert abs(run.modes[key][0, -1] - value) < 1e-3, key


def test_anti_hebbian_theory_says_not_reducible_and_gives_no_numbers():
    from modspec.numerics.expectation import expect

    run = simulate(D0, arch.dense(), lr=0.01, epochs=5, hidden=6, rule="anti-hebbian")
    exp = expect(ms.derive(D0, arch.dense()), run)
    assert exp.method.startswith("not reducible:") and "off-diagonal" in exp.method
    assert exp.trajectory.modes == {} and exp.fixed_points is None


@pytest.mark.parametrize("name", ["hebbian", "anti-hebbian", "contrastive-hebbian"])
def test_rule_terms_are_generated_array_code_that_runs_on_torch_as_on_numpy(name):
    torch = pytest.importorskip("torch")
    from modspec.numerics.rules import compiled_terms, rule_terms

    gen, _, _ = compiled_terms(PRESETS[name])
    body = gen.source.split("def rule_terms", 1)[1]
    assert "@" in body and "numpy." not in body
    rng = np.random.default_rng(3)
    X, Y = np.asarray(D0.X, dtype=float), np.asarray(D0.Y, dtype=float)
    W1 = rng.normal(0, 0.1, (2, 5, X.shape[0]))
    W2 = rng.normal(0, 0.1, (2, Y.shape[0], 5))
    want = rule_terms(PRESETS[name], W1, W2, X, Y, 12.5)
    got = rule_terms(PRESETS[name], *(torch.from_numpy(a) for a in (W1, W2, X, Y)), 12.5)
    for w, g in zip(want, got, strict=True):
        g = g.numpy() if hasattr(g, "numpy") else g
        assert np.allclose(g, w, rtol=1e-12, atol=1e-15)


def test_a_new_preset_is_one_line_of_the_table(monkeypatch, run_cli, capsys):
    """A preset of the study's family is one line of ``rule_presets.COEFFICIENTS``: the
    theory, the simulator and the command line then all know it by name."""
    import json

    from modspec.theory import rule_presets
    from modspec.theory import rules as r

    monkeypatch.setitem(rule_presets.COEFFICIENTS, "strong-hebbian", (0.0, 1e-2))
    monkeypatch.setattr(r.PRESETS, "_built", {})
    assert r.PRESETS["strong-hebbian"] == study_rule("strong-hebbian", 0.0, 1e-2)
    run = simulate(D0, arch.dense(), lr=0.01, epochs=3, hidden=6, init_std=0.05, seeds=1,
                   rule="strong-hebbian")
    assert run.meta == {"rule": "strong-hebbian", "gamma": 0.0, "nabla": 0.01}
    code, out, err = run_cli(capsys, "derive", "--rule", "strong-hebbian", "--format", "json",
                             "--no-cache")
    assert code == 0 and err == ""
    assert json.loads(out)["rule"]["coefficients"] == {"gamma": 0.0, "nabla": 0.01}
