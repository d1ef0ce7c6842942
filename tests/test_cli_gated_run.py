"""``modspec predict / simulate / validate --network``: the race through every command, equal
to today's commands on converted wirings, and one-line errors for every bad combination."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gated_cases import FAILING, FAILING_DATA, write_case

from modspec.cli import main
from modspec.theory.architectures import architecture
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.gated_convert import as_gated
from modspec.theory.observables import loss_key

ROOT = Path(__file__).resolve().parents[1]
ROUTING = [str(ROOT / "docs/examples/routing.toml"), "--dataset",
           str(ROOT / "docs/examples/routing-data.toml")]
LR = "0.0014285714285714286"


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def _toml_of(conversion, folder: Path) -> tuple[str, str]:
    """A converted wiring (constant gates) written as the TOML files of --network/--dataset."""
    net, data = conversion.network, conversion.data
    X, Y = data.numeric()
    lines = [f'name = "{net.name}"', "[layers]"]
    lines += [f"{x.name} = {x.size}" for x in net.layers]
    lines += ["[edges]"] + [f'{e.name} = ["{e.source}", "{e.target}"]' for e in net.edges]
    rows = ["family = 'gated'", "[inputs]"]
    rows += [f"{k} = {json.dumps(v.tolist())}" for k, v in X.items()]
    rows += ["[targets]"] + [f"{k} = {json.dumps(v.tolist())}" for k, v in Y.items()]
    (folder / "net.toml").write_text("\n".join(lines) + "\n")
    (folder / "data.toml").write_text("\n".join(rows) + "\n")
    return str(folder / "net.toml"), str(folder / "data.toml")


# ---------------------------------------------------------------- the routing example
def test_routing_predict_equals_simulate_from_the_aligned_start(capsys):
    assert main(["predict", "--network", *ROUTING, "--lr", LR, "--epochs", "30"]) == 0
    pred = _json(capsys)
    assert main(["simulate", "--network", *ROUTING, "--lr", LR, "--epochs", "30",
                 "--start", "0.08", "--seeds", "2"]) == 0
    sim = _json(capsys)
    assert pred["t"] == sim["t"] and pred["meta"]["solution"] == "race"
    assert len(pred["modes"]) == 4 * 49       # every pathway, trained or not, on 4 modes
    for group in ("modes", "quadrant_norms", "loss"):
        assert set(pred[group]) == set(sim[group])
        for k, v in pred[group].items():
            np.testing.assert_allclose(sim[group][k], v, rtol=1e-10, atol=1e-12)
            assert max(sim["std"][group][k]) <= 1e-12     # every seed starts aligned
    # the loss falls, and the pathway in0 → out0 on mode 0 rises (b_in · b_shared · b_out)
    assert pred["loss"]["y0"][-1] < pred["loss"]["y0"][0]
    rise = pred["modes"]["0:in0.shared.out0"]
    assert rise[0] == pytest.approx(0.08 ** 3) and rise[-1] > 4 * rise[0]


def test_routing_validate_judges_the_race_and_writes_its_outputs(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["validate", "--network", *ROUTING, "--epochs", "60", "--seeds", "1",
                 "--out", str(out), "--no-figures", "--strict"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("routing (gated, aligned start): ") and "theory: race" in text
    report = json.loads((out / "comparison.json").read_text())
    assert report["passed"] and report["theory"]["basis_condition"]["holds"]
    kinds = {k.split(" ")[0] for k in report["verdicts"]}
    assert kinds == {"trajectory", "half-rise", "end", "zero-shot", "winner"}
    assert len(report["zero_shot"]) == 21                  # the untrained pairs
    for v in report["zero_shot"].values():
        assert v["simulation"] == pytest.approx(v["theory"], abs=1e-8)
    training = json.loads((out / "training.json").read_text())
    assert set(training["modes"]) == set(report["half_rise"])


def test_routing_validate_with_pytorch_equals_numpy(tmp_path, capsys):
    pytest.importorskip("torch")
    reports = []
    for backend in ("numpy", "torch"):
        out = tmp_path / backend
        assert main(["validate", "--network", *ROUTING, "--epochs", "20", "--seeds", "1",
                     "--backend", backend, "--device", "cpu", "--out", str(out),
                     "--no-figures"]) == 0
        capsys.readouterr()
        reports.append(json.loads((out / "training.json").read_text()))
    for k, v in reports[0]["loss"].items():
        np.testing.assert_allclose(reports[1]["loss"][k], v, rtol=1e-10)


# ----------------------------------------------------------- converted wirings
D0 = CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)


@pytest.mark.parametrize("arch,depth", [("dense", 2), ("split", 2), ("shallow", 1)])
def test_predict_of_a_converted_wiring_ends_where_todays_predict_ends(arch, depth, tmp_path,
                                                                      capsys):
    conv = as_gated(architecture(arch, depth), D0, hidden=8)
    net, data = _toml_of(conv, tmp_path)
    common = ["--lr", "0.05", "--epochs", "400"]
    # the data span 8 of 27 input dimensions: where a run ends depends on its start, by
    # O(start) off the data; from a small start it ends at today's (minimum-norm) W*
    assert main(["predict", "--network", net, "--dataset", data, "--start", "1e-5",
                 "--time", "discrete", *common]) == 0
    gated = _json(capsys)
    assert main(["predict", "--arch", arch, "--depth", str(depth), "--time", "discrete",
                 *common]) == 0
    today = _json(capsys)
    for block in ("Oy", "Gy"):
        assert gated["loss"][block][-1] == pytest.approx(
            today["loss"][loss_key(block)][-1], abs=1e-5)
    if arch == "dense":     # one pathway per quadrant: its norm is the quadrant's
        for p, v in gated["quadrant_norms"].items():
            src, dst = p.split(".")[0].split("_W1_")[1], p.split("_W2_")[1]
            assert v[-1] == pytest.approx(today["quadrant_norms"][f"{src}->{dst}"][-1],
                                          abs=1e-4)


@pytest.mark.parametrize("arch,depth", [("dense", 2), ("segregated", 2)])
def test_simulate_of_a_converted_wiring_equals_todays_simulate(arch, depth, tmp_path, capsys):
    conv = as_gated(architecture(arch, depth), D0, hidden=8)
    net, data = _toml_of(conv, tmp_path)
    common = ["--lr", "0.05", "--epochs", "400", "--hidden", "8", "--init-std", "0.01",
              "--seeds", "2"]
    assert main(["simulate", "--network", net, "--dataset", data,
                 *[c for c in common if c != "--hidden" and c != "8"]]) == 0
    gated = _json(capsys)
    assert main(["simulate", "--arch", arch, "--depth", str(depth), *common]) == 0
    today = _json(capsys)
    for block in ("Oy", "Gy"):      # different random starts, the same converged loss
        assert gated["loss"][block][0] == pytest.approx(today["loss"][loss_key(block)][0],
                                                        rel=1e-3)
        assert gated["loss"][block][-1] == pytest.approx(
            today["loss"][loss_key(block)][-1], abs=1e-5)


def test_the_gated_record_of_a_converted_run_equals_todays_record_from_the_same_start():
    """Library level, the same start: the gated simulator's losses equal today's to
    rounding (``run_record`` reads what the commands print)."""
    from modspec.numerics.gated_predict import gated_theory, run_record
    from modspec.numerics.gated_simulate import gated_simulate
    from modspec.numerics.simulate import simulate
    from modspec.theory.gated_convert import edge_weights

    network = architecture("split", 2)
    conv = as_gated(network, D0, hidden=6)
    today = simulate(D0, network, lr=0.05, epochs=60, hidden=6, init_std=0.05, seeds=2)
    init = edge_weights(conv, today.init)
    run = gated_simulate(conv.network, conv.data, 0.05, 60, init=init, keep_weights=True)
    record = run_record(gated_theory(conv.network, conv.data), run)
    for block in ("Oy", "Gy"):
        np.testing.assert_allclose(record.loss[block], today.loss[loss_key(block)],
                                   rtol=1e-9, atol=1e-12)


def test_validate_of_a_converted_wiring_agrees_with_todays_end_points(tmp_path, capsys):
    conv = as_gated(architecture("dense", 2), D0, hidden=8)
    net, data = _toml_of(conv, tmp_path)
    common = ["--lr", "0.05", "--epochs", "300", "--seeds", "1", "--no-figures"]
    assert main(["validate", "--network", net, "--dataset", data, "--start", "1e-5",
                 "--out", str(tmp_path / "g"), *common]) == 0
    gated = json.loads((tmp_path / "g" / "comparison.json").read_text())
    assert main(["validate", "--arch", "dense", "--out", str(tmp_path / "t"), *common]) == 0
    capsys.readouterr()
    today = json.loads((tmp_path / "t" / "comparison.json").read_text())
    assert gated["passed"]
    for p, v in gated["quadrant_norms"].items():
        src, dst = p.split(".")[0].split("_W1_")[1], p.split("_W2_")[1]
        assert v["theory"] == pytest.approx(today["quadrant_norms"][f"{src}->{dst}"]["theory"],
                                            abs=1e-4)


# ------------------------------------------------------------- where the condition fails
@pytest.fixture()
def failing(tmp_path):
    return write_case(tmp_path, FAILING, FAILING_DATA)


def test_where_the_basis_condition_fails_predict_says_so_and_gives_the_matrix_dynamics(
        failing, capsys, tmp_path):
    assert main(["predict", "--network", *failing, "--lr", "0.1", "--epochs", "50",
                 "--start", "0.1", "--seed", "3"]) == 0
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "no shared basis" in err and "\n" not in err and "matrix dynamics" in err
    pred = json.loads(captured.out)
    assert pred["modes"] == {} and pred["meta"]["solution"] == "matrix dynamics"
    # it is full gradient descent from that seeded start: simulate gives the same numbers
    assert main(["simulate", "--network", *failing, "--lr", "0.1", "--epochs", "50",
                 "--init-std", "0.1", "--seed", "3"]) == 0
    sim = _json(capsys)
    for k, v in pred["loss"].items():
        np.testing.assert_allclose(sim["loss"][k], v, rtol=1e-12)
    assert main(["predict", "--network", *failing, "--lr", "0.1", "--epochs", "3",
                 "--start", "0.1", "--format", "csv"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split(",")
    assert header[0] == "t" and "norm:A" in header and "loss:y" in header
    # validate compares the run with the exact dynamics of its own start, epoch by epoch
    out = tmp_path / "v"
    assert main(["validate", "--network", *failing, "--lr", "0.1", "--epochs", "50",
                 "--out", str(out), "--no-figures", "--strict"]) == 0
    report = json.loads((out / "comparison.json").read_text())
    assert not report["theory"]["basis_condition"]["holds"] and report["passed"]
    assert {k.split(" ")[0] for k in report["verdicts"]} == {"trajectory", "end"}


# ------------------------------------------------------------------- bad combinations
@pytest.mark.parametrize("command,extra,message", [
    ("predict", ["--arch", "split"], "--arch=split is invalid with --network"),
    ("validate", ["--time", "continuous"], "--time=continuous is invalid with --network"),
    ("predict", ["--rule", "hebbian"], "--rule=hebbian is invalid with --network"),
    ("predict", ["--init", "lambda-balanced"], "--init=lambda-balanced is invalid"),
    ("simulate", ["--depth", "3"], "--depth=3 is invalid with --network"),
    ("simulate", ["--train-objects", "0", "1"], "--train-objects"),
    ("validate", ["--claims"], "--claims=True is invalid with --network"),
    ("validate", ["--nonlinearity", "relu"], "--nonlinearity=relu is invalid"),
])
def test_modular_options_with_network_are_one_line_and_status_2(command, extra, message,
                                                               tmp_path, capsys):
    args = [command, "--network", *ROUTING, *extra]
    if command != "validate":
        args += ["--lr", "0.01", "--epochs", "2"]
    else:
        args += ["--out", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


@pytest.mark.parametrize("command", ["derive", "predict", "simulate", "validate"])
@pytest.mark.parametrize("extra,message", [
    (["--arch", "dense"], "--arch=dense is invalid with --network"),
    (["--depth", "2"], "--depth=2 is invalid with --network"),
    (["--config", "CONFIG"], "--depth=2 is invalid with --network"),
])
def test_arch_or_depth_with_network_is_refused_even_at_its_default(command, extra, message,
                                                                   tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text("[architecture]\ndepth = 2\n")
    args = [command, "--network", *ROUTING, *[str(config) if a == "CONFIG" else a
                                              for a in extra]]
    if command in ("predict", "simulate"):
        args += ["--lr", "0.01", "--epochs", "2"]
    elif command == "validate":
        args += ["--out", str(tmp_path / "out")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "drop one of them" in err and "\n" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args,message", [
    (["predict", "--network", ROUTING[0], "--lr", "0.1", "--epochs", "2"],
     "--network needs --dataset"),
    (["simulate", "--lr", "0.1", "--epochs", "2", "--start", "0.1"],
     "--start is invalid without --network"),
    (["predict", "--lr", "0.1", "--epochs", "2", "--start", "0.1"], "--start"),
    (["simulate", "--network", *ROUTING, "--lr", "0.1", "--epochs", "2", "--start", "0"],
     "--start: '0' is invalid"),
])
def test_bad_gated_use_is_one_line_and_status_2(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_a_network_without_training_needs_a_start_and_refuses_an_aligned_one_without_basis(
        failing, tmp_path, capsys):
    assert main(["predict", "--network", *failing, "--lr", "0.1", "--epochs", "2"]) == 2
    assert "needs --start" in capsys.readouterr().err
    assert main(["simulate", "--network", *failing, "--lr", "0.1", "--epochs", "2",
                 "--start", "0.1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--start needs the basis condition" in err and "\n" not in err


def test_a_run_in_pieces_is_the_one_run():
    """simulate and validate record long, many-seed runs in pieces that fit a memory
    budget: the pieces are the same gradient descent."""
    from modspec.numerics.gated_predict import gated_theory, run_record, stepped_run
    from modspec.numerics.gated_simulate import gated_initial_weights, gated_simulate

    conv = as_gated(architecture("split", 2), D0, hidden=4)
    theory = gated_theory(conv.network, conv.data)
    init = gated_initial_weights(conv.network, 0.1, seeds=3, seed=2)
    whole = run_record(theory, gated_simulate(conv.network, conv.data, 0.05, 23, init=init,
                                              keep_weights=True))

    def step(W, n):
        return gated_simulate(conv.network, conv.data, 0.05, n, init=W, keep_weights=True)

    run, record = stepped_run(theory, step, 23, init, budget_bytes=5 * 8 * 3 * 200)
    np.testing.assert_array_equal(record.t, np.arange(24))
    for group in ("modes", "quadrant_norms", "loss"):
        for k, v in getattr(whole, group).items():
            np.testing.assert_allclose(getattr(record, group)[k], v, rtol=1e-13, atol=1e-15)
    assert run.loss.shape == (3, 24)


def test_validate_from_a_random_start_judges_the_trained_end_points_and_zero_shot(tmp_path,
                                                                                 capsys):
    """Two pathways into y; the gate never trains V. From random weights the race describes
    no trajectory: the trained pathway's end point is judged, and V's zero-shot error against
    the derived matrix dynamics from each seed's start."""
    (tmp_path / "n.toml").write_text("[layers]\nx = 1\nh = 1\ny = 1\n[edges]\n"
                                     "V = ['x', 'y']\nW1 = ['x', 'h']\nW2 = ['h', 'y']\n"
                                     "[gates.item]\nV = [0]\n")
    (tmp_path / "d.toml").write_text("family = 'gated'\n[inputs]\nx = [[1]]\n"
                                     "[targets]\ny = [[2]]\n")
    out = tmp_path / "v"
    assert main(["validate", "--network", str(tmp_path / "n.toml"), "--dataset",
                 str(tmp_path / "d.toml"), "--lr", "0.1", "--epochs", "300", "--seeds", "2",
                 "--init-std", "0.1", "--out", str(out), "--no-figures"]) == 0
    assert "random start" in capsys.readouterr().out
    report = json.loads((out / "comparison.json").read_text())
    assert set(report["verdicts"]) == {"end point W1.W2", "zero-shot V"} and report["passed"]
    assert report["quadrant_norms"]["W1.W2"]["theory"] == pytest.approx(2.0, abs=1e-6)
    assert set(report["zero_shot"]) == {"V"}
    assert report["zero_shot"]["V"]["simulation"] > 1.0     # V stays near its small start
    assert report["zero_shot"]["V"]["theory"] == pytest.approx(
        report["zero_shot"]["V"]["simulation"], rel=1e-10)


def test_a_prediction_in_pieces_equals_the_whole(monkeypatch):
    from modspec.numerics import gated_predict as gp

    conv = as_gated(architecture("dense", 2), D0, hidden=4)
    theory = gp.gated_theory(conv.network, conv.data)
    whole = gp.gated_prediction(theory, 0.05, 40, 0.01)
    monkeypatch.setattr(gp, "BUDGET_BYTES", 8 * 200 * 7)      # a few epochs a piece
    pieces = gp.gated_prediction(theory, 0.05, 40, 0.01)
    for group in ("quadrant_norms", "loss"):
        for k, v in getattr(whole, group).items():
            np.testing.assert_allclose(getattr(pieces, group)[k], v, rtol=1e-13)


def test_a_dataset_without_the_networks_blocks_is_one_line(tmp_path, capsys):
    (tmp_path / "d.toml").write_text("family = 'compositional'\nnx = 3\nny = 1\nkx = 1\n"
                                     "ky = 1\n")
    for command in ("predict", "simulate"):
        assert main([command, "--network", ROUTING[0], "--dataset", str(tmp_path / "d.toml"),
                     "--lr", "0.1", "--epochs", "2"]) == 2
        err = capsys.readouterr().err.strip()
        assert "input layer='x0' is invalid: must be an input block of the compositional " \
               "dataset: Ox, Gx" in err and "\n" not in err


def test_simulate_with_pytorch_equals_numpy(failing, capsys):
    pytest.importorskip("torch")
    outs = []
    for backend in ("numpy", "torch"):
        assert main(["simulate", "--network", *failing, "--lr", "0.1", "--epochs", "30",
                     "--seeds", "3", "--init-std", "0.3", "--backend", backend,
                     "--device", "cpu"]) == 0
        outs.append(_json(capsys))
    for group in ("quadrant_norms", "loss"):
        for k, v in outs[0][group].items():
            np.testing.assert_allclose(outs[1][group][k], v, rtol=1e-10)
            np.testing.assert_allclose(outs[1]["std"][group][k], outs[0]["std"][group][k],
                                       rtol=1e-8, atol=1e-14)
