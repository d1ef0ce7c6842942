"""A new dataset family is one module's worth of code plus one registry line, no product
change: the toy family below is added exactly as a user would add one (docs/architecture.md)
and runs through ``derive`` (numeric and symbolic), ``predict``, ``simulate``, ``validate``
and ``sweep``, whose rows equal ``derive`` + ``expect`` of the same point."""

from __future__ import annotations

import json
import math

import pytest

from modspec.theory import symbols as sy
from modspec.theory.declaration import DeclaredDataset, Features, Hypercube, Identity
from modspec.theory.families import Family, from_mapping, register, unregister


# ------------------------------------------------------------ the user's module: one family
def toy(n, r=1):
    """n binary features; inputs: the features and one identity copy of scale r; outputs:
    the first feature and one identity copy of scale r."""
    return DeclaredDataset(Hypercube(n), (("Ox", Features()), ("Gx", Identity(1, r))),
                           (("Oy", Features(count=1)), ("Gy", Identity(1, r))), "toy",
                           (("n", n), ("r", r)))


TOY = Family("toy", toy, ("n", "r"), required=("n",), symbols={"n": sy.nx, "r": sy.r},
             domain=lambda ds: ("nx >= 1", "nx <= 12", "r >= 0"))
# --------------------------------------------------------------------------------------


@pytest.fixture
def toy_family():
    register(TOY)          # the one registry line
    yield TOY
    unregister("toy")


def _file(tmp_path, n=3, r=1.0):
    path = tmp_path / "toy.toml"
    path.write_text(f'family = "toy"\nn = {n}\nr = {r}\n', encoding="utf-8")
    return str(path)


def test_the_toy_family_is_refused_until_registered(tmp_path, capsys, run_cli):
    code, _, err = run_cli(capsys, "derive", "--dataset", _file(tmp_path))
    assert code == 2 and "family" in err and "toy" in err and len(err.strip().splitlines()) == 1


def test_derive_of_the_toy_family_numeric_and_symbolic(tmp_path, capsys, run_cli, toy_family):
    path = _file(tmp_path)
    code, out, err = run_cli(capsys, "derive", "--dataset", path, "--format", "json",
                             "--no-cache")
    assert code == 0, err
    numeric = json.loads(out)
    assert numeric["dataset"] == {"family": "toy", "n": 3, "r": 1.0}
    # the same data as the compositional family (nx=3, ny=1, kx=ky=1): the same modes
    import modspec as ms
    from modspec.theory.architectures import architecture
    from modspec.theory.dataset import CompositionalDataset

    comp = ms.derive(CompositionalDataset(3, 1, 1, 1), architecture("dense"))
    th = ms.derive(from_mapping({"family": "toy", "n": 3}), architecture("dense"))
    assert sorted(float(m.s) for m in th.modes.values()) == pytest.approx(
        sorted(float(m.s) for m in comp.modes.values()))
    code, out, err = run_cli(capsys, "derive", "--symbolic", "--dataset", path, "--format",
                             "json", "--no-cache")
    assert code == 0, err
    symbolic = json.loads(out)
    assert symbolic["validity"]["domain"] == ["nx >= 1", "nx <= 12", "r >= 0"]
    assert symbolic["dataset"]["n"] == "nx"


@pytest.mark.parametrize("command", ["predict", "simulate"])
def test_predict_and_simulate_run_the_toy_family(tmp_path, capsys, run_cli, toy_family,
                                                  command):
    code, out, err = run_cli(capsys, command, "--dataset", _file(tmp_path), "--lr", "0.05",
                             "--epochs", "20")
    assert code == 0, err
    payload = json.loads(out)
    assert "Ox->Oy" in payload["quadrant_norms"] and payload["modes"]


def test_validate_runs_the_toy_family(tmp_path, capsys, run_cli, toy_family):
    code, out, err = run_cli(capsys, "validate", "--dataset", _file(tmp_path), "--epochs",
                             "100", "--out", str(tmp_path / "out"), "--no-figures")
    assert code == 0, err
    assert "checks passed" in out


def test_sweep_over_the_toy_family_gives_derive_and_expect(tmp_path, capsys, run_cli,
                                                          toy_family, expected_theory):
    from modspec.validation.sweeps.grid import grid_points, read_grid
    from modspec.validation.sweeps.store import read_rows

    grid = tmp_path / "grid.toml"
    grid.write_text('[dataset]\nfamily = "toy"\nn = [2, 3]\nr = 1.0\n[run]\nlr = 0.05\n'
                    'epochs = 40\nhidden = 8\ncompute = ["theory", "simulate"]\n',
                    encoding="utf-8")
    store = tmp_path / "s.jsonl"
    code, _, err = run_cli(capsys, "sweep", str(grid), "--out", str(store), "--workers", "0")
    assert code == 0, err
    rows = {r["key"]: r for r in read_rows(store)}
    points = grid_points(read_grid(grid))
    assert len(rows) == len(points) == 2
    for p in points:
        row = rows[p.key]
        assert row["family"] == "toy" and "nx" not in row
        _, e = expected_theory(p)
        for q in e.trajectory.quadrant_norms:
            assert row[f"theory.{q}"] == pytest.approx(e.trajectory.final("quadrant_norms", q),
                                                       rel=1e-9, abs=1e-12)
        assert math.isfinite(row["simulate.Ox->Oy"]) and row["simulate.Ox->Oy"] > 0


def test_symbolic_compile_of_the_toy_family_predicts_the_numeric_one(toy_family):
    import numpy as np

    import modspec as ms
    from modspec.theory.families import family_network, symbolic

    t = np.array([0.0, 20.0, 40.0])
    predictions = []
    for ds in (symbolic({"family": "toy", "n": 3}), from_mapping({"family": "toy", "n": 3})):
        predictor = ms.compile(ms.derive(ds, family_network("dense", ds)))
        values = {"nx": 3, "r": 1.0} if ds.is_symbolic else {}
        predictions.append(predictor(t, lr=0.05, a0=1e-3, **values).modes)
    assert predictions[0].keys() == predictions[1].keys() == {"pi1", "pi2", "pi3"}
    for key, curve in predictions[1].items():
        np.testing.assert_allclose(predictions[0][key], curve, rtol=1e-9)
