"""The newest surfaces at the edges of their types (issue 24: "try the same kinds again on
every surface you add"): ``--network FILE`` on derive, predict, simulate and validate,
``modspec relu``, and the λ-balanced start. Hypothesis draws options and files from the edges
(0, negative, huge, NaN, text, empty files, ``/dev/zero``); every draw is a result, or one line
and status 2, within a time bound (a generous multiple of what the slowest result takes)."""

from __future__ import annotations

import contextlib
import io
import signal

import pytest
from gated_cases import SHALLOW_DEEP as NETWORK
from gated_cases import SHALLOW_DEEP_TOML as DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cli_edges import assert_one_line_refusal
from test_cli_edges_sizes import _result_or_one_line as _json_or_one_line

from modspec.cli import main

#: Seconds one draw may take (the slowest result measured ~2 s on a loaded core).
BOUND = 60
REALS = ["0", "-1", "1e-320", "1e-12", "0.05", "1", "1e6", "1e300", "nan", "inf", "x"]
COUNTS = ["0", "-3", "1", "3", "1000000000", "2.5", "nan"]

#: Network files at the edges: valid, empty, not text, sizes 0 / huge / negative / NaN, a
#: start of 0, NaN or huge, an edge to an unknown layer.
NETWORKS = {
    "valid": NETWORK,
    "empty": "",
    "binary": "\x00\xff\xfe",
    "layer 0": NETWORK.replace("h = 1", "h = 0"),
    "layer huge": NETWORK.replace("h = 1", "h = 1000000000"),
    "layer negative": NETWORK.replace("h = 1", "h = -2"),
    "layer nan": NETWORK.replace("h = 1", "h = nan"),
    "start 0": NETWORK.replace("start = 0.001", "start = 0.0"),
    "start nan": NETWORK.replace("start = 0.001", "start = nan"),
    "start huge": NETWORK.replace("start = 0.001", "start = 1e300"),
    "lr huge": NETWORK.replace("lr = 0.1", "lr = 1e300"),
    "unknown layer": NETWORK.replace('V = ["x", "y"]', 'V = ["x", "z"]'),
}
DATAS = {"valid": DATA, "empty": "", "nan": DATA.replace("[[2]]", "[[nan]]"),
         "shape": DATA.replace("[[2]]", "[[2, 3]]"), "huge": DATA.replace("[[2]]", "[[1e308]]")}


@contextlib.contextmanager
def _within(seconds: int):
    """Fail (not hang) when the block takes longer than ``seconds``."""
    def stop(*_):
        raise TimeoutError(f"took over {seconds} s")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with _within(BOUND), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _result_or_one_line(code: int, out: str, err: str, as_json: bool = True) -> None:
    if as_json or code == 2:
        _json_or_one_line(code, out, err)
        return
    assert code == 0, err
    assert "Traceback" not in err and all("warning:" in line for line in err.splitlines())
    assert "nan" not in out.lower().replace("nabla", "") and "inf " not in out


def _file(tmp_path_factory, name: str, text: str | None) -> str:
    if text is None:
        return "/dev/zero"
    path = tmp_path_factory.mktemp("f") / f"{name}.toml"
    path.write_text(text, errors="surrogateescape")
    return str(path)


#: half the draws a valid file, so that the options are reached too
FILES = st.sampled_from([*NETWORKS, "/dev/zero", *["valid"] * 12])
SETTINGS = settings(max_examples=10, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


# ------------------------------------------------------------------------- --network FILE
@given(network=FILES, data=st.sampled_from([*DATAS, "/dev/zero", *["valid"] * 6]),
       command=st.sampled_from(["derive", "predict", "simulate"]),
       lr=st.sampled_from(REALS), epochs=st.sampled_from(COUNTS),
       start=st.sampled_from([None, *REALS]))
@SETTINGS
def test_network_files_and_options_at_the_edges_are_a_result_or_one_line(
        tmp_path_factory, network, data, command, lr, epochs, start):
    net = _file(tmp_path_factory, "net", NETWORKS.get(network))
    dat = _file(tmp_path_factory, "data", DATAS.get(data))
    argv = [command, "--network", net, "--dataset", dat]
    if command == "derive":
        argv += ["--format", "json"]
    else:
        argv += ["--lr", lr, "--epochs", epochs]
        argv += [] if start is None else ["--start", start]
    _result_or_one_line(*_run(argv))


@given(network=FILES, lr=st.sampled_from(REALS), epochs=st.sampled_from(COUNTS))
@settings(max_examples=5, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_validate_of_a_network_at_the_edges_is_a_result_or_one_line(tmp_path_factory, network,
                                                                    lr, epochs):
    net = _file(tmp_path_factory, "net", NETWORKS.get(network))
    dat = _file(tmp_path_factory, "data", DATA)
    out_dir = tmp_path_factory.mktemp("out")
    code, out, err = _run(["validate", "--network", net, "--dataset", dat, "--lr", lr,
                           "--epochs", epochs, "--out", str(out_dir / "v")])
    _result_or_one_line(code, out, err, as_json=False)


# ------------------------------------------------------------------------------ modspec relu
@given(hidden=st.sampled_from(COUNTS), lr=st.sampled_from(REALS),
       epochs=st.sampled_from(COUNTS), std=st.sampled_from(REALS),
       threshold=st.sampled_from(["0", "0.5", "1", "-0.1", "nan"]),
       tolerance=st.sampled_from(["0", "1e-3", "-1", "nan", "1e300"]),
       every=st.sampled_from(["1", "0", "1000000000"]))
@settings(max_examples=10, deadline=None)
def test_relu_at_the_edges_is_a_result_or_one_line(hidden, lr, epochs, std, threshold,
                                                   tolerance, every):
    pytest.importorskip("torch")
    code, out, err = _run(["relu", "--hidden", hidden, "--lr", lr, "--epochs", epochs,
                           "--init-std", std, "--threshold", threshold, "--tolerance",
                           tolerance, "--record-every", every, "--format", "json",
                           "--device", "cpu"])
    _result_or_one_line(code, out, err)


# ------------------------------------------------------------------- the λ-balanced start
@given(command=st.sampled_from(["predict", "simulate"]), lam=st.sampled_from(REALS),
       scale=st.sampled_from([None, *REALS]), lr=st.sampled_from(["0.05", "1e300", "0"]),
       epochs=st.sampled_from(["0", "3", "1000000000"]))
@settings(max_examples=10, deadline=None)
def test_a_lambda_balanced_start_at_the_edges_is_a_result_or_one_line(command, lam, scale,
                                                                      lr, epochs):
    argv = [command, "--init", "lambda-balanced", "--lam", lam, "--lr", lr, "--epochs",
            epochs, "--hidden", "4"] if command == "simulate" else \
        [command, "--init", "lambda-balanced", "--lam", lam, "--lr", lr, "--epochs", epochs]
    argv += [] if scale is None else ["--init-scale", scale]
    _result_or_one_line(*_run(argv))


# ------------------------------------------------- what the draws above found, pinned
@pytest.mark.parametrize("argv, names", [
    (["derive", "--network", "/dev/zero", "--dataset", "DATA"], "network='/dev/zero'"),
    (["derive", "--network", "NET:layer huge", "--dataset", "DATA"], "layer size 1000000000"),
    (["simulate", "--network", "NET:valid", "--dataset", "DATA", "--lr", "0.1", "--epochs",
      "1000000000"], "--epochs=1000000000"),
    (["validate", "--network", "NET:valid", "--dataset", "DATA", "--lr", "1e-320",
      "--epochs", "1000000000", "--out", "OUT"], "--epochs=1000000000"),
    (["predict", "--init", "lambda-balanced", "--lam", "0", "--lr", "0.05", "--epochs", "3"],
     "hidden=50"),
    (["simulate", "--init", "lambda-balanced", "--lam", "0", "--init-scale", "1e300", "--lr",
      "0.05", "--epochs", "0", "--hidden", "4"], "init_scale=1e+300"),
], ids=["network /dev/zero", "layer 1e9", "simulate 1e9 epochs", "validate 1e9 epochs",
        "lambda 0 hidden 50", "init-scale 1e300"])
def test_the_cases_the_draws_found_are_one_line(tmp_path, argv, names):
    """Each used to read /dev/zero until the memory ran out, allocate 7 EiB, run for hours,
    or trace back (matmul shapes, eigh of an overflowed Gram matrix)."""
    files = {"DATA": DATA, "OUT": None}

    def arg(a: str) -> str:
        if a.startswith("NET:"):
            path = tmp_path / "net.toml"
            path.write_text(NETWORKS[a[4:]])
            return str(path)
        if a in files:
            path = tmp_path / a.lower()
            if files[a] is not None:
                path.write_text(files[a])
            return str(path)
        return a

    code, out, err = _run([arg(a) for a in argv])
    assert_one_line_refusal(code, out, err, names)
