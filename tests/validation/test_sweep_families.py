"""Sweeps over every dataset family and learning rule: each row's theory columns are
``expect`` of the run the point describes (derive + expect, the house's one theory of a run);
a Dask client or LocalCluster object is taken; plot options are refused before any work."""

from __future__ import annotations

import math

import pytest

from modspec.validation.sweeps.grid import grid_points
from modspec.validation.sweeps.run import sweep
from modspec.validation.sweeps.store import read_rows


def _rows_equal_expect(tmp_path, tables, expected_theory, cli=None):
    """Sweep ``tables`` (in Python, or with ``cli = (run_cli, capsys, grid file)`` through
    ``modspec sweep``) and check every row's theory against the oracle."""
    store = tmp_path / "s.jsonl"
    if cli is None:
        result = sweep(tables, store, workers=0)
    else:
        run_cli, capsys, path = cli
        code, _, err = run_cli(capsys, "sweep", str(path), "--out", str(store), "--workers",
                               "0")
        assert code == 0, err
    rows = {r["key"]: r for r in read_rows(store)}
    points = grid_points(tables)
    assert len(points) == len(rows) and (cli is not None or result.computed == len(points))
    for p in points:
        row = rows[p.key]
        th, e = expected_theory(p)
        assert "theory.error" not in row, row.get("theory.error")
        checked = 0
        for group, label in (("quadrant_norms", ""), ("modes", ""), ("loss", "loss.")):
            for key in getattr(e.trajectory, group):
                want = e.trajectory.final(group, key)
                assert row[f"theory.{label}{key}"] == pytest.approx(want, rel=1e-9,
                                                                    abs=1e-12), (p, key)
                checked += 1
        assert checked >= 4
    return points, rows


def test_hierarchical_grid_rows_equal_derive_and_expect(tmp_path, expected_theory, run_cli,
                                                         capsys):
    from modspec.validation.sweeps.grid import read_grid

    path = tmp_path / "tree.toml"
    path.write_text('[dataset]\nfamily = "hierarchical"\nlevels = 3\nbranching = [2, 3]\n'
                    'r = [0.5, 1.0]\n[run]\nlr = 0.05\nepochs = 60\ncompute = ["theory"]\n')
    points, rows = _rows_equal_expect(tmp_path, read_grid(path), expected_theory,
                                      (run_cli, capsys, path))
    row = rows[points[0].key]
    assert row["family"] == "hierarchical" and row["branching"] == 2 and "nx" not in row
    th, _ = expected_theory(points[0])
    for q, v in th.converged["quadrant_norms"].items():
        assert row[f"theory.end.{q}"] == pytest.approx(float(v), rel=1e-9)


def test_parity_grid_sweeps_its_outputs_and_rows_equal_derive_and_expect(tmp_path,
                                                                          expected_theory):
    tables = {"dataset": {"family": "parity", "nx": 3, "outputs": [[[0], [0, 1]], [[1]]],
                          "kx": 1, "ky": [1, 2]},
              "run": {"lr": 0.05, "epochs": 60, "compute": ["theory"]}}
    points, rows = _rows_equal_expect(tmp_path, tables, expected_theory)
    assert len(points) == 4
    assert sorted(str(r["outputs"]) for r in rows.values()) == \
        ["[[0], [0, 1]]"] * 2 + ["[[1]]"] * 2
    assert any("theory.Gx->Py" in r for r in rows.values())


def test_rule_axis_rows_equal_derive_and_expect_under_each_rule(tmp_path, expected_theory):
    tables = {"dataset": {"nx": 3, "ny": 1, "kx": 1, "ky": 1},
              "run": {"lr": 0.05, "epochs": 60, "compute": ["theory"],
                      "rule": ["gradient-descent", "hebbian"]}}
    _, rows = _rows_equal_expect(tmp_path, tables, expected_theory)
    by = {r["rule"]: r for r in rows.values()}
    assert set(by) == {"gradient-descent", "hebbian"} and "nabla" not in by["hebbian"]
    # the rule changes the theory (the hebbian term moves pi2 away from gradient descent's)
    assert not math.isclose(by["hebbian"]["theory.pi2"], by["gradient-descent"]["theory.pi2"],
                            rel_tol=1e-6)
    # its coefficient is an axis too, here from a [rule] table as in a --config file
    del tables["run"]["rule"]
    tables["rule"] = {"name": "hebbian", "nabla": [1e-2]}
    _, more = _rows_equal_expect(tmp_path / "nabla", tables, expected_theory)
    (row,) = more.values()
    assert row["nabla"] == 1e-2 and not math.isclose(row["theory.pi2"],
                                                     by["hebbian"]["theory.pi2"], rel_tol=1e-6)


@pytest.mark.parametrize("tables, names", [
    ({"dataset": {"family": "tree"}}, ["dataset.family", "tree"]),
    ({"dataset": {"family": "hierarchical", "levels": 3, "nx": 3}}, ["dataset.nx"]),
    ({"dataset": {"family": "hierarchical", "levels": 3, "branching": [2, 1]}},
     ["branching", "grid point"]),
    ({"run": {"rule": "oja"}}, ["run.rule", "oja"]),
    ({"rule": {"name": "hebbian", "eta": 1}}, ["rule.eta", "name, gamma, nabla"]),
    ({"rule": {"name": "hebbian"}, "run": {"rule": "hebbian"}}, ["rule.name", "once"]),
    ({"dataset": {"family": "hierarchical", "levels": 3,
                  "branching": "__import__('os').getcwd()"}}, ["branching"]),
    ({"run": {"rule": "hebbian", "arch": "segregated"}}, ["rule", "dense"]),
])
def test_bad_family_or_rule_is_one_line_before_any_work(tmp_path, tables, names):
    g = {"dataset": tables.get("dataset", {}),
         "run": {"lr": 0.05, "epochs": 10, "compute": ["theory"], **tables.get("run", {})}}
    if "rule" in tables:
        g["rule"] = tables["rule"]
    with pytest.raises(Exception) as info:
        sweep(g, tmp_path / "s.jsonl", workers=0)
    message = str(info.value)
    assert "\n" not in message and all(n in message for n in names), message
    assert not (tmp_path / "s.jsonl").exists()


def test_plot_options_are_refused_before_any_point(tmp_path, run_cli, capsys):
    (tmp_path / "g.toml").write_text('[dataset]\nkx = [1, 2]\n[run]\nlr = 0.05\n'
                                     'epochs = 10\ncompute = ["theory"]\n')
    store = tmp_path / "s.jsonl"
    for flags, word in ((["--x", "levels", "--value", "Gx->Oy"], "--x"),
                        (["--x", "kx", "--y", "nope", "--value", "Gx->Oy"], "--y"),
                        (["--x", "kx", "--value", "Gx->0y"], "--value")):
        code, _, err = run_cli(capsys, "sweep", str(tmp_path / "g.toml"), "--out",
                               str(store), "--workers", "0", "--plot",
                               str(tmp_path / "f.png"), *flags)
        assert code == 2 and word in err and len(err.strip().splitlines()) == 1, err
        assert not store.exists()


def test_a_local_cluster_object_or_its_client_gives_the_local_rows(tmp_path):
    distributed = pytest.importorskip("distributed")
    tables = {"dataset": {"kx": [1, 3]},
              "run": {"lr": 0.05, "epochs": 30, "seeds": 2, "compute": ["theory", "simulate"]}}
    sweep(tables, tmp_path / "local.jsonl", workers=0)
    local = {r["key"]: r for r in read_rows(tmp_path / "local.jsonl")}
    # in-process workers over Dask's in-process transport: nothing listens on a network
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address="127.0.0.1:0") as cluster:
        sweep(tables, tmp_path / "cluster.jsonl", client=cluster)
        with distributed.Client(cluster) as client:
            sweep(tables, tmp_path / "client.jsonl", client=client)
            assert client.status == "running"          # the user's client is left open
    for name in ("cluster", "client"):
        assert {r["key"]: r for r in read_rows(tmp_path / f"{name}.jsonl")} == local
    with pytest.raises(Exception, match="client"):
        sweep(tables, tmp_path / "x.jsonl", client="tcp://127.0.0.1:1")


def test_a_family_point_on_a_subset_of_objects_simulates_and_has_its_subsets_end(tmp_path):
    """A family without a compositional split (no held-out compositional error): the row
    has the subset's converged map and the simulated observables, no error."""
    tables = {"dataset": {"family": "hierarchical", "levels": 3, "branching": 2},
              "run": {"lr": 0.05, "epochs": 20, "train_objects": 3,
                      "compute": ["theory", "simulate"]}}
    sweep(tables, tmp_path / "s.jsonl", workers=0)
    (row,) = read_rows(tmp_path / "s.jsonl")
    assert not any(k.endswith(".error") for k in row), row
    assert row["theory.end.items->level0"] > 0 and row["simulate.items->level0"] > 0
