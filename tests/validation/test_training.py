"""The PyTorch trainer: exact agreement with the NumPy simulator, functional read-outs, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import modspec as ms
from modspec.theory import architectures as A
from modspec.theory.errors import ModspecError

torch = pytest.importorskip("torch")

from modspec.numerics.simulate import initial_weights, simulate  # noqa: E402
from modspec.validation.functional import (  # noqa: E402
    autograd_mean_jacobian,
    mlp_forward,
    mlp_mean_jacobian,
)
from modspec.validation.training import train  # noqa: E402

D0 = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)


@pytest.mark.parametrize("arch,depth,train_objects", [
    ("shallow", 1, None), ("dense", 2, None), ("split", 2, [0, 1, 2, 4, 5, 7]),
    ("segregated", 2, [0, 1, 3, 4, 6, 7]), ("leaky", 2, None), ("dense", 3, [1, 2, 3, 5, 6, 7]),
])
def test_float64_linear_torch_training_matches_numpy_simulator_within_1e_8(arch, depth,
                                                                         train_objects):
    net = A.architecture(arch, depth)
    init = initial_weights(D0, net, hidden=20, init_std=0.05, seeds=2, seed=3)
    kw = dict(lr=0.02, epochs=120, train_objects=train_objects, init=init)
    sim = simulate(D0, net, **kw)
    tor = train(D0, net, device="cpu", dtype="float64", **kw)
    np.testing.assert_array_equal(sim.t, tor.t)
    for name in ("modes", "quadrant_norms", "loss"):
        a, b = getattr(sim, name), getattr(tor, name)
        assert set(a) == set(b)
        for k in a:
            assert np.max(np.abs(a[k] - b[k])) < 1e-8, (name, k)
    for ls, lt in zip(sim.weights, tor.weights, strict=True):
        for ws, wt in zip(ls, lt, strict=True):
            assert np.max(np.abs(ws - wt)) < 1e-8
    if train_objects is not None:
        assert np.max(np.abs(sim.heldout["compositional_error"]
                             - tor.heldout["compositional_error"])) < 1e-8
        assert list(sim.heldout["objects"]) == list(tor.heldout["objects"])
    assert tor.tau == pytest.approx(sim.tau)
    # the modes moved: the comparison is not between two resting networks
    assert max(np.max(np.abs(v[:, -1] - v[:, 0])) for v in tor.modes.values()) > 1e-2


@pytest.mark.parametrize("family", ["hierarchical", "parity"])
def test_float64_torch_held_out_error_per_block_matches_numpy_within_1e_8(family):
    """Every output block's held-out error curve, on families without the compositional
    blocks too: PyTorch float64 equals the NumPy simulator."""
    from modspec.theory.families import family_network, hierarchical, parity

    ds = (hierarchical(3, 2, 2, 1.5) if family == "hierarchical"
          else parity(3, [[0], [0, 1], [1, 2]], kx=1, ky=1, r=1.0))
    train_objects = [0, 1, 2] if family == "hierarchical" else [0, 1, 2, 4, 5, 6]
    net = family_network("dense", ds)
    init = initial_weights(ds, net, hidden=12, init_std=0.05, seeds=2, seed=4)
    kw = dict(lr=0.02, epochs=150, train_objects=train_objects, init=init, record_every=10)
    sim = simulate(ds, net, **kw)
    tor = train(ds, net, backend="torch", device="cpu", dtype="float64", **kw)
    assert set(sim.heldout["blocks"]) == set(tor.heldout["blocks"]) == set(ds.output_blocks)
    for block, curve in sim.heldout["blocks"].items():
        assert curve.shape == tor.heldout["blocks"][block].shape == (2, sim.t.size)
        assert np.max(np.abs(curve - tor.heldout["blocks"][block])) < 1e-8, block
        assert np.max(np.abs(curve[:, -1] - curve[:, 0])) > 1e-3, block   # it moved
    assert list(sim.heldout["objects"]) == list(tor.heldout["objects"])
    if "Oy" in ds.output_blocks:
        np.testing.assert_array_equal(tor.heldout["compositional_error"],
                                      tor.heldout["blocks"]["Oy"])
    else:
        assert tor.heldout["compositional_error"] is None


def test_float32_follows_float64_closely():
    net = A.dense()
    kw = dict(lr=0.02, epochs=100, init_std=0.05, hidden=10, seed=1, device="cpu")
    a = train(D0, net, dtype="float64", **kw)
    b = train(D0, net, dtype="float32", **kw)
    for k in a.modes:
        assert np.max(np.abs(a.modes[k] - b.modes[k])) < 1e-4


@pytest.mark.parametrize("nonlinearity", ["relu", "tanh"])
@pytest.mark.parametrize("bias", [False, True])
def test_mean_jacobian_equals_autograd_for_nonlinear_mlps(nonlinearity, bias):
    g = torch.Generator().manual_seed(0)
    dims = [5, 7, 6, 3]
    ws = [torch.randn(2, dims[i + 1], dims[i], generator=g, dtype=torch.float64)
          for i in range(3)]
    bs = [torch.randn(2, d, 1, generator=g, dtype=torch.float64) for d in dims[1:]] \
        if bias else None
    x = torch.randn(5, 11, generator=g, dtype=torch.float64)
    ours = mlp_mean_jacobian(ws, bs, x, nonlinearity)
    for s in range(2):
        def fn(v, s=s):
            return mlp_forward([w[s:s + 1] for w in ws],
                               [b[s:s + 1] for b in bs] if bs else None,
                               v[:, None], nonlinearity)[0, :, 0]
        ref = autograd_mean_jacobian(fn, x)
        assert torch.max(torch.abs(ours[s] - ref)) < 1e-12


def test_linear_mean_jacobian_is_the_weight_product():
    g = torch.Generator().manual_seed(1)
    ws = [torch.randn(1, 4, 3, generator=g), torch.randn(1, 2, 4, generator=g)]
    x = torch.randn(3, 5, generator=g)
    assert torch.allclose(mlp_mean_jacobian(ws, None, x, None), ws[1] @ ws[0])


def test_functional_gx_to_oy_is_zero_for_segregated_relu_and_not_for_dense():
    kw = dict(lr=0.02, epochs=150, init_std=0.05, hidden=20, device="cpu",
              nonlinearity="relu", bias=True)
    seg = train(D0, A.segregated(), **kw)
    den = train(D0, A.dense(), **kw)
    assert np.all(seg.quadrant_norms["Gx->Oy"] == 0.0)
    assert np.all(seg.quadrant_norms["Ox->Gy"] == 0.0)
    assert den.quadrant_norms["Gx->Oy"][0, -1] > 1e-2


def test_payload_follows_the_simulate_contract():
    tor = train(D0, A.split(), lr=0.02, epochs=5, seeds=2, device="cpu",
                train_objects=[0, 1, 2, 3, 4, 5])
    payload = json.loads(tor.to_json())
    assert {"t", "modes", "quadrant_norms", "loss", "std", "heldout"} <= set(payload)
    assert set(payload["modes"]) == {"A:pi1", "B:pi1+pi2", "B:pi3"}
    assert set(payload["quadrant_norms"]) == {"Ox->Oy", "Gx->Oy", "Ox->Gy", "Gx->Gy"}
    assert set(payload["loss"]) == {"compositional", "noncompositional"}
    assert payload["heldout"]["objects"] == [6, 7]
    assert len(payload["t"]) == 6


@pytest.mark.parametrize("kw,param", [
    ({"lr": -1.0}, "lr"), ({"epochs": -2}, "epochs"), ({"nonlinearity": "gelu"}, "nonlinearity"),
    ({"dtype": "float16"}, "dtype"), ({"device": "tpu"}, "device"),
    ({"train_objects": [0, 0, 1]}, "train_objects"), ({"train_objects": [9]}, "train_objects"),
    ({"backend": "jax"}, "backend"), ({"seeds": 0}, "seeds"),
])
def test_bad_options_name_the_parameter(kw, param):
    args = {"lr": 0.02, "epochs": 3, "device": "cpu", **kw}
    with pytest.raises(ModspecError, match=param):
        train(D0, A.dense(), **args)


def test_cuda_requested_without_cuda_is_a_user_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)   # also on a GPU machine
    with pytest.raises(ModspecError, match="device"):
        train(D0, A.dense(), lr=0.02, epochs=1, device="cuda")


def test_import_modspec_and_validation_modules_does_not_import_torch():
    code = ("import sys, modspec, modspec.validation.training, modspec.validation.comparison, "
            "modspec.validation.cmnist.dataset, modspec.validation.cmnist.cnn, "
            "modspec.validation.study.claims, modspec.validation.cmnist.run, "
            "modspec.validation.figures, modspec.cli; "
            "modspec.cli.build_parser(); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_float64_training_matches_numpy_simulator_within_1e_8():
    net = A.split()
    init = initial_weights(D0, net, hidden=20, init_std=0.05, seeds=2, seed=3)
    sim = simulate(D0, net, lr=0.02, epochs=120, init=init)
    tor = train(D0, net, device="cuda", dtype="float64", lr=0.02, epochs=120, init=init)
    assert tor.meta["device"] == "cuda"
    for k in sim.modes:
        assert np.max(np.abs(sim.modes[k] - tor.modes[k])) < 1e-8
