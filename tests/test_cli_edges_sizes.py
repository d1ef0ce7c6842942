"""Bad inputs at the edges, continued (issues 24 and 25): devices, sizes and shapes that used
to trace back, hang or fill the memory; degenerate datasets; options drawn from the edges of
their types; services that are not Dask schedulers.

Each case is one line on stderr naming the parameter and exit status 2, before any work, or a
correct result.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cli_edges import GRID_RUN, _grid, assert_one_line_refusal, run_process

from modspec.numerics import budget

MEMORY = 16 * 2**30


@pytest.fixture(autouse=True)
def _fixed_memory(monkeypatch):
    monkeypatch.setattr(budget, "available_bytes", lambda: MEMORY)


# ------------------------------------------------------------------ devices, sizes, threads
@pytest.mark.parametrize("command", ["validate", "cmnist"])
def test_a_cuda_device_this_machine_lacks_is_refused_before_any_work(run_cli, capsys, tmp_path,
                                                                     command):
    torch = pytest.importorskip("torch")
    out_dir = tmp_path / "out"
    index = torch.cuda.device_count() + 98
    code, out, err = run_cli(capsys, command, "--device", f"cuda:{index}", "--out", str(out_dir))
    assert_one_line_refusal(code, out, err, "--device")
    assert "CUDA device" in err and not out_dir.exists()


@pytest.mark.parametrize("argv, names", [
    (("--seeds", "100000"), "seeds=100000"),
    (("--n-train", "100000000"), "n_train=100000000"),
    (("--n-test", "100000000"), "n_test=100000000"),
    (("--threads", "100000"), "--threads"),
], ids=["seeds", "n-train", "n-test", "threads"])
def test_cmnist_sizes_beyond_the_machine_are_refused_before_allocating(run_cli, capsys,
                                                                       tmp_path, argv, names):
    out_dir = tmp_path / "out"
    code, out, err = run_cli(capsys, "cmnist", "--quick", *argv, "--out", str(out_dir))
    assert_one_line_refusal(code, out, err, names)
    assert not out_dir.exists()


def test_the_cmnist_memory_estimate_fits_the_reference_protocols():
    from modspec.validation.cmnist.config import CMNISTConfig, run_bytes
    from modspec.validation.cmnist.presets import QUICK, REFERENCE

    assert run_bytes(CMNISTConfig(**QUICK)) < 2**30                  # runs on a laptop
    assert run_bytes(CMNISTConfig(**REFERENCE)) < 2**30
    more = CMNISTConfig(**{**QUICK, "seeds": 2 * QUICK["seeds"]})
    assert run_bytes(more) > run_bytes(CMNISTConfig(**QUICK))


def test_cmnist_init_that_overflows_is_blamed_not_lr():
    pytest.importorskip("torch")
    from modspec.theory.errors import ModspecError
    from modspec.validation.cmnist.config import CMNISTConfig
    from modspec.validation.cmnist.seeds import SeedGroup

    group = SeedGroup.__new__(SeedGroup)
    group.seeds, group.arch = [0], "dense"
    group.config = CMNISTConfig(init=1e300)
    import numpy as np

    with pytest.raises(ModspecError, match=r"^init=1e\+300 is invalid"):
        group._check_finite(np.array([np.inf]), 0)
    with pytest.raises(ModspecError, match=r"^lr=0.002 is invalid: SGD diverged"):
        group._check_finite(np.array([np.nan]), 3)


# ------------------------------------------------------- degenerate declared datasets
DEGENERATE = {
    "scale 0": """family = "declared"
space = {kind = "hypercube", n = 3}
inputs = [{name = "x", kind = "features"},
          {name = "id", kind = "identity", copies = 1, scale = 0.0}]
outputs = [{name = "y", kind = "features", indices = [0]},
           {name = "xor", kind = "parities", subsets = [[0, 1]]}]
""",
    "unrelated blocks": """family = "declared"
space = {kind = "hypercube", n = 3}
inputs = [{name = "x", kind = "features", indices = [0]}]
outputs = [{name = "y", kind = "features", indices = [1]}]
""",
    "count 0": """family = "declared"
space = {kind = "hypercube", n = 3}
inputs = [{name = "x", kind = "features"},
          {name = "id", kind = "identity", copies = 0, scale = 1.0}]
outputs = [{name = "y", kind = "features", indices = [0]}]
""",
    "features 0": """family = "hierarchical"
levels = 3
branching = 2
features = 0
r = 1.0
""",
}


def _finite_json_or_one_line(code, out, err):
    import json
    import math

    if code != 0:
        assert_one_line_refusal(code, out, err, "")
        return None
    payload = json.loads(out, parse_constant=pytest.fail)
    for group in ("quadrant_norms", "loss"):
        for curve in payload[group].values():
            assert all(math.isfinite(v) for v in curve)
    return payload


@pytest.mark.parametrize("name", list(DEGENERATE))
def test_predict_on_a_degenerate_declared_dataset_is_a_result_or_one_line(run_cli, capsys,
                                                                         tmp_path, name):
    path = tmp_path / "d.toml"
    path.write_text(DEGENERATE[name])
    code, out, err = run_cli(capsys, "predict", "--lr", "0.05", "--epochs", "3", "--dataset",
                             str(path))
    assert code == 0, err                     # each of these is a dataset with an answer
    _finite_json_or_one_line(code, out, err)


def test_a_network_without_modes_predicts_constant_observables(run_cli, capsys):
    code, out, err = run_cli(capsys, "predict", "--lr", "0.1", "--epochs", "2", "--ny", "0",
                             "--kx", "0", "--ky", "0")
    payload = _finite_json_or_one_line(code, out, err)
    assert payload["modes"] == {} and payload["t"] == [0.0, 1.0, 2.0]
    assert all(v == [0.0, 0.0, 0.0] for v in payload["quadrant_norms"].values())


# ----------------------------------------------------------------------------- grid shapes
SHAPES = {
    "arch nested list": ('[run]\narch = [["dense"]]\nlr = 0.02\nepochs = 10\n'
                         'compute = ["theory"]\n', "run.arch=['dense']"),
    "arch table": ('[run]\narch = {a = "dense"}\nlr = 0.02\nepochs = 10\ncompute = ["theory"]\n',
                   "run.arch={'a': 'dense'}"),
    "dataset scalar": ("dataset = 3\n" + GRID_RUN, "must be tables"),
    "run string": ('run = "x"\n[dataset]\nnx = 3\n', "must be tables"),
    "huge product": ("[dataset]\nkx = [" + ", ".join(map(str, range(100))) + "]\n[run]\n"
                     "lr = [" + ", ".join(f"0.0{i + 1}" for i in range(9)) + "]\nepochs = 10\n"
                     "seed = [" + ", ".join(map(str, range(1000))) + ']\ncompute = ["theory"]\n',
                     "100 × 9 × 1000 = 900000 points"),
    "huge epochs": ('[run]\nlr = 0.02\nepochs = 1000000000000000000\ncompute = ["theory"]\n',
                    "run.epochs=1000000000000000000"),
}


@pytest.mark.parametrize("text, names", list(SHAPES.values()), ids=list(SHAPES))
def test_a_grid_of_the_wrong_shape_is_one_line_before_any_work(run_cli, capsys, tmp_path,
                                                               text, names):
    store = tmp_path / "s.jsonl"
    code, out, err = run_cli(capsys, "sweep", _grid(tmp_path, text), "--out", str(store),
                             "--workers", "0")
    assert_one_line_refusal(code, out, err, names)
    assert not store.exists()


def test_a_surface_over_one_parameter_twice_is_refused(run_cli, capsys, tmp_path):
    store, figure = tmp_path / "s.jsonl", tmp_path / "p.png"
    code, out, err = run_cli(capsys, "sweep", _grid(tmp_path, GRID_RUN), "--out", str(store),
                             "--plot", str(figure), "--x", "kx", "--y", "kx", "--value",
                             "Gx->Oy")
    assert_one_line_refusal(code, out, err, "--y='kx'")
    assert not store.exists() and not figure.exists()


# ------------------------------------------------------------------------- sizes, hangs
def test_a_subnormal_rule_coefficient_is_refused_at_once():
    code, out, err = run_process("derive", "--rule", "hebbian", "--gamma", "1e-320",
                                 timeout=60)
    assert_one_line_refusal(code, out, err, "gamma=1e-320")


def test_printing_more_than_the_output_budget_needs_record_every(run_cli, capsys):
    code, out, err = run_cli(capsys, "predict", "--lr", "0.1", "--epochs", "10000000",
                             "--format", "csv")
    assert_one_line_refusal(code, out, err, "--epochs=10000000")
    assert "--record-every" in err and "64 MiB" in err
    code, out, err = run_cli(capsys, "predict", "--lr", "0.1", "--epochs", "10000000",
                             "--format", "csv", "--record-every", "2500000")
    assert code == 0, err
    rows = out.strip().splitlines()
    assert [float(r.split(",")[0]) for r in rows[1:]] == [0.0, 2.5e6, 5e6, 7.5e6, 1e7]
    pi1_end = float(rows[-1].split(",")[1])
    assert pi1_end == pytest.approx(0.904534, rel=1e-5)           # converged to s/λ


def test_record_every_keeps_the_values_at_the_recorded_epochs(run_cli, capsys):
    import json

    code, every, _ = run_cli(capsys, "predict", "--lr", "0.1", "--epochs", "10",
                             "--time", "discrete")
    code2, coarse, _ = run_cli(capsys, "predict", "--lr", "0.1", "--epochs", "10",
                               "--time", "discrete", "--record-every", "3")
    every, coarse = json.loads(every), json.loads(coarse)
    assert code == code2 == 0 and coarse["t"] == [0.0, 3.0, 6.0, 9.0, 10.0]
    for key, curve in coarse["modes"].items():
        assert curve == [every["modes"][key][int(t)] for t in coarse["t"]]


def test_a_dataset_too_large_for_its_mode_basis_is_not_simulated(run_cli, capsys):
    code, out, err = run_cli(capsys, "simulate", "--nx", "12", "--kx", "3", "--ky", "1",
                             "--lr", "0.01", "--epochs", "3")
    assert_one_line_refusal(code, out, err, "dataset='4096 objects")
    assert "predict it instead" in err


def test_identity_blocks_too_large_for_memory_are_refused_before_allocating(run_cli, capsys,
                                                                           tmp_path):
    code, out, err = run_cli(capsys, "simulate", "--kx", "100000", "--lr", "0.01",
                             "--epochs", "2")
    assert_one_line_refusal(code, out, err, "epochs=2")
    assert "of memory" in err
    store = tmp_path / "s.jsonl"
    grid = _grid(tmp_path, '[dataset]\nkx = 100000\n[run]\nlr = 0.02\nepochs = 10\n'
                           'compute = ["simulate"]\n')
    code, out, err = run_cli(capsys, "sweep", grid, "--out", str(store), "--workers", "0")
    assert_one_line_refusal(code, out, err, "kx=100000")
    assert "of memory" in err and not store.exists()


def test_sparse_and_dense_mode_vectors_agree():
    import numpy as np

    from modspec.theory.spectra import _product

    rng = np.random.default_rng(0)
    A = np.zeros((1200, 1000))
    A[:5] = rng.normal(size=(5, 1000))
    A[5:1005, :] += np.eye(1000)                       # an identity block: mostly zeros
    G = rng.normal(size=(1000, 7))
    assert np.allclose(_product(A, G), A @ G, rtol=1e-12, atol=1e-12)


def test_a_coupled_prediction_wider_than_its_bound_is_refused_at_once(run_cli, capsys):
    from modspec.numerics.predict import MAX_COUPLED_HIDDEN

    code, out, err = run_cli(capsys, "predict", "--arch", "leaky", "--hidden", "1000000",
                             "--lr", "0.1", "--epochs", "3")
    assert_one_line_refusal(code, out, err, "--hidden=1000000")
    assert str(MAX_COUPLED_HIDDEN) in err


def test_a_grid_point_without_modes_stores_a_row_of_zeros(run_cli, capsys, tmp_path):
    import json

    store = tmp_path / "s.jsonl"
    grid = _grid(tmp_path, '[dataset]\nny = 0\nkx = 0\nky = 0\n[run]\nlr = 0.02\nepochs = 10\n'
                           'compute = ["theory", "simulate"]\n')
    code, out, err = run_cli(capsys, "sweep", grid, "--out", str(store), "--workers", "0")
    assert code == 0, err
    row = json.loads(store.read_text().splitlines()[-1])
    assert not any(k.endswith("error") for k in row)
    assert row["theory.loss.compositional"] == row["simulate.loss.compositional"] == 0.0


def test_cmnist_lr_beyond_float32_is_refused_at_once(run_cli, capsys, tmp_path):
    out_dir = tmp_path / "out"
    code, out, err = run_cli(capsys, "cmnist", "--quick", "--lr", "1e300", "--out", str(out_dir))
    assert_one_line_refusal(code, out, err, "lr=1e+300")
    assert "float32" in err and not out_dir.exists()


@pytest.mark.parametrize("command", ["simulate", "validate"])
def test_a_dataset_whose_modes_cost_too_much_to_read_is_refused_at_once(command, tmp_path):
    out_dir = tmp_path / "out"
    argv = ("--nx", "12", "--kx", "1", "--epochs", "3", "--lr", "0.0001")
    if command == "validate":
        argv += ("--out", str(out_dir))
    code, out, err = run_process(command, *argv, timeout=60)
    assert_one_line_refusal(code, out, err, "dataset='4096 objects")
    assert "operations" in err and not out_dir.exists()


# ------------------------------------------------ options drawn from the edges of their types
def _result_or_one_line(code, out, err):
    """Exit 0 with strict, finite JSON (warnings: one line each), or one line and status 2."""
    import json

    if code == 2:
        assert_one_line_refusal(code, out, err, "")
        return
    assert code == 0, err
    assert "Traceback" not in err and all("warning:" in line for line in err.splitlines())
    json.loads(out, parse_constant=pytest.fail)               # no NaN, no Infinity


EDGE_REALS = ["1e-300", "1e-12", "0.05", "0.1005", "0.15", "1", "1e6", "1e300", "-1e-3", "0"]


@given(lr=st.sampled_from(EDGE_REALS), a0=st.sampled_from(EDGE_REALS),
       epochs=st.sampled_from(["0", "1", "40", "10000000"]),
       time=st.sampled_from(["continuous", "discrete"]),
       every=st.sampled_from([None, "7000", "100000000"]))    # never megabytes of output
@settings(max_examples=12, deadline=None)
def test_predict_at_the_edges_is_a_result_or_one_line(lr, a0, epochs, time, every):
    from modspec.cli import main

    argv = ["predict", "--lr", lr, "--a0", a0, "--epochs", epochs, "--time", time]
    argv += [] if every is None else ["--record-every", every]
    with _captured() as (out, err), _derived_once():
        code = main(argv)
    _result_or_one_line(code, out.getvalue(), err.getvalue())


_DERIVED: dict = {}


def _derived_once():
    """Every example predicts the same default dataset and network: derive and compile them
    once for all examples (the edges are in the options, checked on every example; deriving
    and compiling is the same work each time, seconds, and has tests of its own)."""
    import contextlib

    from modspec.numerics import predict
    from modspec.theory import derivation

    derive, compile_ = derivation.derive, predict.compile

    def derive_once(dataset, network, cache=True, rule=None):
        key = ("derive", dataset, network, cache, rule)
        if key not in _DERIVED:
            _DERIVED[key] = derive(dataset, network, cache, rule)
        return _DERIVED[key]

    def compile_once(obj, *args, **kwargs):
        key = ("compile", id(obj), args, tuple(sorted(kwargs.items())))
        if key not in _DERIVED:
            _DERIVED[key] = (obj, compile_(obj, *args, **kwargs))  # obj kept: id stays its own
        return _DERIVED[key][1]

    @contextlib.contextmanager
    def patched():
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(derivation, "derive", derive_once)
            mp.setattr(predict, "compile", compile_once)
            yield

    return patched()


@given(lr=st.sampled_from(EDGE_REALS), std=st.sampled_from(EDGE_REALS),
       epochs=st.sampled_from(["0", "1", "30"]), hidden=st.sampled_from(["1", "3"]),
       backend=st.sampled_from(["numpy", "torch"]))
@settings(max_examples=10, deadline=None)
def test_simulate_at_the_edges_is_a_result_or_one_line(lr, std, epochs, hidden, backend):
    from modspec.cli import main

    if backend == "torch":
        pytest.importorskip("torch")
    with _captured() as (out, err):
        code = main(["simulate", "--lr", lr, "--init-std", std, "--epochs", epochs,
                     "--hidden", hidden, "--backend", backend])
    _result_or_one_line(code, out.getvalue(), err.getvalue())


def _captured():
    import contextlib
    import io

    @contextlib.contextmanager
    def capture():
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield out, err

    return capture()


# ------------------------------------------------------------------------------ schedulers
def _server(first: bytes | None):
    """A local TCP service that accepts connections and sends ``first`` (None: nothing)."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    held = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            if first is not None:
                conn.sendall(first)

    threading.Thread(target=serve, daemon=True).start()
    return listener, f"tcp://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("first, why", [
    (None, "sent no Dask handshake"),                              # accepts, never answers
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "does not speak Dask"),  # announces exabytes
    (b"", "sent no Dask handshake"),
], ids=["silent", "http", "empty"])
def test_a_service_that_is_not_a_dask_scheduler_is_one_line_within_the_timeout(first, why):
    pytest.importorskip("distributed")
    from modspec.theory.errors import ModspecError
    from modspec.validation.sweeps.cluster import connect

    listener, address = _server(first)
    try:
        with pytest.raises(ModspecError, match=f"--scheduler=.*{why}"):
            connect(address, timeout=1.0)
    finally:
        listener.close()


def test_tls_schedulers_are_refused_in_one_line(run_cli, capsys, tmp_path):
    code, out, err = run_cli(capsys, "sweep", _grid(tmp_path, GRID_RUN), "--out",
                             str(tmp_path / "s.jsonl"), "--scheduler", "tls://127.0.0.1:8786")
    assert_one_line_refusal(code, out, err, "--scheduler")
