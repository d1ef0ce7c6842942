"""The reduced run: gradient descent in the span of the training inputs and of the initial
hidden weights equals gradient descent of the full network."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import modspec as ms
from modspec.numerics.flow import covariances, gradients, layout, module_maps, residual, total_map
from modspec.numerics.simulate import initial_weights, simulate
from modspec.numerics.subspace import full_maps, full_residual, full_weights, reduce_run
from modspec.theory import architectures as arch

D0 = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
D1 = ms.CompositionalDataset(nx=4, ny=2, kx=3, ky=1, r=1)
SUBSET = [0, 1, 2, 4, 7]
simulate_module = importlib.import_module("modspec.numerics.simulate")


def _scale_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference relative to the largest magnitude of ``b``."""
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def _all_results(run) -> dict[str, np.ndarray]:
    out = {f"{g}/{k}": v for g in ("modes", "quadrant_norms", "loss")
           for k, v in getattr(run, g).items()}
    out |= {f"weights/{m}/{i}": w for m, layers in enumerate(run.weights)
            for i, w in enumerate(layers)}
    out["final_map"] = run.final_map
    if run.heldout is not None:
        out["heldout"] = run.heldout["compositional_error"]
    return out


def test_d0_dense_with_50_hidden_units_runs_as_8_inputs_17_hidden_units():
    lay = layout(D0, arch.dense(), 50)
    cov = covariances(D0)
    init = initial_weights(D0, arch.dense(), hidden=50, seeds=2)
    run = reduce_run(lay, cov, np.asarray(D0.X, float), np.asarray(D0.Y, float), init)
    assert [m.dims for m in run.layout.modules] == [(8, 17, 9)]      # rank X = 8 = P; 8 + 9
    assert run.hidden[0].shape == (2, 50, 17)
    np.testing.assert_allclose(run.hidden[0].mT @ run.hidden[0], np.broadcast_to(np.eye(17),
                               (2, 17, 17)), atol=1e-14)


def test_only_the_sides_with_room_are_reduced():
    # D0 dense with 4 hidden units (< 8 + 9): the inputs shrink, the hidden units stay
    lay = layout(D0, arch.dense(), 4)
    init = initial_weights(D0, arch.dense(), hidden=4, seeds=1)
    run = reduce_run(lay, covariances(D0), np.asarray(D0.X, float), np.asarray(D0.Y, float),
                     init)
    assert run.hidden == (None,) and run.layout.modules[0].dims == (8, 4, 9)
    # 2 inputs spanned by 4 objects and 1 hidden unit: nothing to gain, the full run is used
    ds = ms.CompositionalDataset(nx=2, ny=1, kx=0, ky=1, r=1)
    lay = layout(ds, arch.dense(), 1)
    init = initial_weights(ds, arch.dense(), hidden=1, seeds=1)
    assert reduce_run(lay, covariances(ds), np.asarray(ds.X, float), np.asarray(ds.Y, float),
                      init) is None


@pytest.mark.parametrize("name, depth, hidden, kw", [
    ("shallow", 1, 8, {}), ("dense", 2, 50, {}), ("dense", 2, 20, {"train_objects": SUBSET}),
    ("dense", 3, 10, {}), ("split", 2, 20, {}), ("segregated", 2, 20, {}),
    ("leaky", 2, 30, {}), ("leaky", 1, 8, {}), ("segregated", 3, 6, {"train_objects": SUBSET}),
])
def test_reduced_run_equals_full_gradient_descent_within_1e12(monkeypatch, name, depth, hidden,
                                                              kw):
    """Every recorded number, the final weights and the final map of a reduced run equal
    those of gradient descent on the full network (measured: within 7e-15 of each array's
    magnitude), through the fixed points and with objects held out."""
    net = arch.architecture(name, depth)
    args = dict(lr=0.02, epochs=150, hidden=hidden, init_std=1e-3, seeds=2, seed=7, **kw)
    reduced = _all_results(simulate(D0, net, **args))
    monkeypatch.setattr(simulate_module, "reduce_run", lambda *a: None)
    full = _all_results(simulate(D0, net, **args))
    assert reduced.keys() == full.keys()
    for k in full:
        assert _scale_error(reduced[k], full[k]) < 1e-12, k


@settings(max_examples=25, deadline=None)
@given(dataset=st.sampled_from([D0, D1]), name=st.sampled_from(["dense", "split", "leaky",
                                                               "segregated", "shallow"]),
       depth=st.sampled_from([1, 2, 3]), hidden=st.sampled_from([1, 3, 20, 40]),
       objects=st.sets(st.integers(0, 7), min_size=1), init_std=st.sampled_from([0.0, 0.01, 1.0]),
       seed=st.integers(0, 2**16))
@example(D0, "dense", 2, 50, set(range(8)), 0.0, 0)          # zero start: a saddle it keeps
@example(D0, "dense", 2, 1, {3}, 1.0, 1)                     # one object, one hidden unit
def test_one_reduced_epoch_is_one_epoch_of_the_full_network(dataset, name, depth, hidden,
                                                            objects, init_std, seed):
    """From any start, on any training subset: the reduced maps, residual and one step of
    the reduced layers map back to the full network's maps, residual and step."""
    net = arch.architecture(name, 1 if name == "shallow" else depth)
    lay = layout(dataset, net, hidden)
    cov = covariances(dataset, sorted(objects))
    X = np.asarray(dataset.X, float)[:, cov.objects]
    Y = np.asarray(dataset.Y, float)[:, cov.objects]
    weights = initial_weights(dataset, net, hidden=hidden, init_std=init_std, seeds=2,
                              seed=seed)
    run = reduce_run(lay, cov, X, Y, weights)
    assert run is not None                 # at most 16 objects span fewer than 27 or 52 inputs
    state = [[w.copy() for w in layers] for layers in run.start]
    maps = module_maps(run.layout, state)
    W_red = total_map(run.layout, maps)
    R_red = residual(W_red, run.cov)

    full = module_maps(lay, weights)
    W = total_map(lay, full)
    R = residual(W, cov)
    scale = max(np.abs(W).max(), 1e-300)
    for M, M_full in zip(full_maps(run, lay, maps, state), full, strict=True):
        assert np.abs(M - M_full).max() <= 1e-12 * scale
    assert np.abs(full_residual(run, W_red, cov) - R).max() <= 1e-12 * max(np.abs(R).max(), 1)

    tau = 7.0
    for layers, g in zip(state, gradients(run.layout, state, R_red), strict=True):
        for w, d in zip(layers, g, strict=True):
            w += d / tau
    stepped = [[w + d / tau for w, d in zip(layers, g, strict=True)]
               for layers, g in zip(weights, gradients(lay, weights, R), strict=True)]
    for got, want in zip(full_weights(run, state), stepped, strict=True):
        for a, b in zip(got, want, strict=True):
            assert np.abs(a - b).max() <= 1e-12 * max(np.abs(b).max(), 1e-300)


@pytest.mark.parametrize("dataset, name, depth, hidden, objects", [
    (D0, "dense", 2, 50, None), (D0, "split", 2, 20, SUBSET), (D1, "leaky", 3, 10, None),
    (D1, "segregated", 1, 8, SUBSET)])
def test_records_read_on_the_reduced_run_equal_those_of_the_full_network(dataset, name, depth,
                                                                         hidden, objects):
    """The simulator's record of a reduced run (modes and quadrant norms on the rebuilt full
    maps, block losses on the reduced residual) equals the observer on the full network's
    maps and residual: modes and norms number for number up to rounding, losses within 1e-13
    of the block's ``tr Σy``; and the named record equals the table's columns."""
    from modspec.numerics.simulate import Observer

    net = arch.architecture(name, depth)
    lay = layout(dataset, net, hidden)
    cov = covariances(dataset, objects)
    X = np.asarray(dataset.X, float)[:, cov.objects]
    Y = np.asarray(dataset.Y, float)[:, cov.objects]
    weights = initial_weights(dataset, net, hidden=hidden, init_std=0.3, seeds=3, seed=2)
    run = reduce_run(lay, cov, X, Y, weights)
    state = [list(layers) for layers in run.start]
    maps = module_maps(run.layout, state)
    W_red = total_map(run.layout, maps)
    R_red = residual(W_red, run.cov)
    obs = Observer(lay, cov, dataset)
    full_weights_maps = module_maps(lay, weights)
    W = total_map(lay, full_weights_maps)
    want = obs.values(full_weights_maps, W, residual(W, cov))
    full = full_maps(run, lay, maps, state)
    got = obs.values(full, total_map(lay, full), None, (W_red, run.cov.sigma_yx, R_red))
    assert got.shape == want.shape == (3, len(obs.names))
    n_loss = sum(group == "loss" for group, _ in obs.names)
    np.testing.assert_allclose(got[:, :-n_loss], want[:, :-n_loss], rtol=1e-12, atol=1e-14)
    assert np.abs(got[:, -n_loss:] - want[:, -n_loss:]).max() <= 1e-13 * max(
        obs.loss_traces.max(), 1.0)
    named = obs(full_weights_maps, W, residual(W, cov))
    for j, (group, key) in enumerate(obs.names):
        assert np.array_equal(named[group][key], want[:, j])
