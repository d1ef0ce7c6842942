"""One run specification: the command line, a sweep's point and the claims' configuration
name the same run with equal RunSpecs, and simulate, train and validate run it alike."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from modspec.cli import build_parser, main
from modspec.commands.options import run_spec
from modspec.numerics.runspec import RunSpec, data_of
from modspec.numerics.simulate import simulate
from modspec.theory.architectures import architecture
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.defaults import D0, EPOCHS, HIDDEN, INIT_STD
from modspec.theory.errors import ModspecError
from modspec.theory.families import family_network, hierarchical
from modspec.validation.sweeps.grid import grid_points

pytest.importorskip("torch")

from modspec.validation.pipeline import validate, with_theory_checks  # noqa: E402
from modspec.validation.study.claims import ClaimsConfig  # noqa: E402
from modspec.validation.sweeps import run as sweeps  # noqa: E402
from modspec.validation.training import train  # noqa: E402

#: One run: dense depth 2 on D0, lr 0.02, 60 epochs, two seeds from seed 3, PyTorch on the CPU.
RUN = {"lr": 0.02, "epochs": 60, "seeds": 2, "seed": 3}
CLI = ["--lr", "0.02", "--epochs", "60", "--seeds", "2", "--seed", "3",
       "--backend", "torch", "--device", "cpu"]


def cli_spec(command: str, *options: str) -> RunSpec:
    return run_spec(build_parser().parse_args([command, *options]))


def point_spec(dataset: dict | None = None, **run) -> RunSpec:
    grid = {"dataset": dataset or {"family": "compositional", **D0},
            "run": {**RUN, "record_every": 1, "compute": ["train"], **run}}
    (point,) = grid_points(grid)
    return point.run_spec("train")


def claims_spec() -> RunSpec:
    return ClaimsConfig.of(seeds=2, seed=3, lr=0.02, epochs=60, device="cpu").run_spec("dense")


def test_cli_sweep_point_and_claims_config_name_the_same_run_with_equal_specs(tmp_path):
    specs = [cli_spec("simulate", *CLI), cli_spec("validate", *CLI, "--out", str(tmp_path)),
             point_spec(), claims_spec()]
    assert all(s == specs[0] for s in specs)
    assert len({hash(s) for s in specs}) == 1 and len({s.key for s in specs}) == 1
    assert specs[0].hidden == HIDDEN and specs[0].init_std == INIT_STD
    # a different run is a different spec: the comparison can fail
    assert cli_spec("simulate", *CLI[:-4]) != specs[0]            # the NumPy backend
    assert point_spec(lr=0.03) != specs[0]
    assert pickle.loads(pickle.dumps(specs[0])) == specs[0]


def test_cli_sweep_point_and_claims_config_give_the_same_numbers(capsys):
    spec = claims_spec()
    runs = [train(spec, progress=False), train(point_spec(), progress=False)]
    (point,) = grid_points({"dataset": {"family": "compositional", **D0},
                            "run": {**RUN, "compute": ["train"]}})
    runs.append(sweeps._train(point))
    assert main(["simulate", *CLI, "--quiet"]) == 0
    cli = json.loads(capsys.readouterr().out)
    for run in runs:
        for key, values in run.mean()["modes"].items():
            assert np.array_equal(values, runs[0].mean()["modes"][key])
            assert np.array_equal(cli["modes"][key], values)
    # the NumPy simulator runs the same spec to rounding error
    numpy_run = simulate(spec, progress=False)
    for key, values in numpy_run.mean()["modes"].items():
        np.testing.assert_allclose(values, runs[0].mean()["modes"][key], rtol=1e-9,
                                   atol=1e-12)


def test_claims_validate_the_spec_they_name():
    spec = ClaimsConfig.of(seeds=1, lr=0.02, epochs=300, device="cpu").run_spec("segregated")
    by_spec = validate(spec)
    by_keywords = validate(spec.dataset(), spec.network(), time="discrete", backend="torch",
                           device="cpu", lr=0.02, epochs=300, seeds=1)
    assert by_spec.comparison.as_dict() == by_keywords.comparison.as_dict()


def test_claims_config_holds_one_run_spec_and_keeps_its_flat_settings():
    """Run settings live in the config's RunSpec (checked there); claims.json lists the same
    flat keys, in the same order, as before the run was held as a RunSpec."""
    from modspec.validation.study.claims import RELU, quick

    config = ClaimsConfig.of(seeds=2, lr=0.02, heldout=(1,), device="cpu")
    assert config.run == RunSpec(seeds=2, lr=0.02, device="cpu", backend="torch")
    assert config.heldout == (1,) and config.linear and not RELU.linear
    assert list(config.as_dict()) == [
        "nonlinearity", "bias", "seeds", "seed", "hidden", "lr", "epochs", "init_std",
        "shallow_epochs", "deep_depth", "deep_lr", "deep_epochs", "deep_init_std", "heldout",
        "device", "dtype", "record_every", "time", "tolerances"]
    assert (RELU.run.epochs, RELU.run.record_every, RELU.run.nonlinearity) == (5000, 10, "relu")
    fast = quick(config)
    assert (fast.run.lr, fast.run.epochs, fast.deep_lr, fast.shallow_epochs) == \
        (0.08, EPOCHS // 4, 0.04, 200)
    with pytest.raises(ModspecError, match="seeds"):
        config.replace(seeds=0)


def test_validate_claims_takes_the_command_lines_run_and_keeps_its_own_lr(
        monkeypatch, run_cli, capsys, tmp_path):
    """``validate --claims``: seeds, width, start, device and time from the options; lr and
    epochs the claims' own unless given; ReLU starts from RELU."""
    from modspec.validation.study import claims

    seen = []

    class Report:
        passed = True

        def text(self) -> str:
            return "claims"

    def run_claims(ds, config, progress):
        seen.append(config)
        return Report()

    monkeypatch.setattr(claims, "run_claims", run_claims)
    monkeypatch.setattr(claims, "write_claims", lambda *args, **kw: None)
    for extra in ([], ["--lr", "0.02", "--nonlinearity", "relu"]):
        code, _, err = run_cli(capsys, "validate", "--claims", "--seeds", "2", "--seed", "4",
                               "--hidden", "7", "--device", "cpu", "--time", "continuous",
                               "--heldout", "1,3", "--no-figures", "--out",
                               str(tmp_path / str(len(extra))), *extra)
        assert code == 0, err
    plain, relu = seen
    assert plain.run == ClaimsConfig().run.replace(seeds=2, seed=4, hidden=7, device="cpu",
                                                   time="continuous")
    assert plain.heldout == (1, 3) and relu.heldout == (1, 3)
    assert (relu.run.lr, relu.run.epochs, relu.run.nonlinearity) == (0.02, 5000, "relu")


def test_theory_checks_make_a_new_comparison_and_leave_the_frozen_one_alone():
    spec = RunSpec(lr=0.02, epochs=300, seeds=1, backend="numpy", train_objects=(0, 1, 3, 4))
    result = validate(spec)
    before = dict(result.comparison.verdicts)
    checked = with_theory_checks(result)
    assert result.comparison.verdicts == before
    assert set(checked.comparison.verdicts) > set(before)
    assert "held-out error" in checked.comparison.verdicts


def test_simulate_takes_a_spec_or_its_arguments_alike():
    spec = RunSpec(arch="dense", lr=0.05, epochs=30, seeds=2, seed=5, record_every=7,
                   train_objects=(0, 2, 3, 5, 6), rule="hebbian", backend="numpy")
    by_spec = simulate(spec, progress=False)
    ds = CompositionalDataset(**D0)
    by_keywords = simulate(ds, architecture("dense"), lr=0.05, epochs=30, seeds=2, seed=5,
                           record_every=7, train_objects=[0, 2, 3, 5, 6], rule="hebbian",
                           progress=False)
    assert np.array_equal(by_spec.t, by_keywords.t)
    for key, values in by_keywords.modes.items():
        assert np.array_equal(by_spec.modes[key], values)
    shorter = simulate(spec, epochs=14, progress=False)      # a keyword overrides the spec
    assert shorter.t[-1] == 14


@pytest.mark.parametrize("spec, call, name", [
    (RunSpec(nonlinearity="relu", epochs=1), simulate, "nonlinearity"),
    (RunSpec(bias=True, epochs=1), simulate, "bias"),
    (RunSpec(dtype="float32", epochs=1), simulate, "dtype"),
])
def test_a_spec_a_producer_cannot_run_is_refused_naming_the_field(spec, call, name):
    with pytest.raises(ModspecError, match=f"^{name}="):
        call(spec)


def test_a_spec_is_given_alone():
    with pytest.raises(ModspecError, match="^network="):
        simulate(RunSpec(epochs=1), architecture("dense"))


@pytest.mark.parametrize("field, value", [
    ("lr", 0.0), ("lr", float("nan")), ("epochs", -1), ("epochs", 2.5), ("hidden", 0),
    ("seeds", 0), ("seed", -1), ("seed", 2**32), ("depth", 0), ("depth", 99),
    ("init_std", -1e-3), ("record_every", 0), ("arch", "wide"), ("init", "zeros"),
    ("time", "later"), ("backend", "jax"), ("device", "gpu"), ("dtype", "float16"),
    ("nonlinearity", "sigmoid"), ("bias", 1), ("a0", float("inf")), ("gamma", "x"),
    ("train_objects", (0, -2)),
])
def test_a_bad_value_is_one_error_naming_the_field(field, value):
    with pytest.raises(ModspecError, match=f"^{field}="):
        RunSpec(**{field: value})


def test_compositional_scales_are_stored_resolved():
    given_r = RunSpec(data={"nx": 2, "ny": 1, "kx": 1, "ky": 2, "r": 0.5})
    given_rx_ry = RunSpec(data={"family": "compositional", "nx": 2, "ny": 1, "kx": 1, "ky": 2,
                                "rx": 0.5, "ry": 0.5})
    from_object = RunSpec(data=CompositionalDataset(nx=2, ny=1, kx=1, ky=2, r=0.5))
    assert given_r == given_rx_ry == from_object
    assert given_r.dataset().params == CompositionalDataset(nx=2, ny=1, kx=1, ky=2,
                                                            r=0.5).params
    assert RunSpec().dataset().params == CompositionalDataset(**D0).params
    with pytest.raises(ModspecError, match="^r="):        # a bad scale named as given
        RunSpec(data={**D0, "r": -1.0}).dataset()
    chosen = CompositionalDataset(nx=3, ny=2, kx=1, ky=1, output_features=(2, 0))
    rebuilt = RunSpec(data=chosen).dataset()
    assert rebuilt.output_features == (2, 0) and np.array_equal(rebuilt.Y, chosen.Y)


def test_another_family_by_file_and_by_grid_is_one_spec_and_its_preset_wiring():
    table = {"family": "hierarchical", "levels": 2, "branching": 2, "features": 1, "r": 1.0}
    by_grid = point_spec(table, arch="split")
    assert by_grid.data == data_of(table) and by_grid.family == "hierarchical"
    ds = hierarchical(2, 2, 1, 1.0)
    assert RunSpec(data=ds, arch="split").data == by_grid.data
    assert by_grid.network() == family_network("split", ds, 2)
    assert RunSpec(arch="leaky", depth=3).network() == architecture("leaky", 3)
