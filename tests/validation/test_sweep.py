"""Sweeps: the grid is checked whole, rows equal direct runs, a killed sweep resumes exactly,
a Dask cluster gives the local rows, phase diagrams are drawn."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import modspec as ms
from modspec.numerics.expectation import expected_a0
from modspec.theory.errors import ModspecError
from modspec.validation.sweeps.grid import grid_points
from modspec.validation.sweeps.run import bundles, run_bundle, sweep
from modspec.validation.sweeps.store import (
    StoreWarning,
    grid_key,
    header,
    open_store,
    read_rows,
)

QUADRANTS = ("Ox->Oy", "Gx->Oy", "Ox->Gy", "Gx->Gy")


def grid(dataset=None, **run):
    return {"dataset": {"family": "compositional", **(dataset or {})},
            "run": {"lr": 0.05, "epochs": 60, "seeds": 2, "compute": ["theory"], **run}}


# ------------------------------------------------------------------------------ grid
def test_grid_is_the_product_of_the_listed_values_last_key_fastest():
    points = grid_points(grid({"kx": [0, 2], "r": [0.5, 1.0, 2.0]}, arch=["dense", "split"]))
    assert len(points) == 12
    assert [(p.kx, p.rx, p.arch) for p in points[:3]] == [
        (0, 0.5, "dense"), (0, 0.5, "split"), (0, 1.0, "dense")]
    assert len({p.key for p in points}) == 12
    assert all(p.rx == p.ry for p in points)


@pytest.mark.parametrize("bad_grid, names", [
    (grid({"kz": 1}), "dataset.kz"),
    (grid({"kx": []}), "dataset.kx"),
    (grid(compute=["theory", "fly"]), "run.compute"),
    (grid({"family": "cmnist"}), "dataset.family"),
    (grid(lr=[0.1, -1.0]), "run.lr"),
    (grid(epochs=2.5), "run.epochs"),
    (grid({"nx": 2, "ny": [1, 3]}), "ny=3"),
])
def test_bad_grid_is_one_error_naming_the_parameter(bad_grid, names):
    with pytest.raises(ModspecError) as info:
        grid_points(bad_grid)
    message = str(info.value)
    assert names in message and "\n" not in message


def test_invalid_point_inside_a_valid_grid_is_refused_before_any_work(tmp_path, run_cli,
                                                                      capsys):
    (tmp_path / "g.toml").write_text('[dataset]\nnx = [3, 2]\nny = [1, 3]\n'
                                     '[run]\nlr = 0.1\nepochs = 5\ncompute = ["simulate"]\n')
    code, out, err = run_cli(capsys, "sweep", str(tmp_path / "g.toml"),
                             "--out", str(tmp_path / "s.jsonl"), "--workers", "0")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "ny=3" in err and "nx=3, ny=3" not in err
    assert "at the grid point nx=2, ny=3" in err
    assert not (tmp_path / "s.jsonl").exists()


def test_unreachable_scheduler_is_one_line_and_status_2(tmp_path, run_cli, capsys):
    (tmp_path / "g.toml").write_text('[run]\nlr = 0.1\nepochs = 5\ncompute = ["theory"]\n')
    code, _, err = run_cli(capsys, "sweep", str(tmp_path / "g.toml"), "--out",
                           str(tmp_path / "s.jsonl"), "--scheduler", "tcp://127.0.0.1:9")
    assert code == 2 and err.count("\n") == 1 and "--scheduler" in err


def test_expected_a0_is_the_mean_effective_start_of_random_weights():
    from modspec.numerics.flow import layout
    from modspec.numerics.simulate import effective_a0, initial_weights

    d0, net = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1), ms.architectures.dense(2)
    a0 = effective_a0(layout(d0, net, 50), initial_weights(d0, net, 50, 2e-3, 400, 1))
    for key, values in a0.items():
        assert np.mean(values) == pytest.approx(expected_a0(2, 50, 2e-3), rel=0.05), key


# ------------------------------------------------------------------------ rows
def test_deep_points_start_their_theory_from_the_seeded_weights_effective_starts():
    """Depth 3 from init std 1e-2 (the depth-3 case of `modspec validate`): the theory's
    half-rise epochs, started from the seeded weights' effective starts, are within 5 % of
    the simulated ones; the balanced expected start alone is 10 % or more early."""
    points = grid_points(grid({"kx": 3}, depth=3, lr=0.005, epochs=3000, init_std=1e-2,
                              seeds=3, compute=["theory", "simulate"], record_every=10))
    (row,) = run_bundle(points)
    for key in ("pi1", "pi2", "pi3"):
        theory, measured = row[f"theory.half_rise.{key}"], row[f"simulate.half_rise.{key}"]
        assert abs(measured - theory) <= 0.05 * theory, key
    from modspec.theory import symbols as sy

    p = points[0]
    th = ms.derive(p.dataset(), p.network())
    balanced = float(th.half_rise_times["pi1"].subs(
        {sy.tau: 1 / (2.0**p.nx * p.lr), sy.a0: expected_a0(3, p.hidden, p.init_std)}))
    assert row["simulate.half_rise.pi1"] > 1.1 * balanced


def test_theory_rows_equal_direct_derive_and_expect(expected_theory):
    """Batched (symbolic family) and one-by-one (degenerate, coupled) points alike: the row is
    ``expect`` of the run the point describes (its seeded weights, expected starts)."""
    points = grid_points(grid({"nx": 3, "ny": [1, 3], "kx": [0, 2], "r": [0.5, 1.5]},
                              arch=["dense", "segregated", "leaky"], epochs=40))
    sample = [points[i] for i in (0, 3, 5, 6, 9, 12, 15, 17, 20, 23)]
    rows = run_bundle(sample)
    for p, row in zip(sample, rows, strict=True):
        th, e = expected_theory(p)
        for q in QUADRANTS:
            assert row[f"theory.{q}"] == pytest.approx(e.trajectory.final("quadrant_norms", q),
                                                       rel=1e-9, abs=1e-12), (p, q)
            assert row[f"theory.end.{q}"] == pytest.approx(
                float(th.converged["quadrant_norms"][q]), rel=1e-9, abs=1e-12), (p, q)
        for key in e.trajectory.modes:
            assert row[f"theory.{key}"] == pytest.approx(e.trajectory.final("modes", key),
                                                         rel=1e-9, abs=1e-12)


def test_simulation_rows_equal_direct_simulate_mean_and_std_over_seeds():
    points = grid_points(grid({"kx": [1, 3]}, arch=["dense", "split"], seeds=3, seed=7,
                              compute=["simulate"], record_every=5))
    rows = run_bundle(points)
    for p, row in zip(points, rows, strict=True):
        run = ms.simulate(p.dataset(), p.network(), lr=p.lr, epochs=p.epochs, seeds=3, seed=7)
        for q in QUADRANTS:
            values = run.quadrant_norms[q][:, -1]
            assert row[f"simulate.{q}"] == pytest.approx(values.mean(), rel=1e-12)
            assert row[f"simulate.{q}.std"] == pytest.approx(values.std(), rel=1e-9,
                                                             abs=1e-15)
        assert "theory.Gx->Oy" not in row


def test_held_out_points_carry_the_held_out_error_of_theory_and_simulation():
    points = grid_points(grid(train_objects=[4, 8], compute=["theory", "simulate"],
                              epochs=400, lr=0.1))
    rows = run_bundle(points)
    few, all_ = rows
    assert few["simulate.heldout"] > 0 and "simulate.heldout" not in all_
    assert few["theory.heldout"] == pytest.approx(few["simulate.heldout"], rel=0.05)


# ------------------------------------------------------------------------- store
def test_store_loads_in_one_line_with_parameter_and_result_columns(tmp_path):
    out = tmp_path / "s.jsonl"
    result = sweep(grid({"kx": [1, 2, 3]}, compute=["theory", "simulate"]), out, workers=0)
    assert (result.points, result.computed, result.skipped) == (3, 3, 0)
    import pandas as pd

    first, *lines = out.read_text().splitlines()
    assert json.loads(first) == header(grid_key()) and len(lines) == 3
    df = ms.load_sweep(out)
    assert len(df) == 3 and sorted(df["kx"]) == [1, 2, 3]
    for column in ("nx", "rx", "arch", "theory.Gx->Oy", "simulate.Gx->Oy",
                   "simulate.Gx->Oy.std", "theory.half_rise.pi1", "simulate.half_rise.pi1"):
        assert column in df.columns, column
    assert df.equals(pd.DataFrame([json.loads(line) for line in lines]))
    again = sweep(grid({"kx": [1, 2, 3, 4]}, compute=["theory", "simulate"]), out, workers=0)
    assert (again.computed, again.skipped) == (1, 3)
    assert len(read_rows(out)) == 4


def test_a_row_cut_short_is_dropped_and_no_key_is_written_twice(tmp_path):
    out = tmp_path / "s.jsonl"
    rows = run_bundle(grid_points(grid({"kx": [1, 2]})))
    out.write_text(json.dumps(header(grid_key())) + "\n" + json.dumps(rows[0]) + "\n"
                   + json.dumps(rows[1])[:25])
    assert [r["key"] for r in read_rows(out)] == [rows[0]["key"]]
    with open_store(out) as store:
        store.append(rows[0])
        store.append(rows[1])
        store.append(rows[1])
    assert [r["key"] for r in read_rows(out)] == [rows[0]["key"], rows[1]["key"]]
    assert out.read_bytes().endswith(b"\n")


def test_killed_sweep_resumes_with_exactly_one_row_per_point(tmp_path):
    (tmp_path / "g.toml").write_text(
        '[dataset]\nkx = [1, 2, 3, 4]\nr = [0.5, 1.0, 1.5, 2.0]\n'
        '[run]\nlr = 0.05\nepochs = 300\nseeds = 4\nhidden = 40\n'
        'compute = ["simulate"]\n')
    out = tmp_path / "s.jsonl"
    command = [sys.executable, "-m", "modspec", "sweep", str(tmp_path / "g.toml"),
               "--out", str(out), "--workers", "0"]
    proc = subprocess.Popen(command, stderr=subprocess.DEVNULL, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(read_rows(out)) == 0:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    before = len(read_rows(out))
    assert 0 < before < 16, before
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"{16 - before} computed, {before} already" in result.stderr
    keys = [r["key"] for r in read_rows(out)]
    assert len(keys) == 16 and len(set(keys)) == 16


# ---------------------------------------------------------------------- executors
def test_bundles_hold_one_network_and_cover_every_point_once():
    points = grid_points(grid({"kx": [1, 2, 3]}, arch=["dense", "split"], epochs=[5, 9]))
    work = bundles(points, workers=2)
    assert sorted(p.key for b in work for p in b) == sorted(p.key for p in points)
    assert all(len({(p.arch, p.epochs) for p in b}) == 1 for b in work)


def test_local_pool_gives_the_rows_of_the_in_process_run(tmp_path):
    # one point per network: a bundle each, so each spawned worker derives (about) one
    # network's family rather than both (the worker's start and derivation are the cost)
    g = grid({"kx": 3}, arch=["dense", "segregated"], compute=["theory", "simulate"])
    sweep(g, tmp_path / "a.jsonl", workers=0)
    sweep(g, tmp_path / "b.jsonl", workers=2)
    a = {r["key"]: r for r in read_rows(tmp_path / "a.jsonl")}
    b = {r["key"]: r for r in read_rows(tmp_path / "b.jsonl")}
    assert a == b and len(a) == 2


@contextlib.contextmanager
def dask_processes(tmp_path, workers=2, nanny=True):
    """A real Dask cluster: a ``dask scheduler`` and ``workers`` ``dask worker`` processes on
    127.0.0.1 (``nanny=False``: a killed worker is not restarted). Yields the scheduler's
    address and the worker processes; everything is torn down at the end."""
    pytest.importorskip("distributed")
    bindir = Path(sys.executable).parent
    info = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([str(bindir / "dask"), "scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(info)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        for _ in range(workers):
            procs.append(subprocess.Popen(
                [str(bindir / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1",
                 *([] if nanny else ["--no-nanny"]), "--host", "127.0.0.1", "--no-dashboard"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(workers, timeout=90)
        yield address, procs[1:]
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def dask_cluster(tmp_path):
    """A real Dask cluster with two workers (:func:`dask_processes`, without nannies: half
    the processes to start on a busy machine); its address."""
    with dask_processes(tmp_path, nanny=False) as (address, _):
        yield address


def test_dask_cluster_gives_the_rows_of_the_local_run(tmp_path, dask_cluster, run_cli, capsys):
    (tmp_path / "g.toml").write_text(
        '[dataset]\nkx = 3\nr = [0.5, 1.0]\n'
        '[run]\narch = ["dense", "segregated"]\nlr = 0.05\nepochs = 50\nseeds = 2\n'
        'compute = ["theory", "simulate"]\n')
    code, _, err = run_cli(capsys, "sweep", str(tmp_path / "g.toml"), "--out",
                           str(tmp_path / "dask.jsonl"), "--scheduler", dask_cluster)
    assert code == 0, err
    code, _, err = run_cli(capsys, "sweep", str(tmp_path / "g.toml"), "--out",
                           str(tmp_path / "local.jsonl"), "--workers", "0")
    assert code == 0, err
    remote = {r["key"]: r for r in read_rows(tmp_path / "dask.jsonl")}
    local = {r["key"]: r for r in read_rows(tmp_path / "local.jsonl")}
    assert len(remote) == 4 and remote == local


# -------------------------------------------------------------------------- plots
def test_phase_diagrams_are_written_as_png_and_pdf(tmp_path, run_cli, capsys):
    (tmp_path / "g.toml").write_text(
        '[dataset]\nkx = [1, 2, 3]\nr = [0.5, 1.0]\n'
        '[run]\nlr = 0.05\nepochs = 40\nseeds = 2\ncompute = ["theory", "simulate"]\n')
    store = tmp_path / "s.jsonl"
    code, _, err = run_cli(capsys, "sweep", str(tmp_path / "g.toml"), "--out", str(store),
                           "--workers", "0", "--plot", str(tmp_path / "curve.png"),
                           "--x", "kx", "--value", "Gx->Oy")
    assert code == 0, err
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = ms.validation.sweeps.plot(store, "kx", "Gx->Oy", y="rx", out=tmp_path / "map.pdf")
    assert (tmp_path / "map.pdf").read_bytes()[:5] == b"%PDF-"
    assert len(fig.axes) == 2                      # the surface and its colour bar
    curves = ms.validation.sweeps.plot(store, "kx", "Gx->Oy")
    assert len(curves.axes[0].lines) >= 2          # one theory line per r
    with pytest.raises(ModspecError, match="--value"):
        ms.validation.sweeps.plot(store, "kx", "Gx->Zz")


@pytest.fixture(scope="module")
def two_archs(tmp_path_factory):
    """kx × r × (dense, segregated): r sets rx and ry, which move together."""
    store = tmp_path_factory.mktemp("two") / "s.jsonl"
    sweep(grid({"kx": [1, 2, 3], "r": [0.5, 1.0, 2.0]}, arch=["dense", "segregated"],
               epochs=40, compute=["theory", "simulate"]), store, workers=0)
    return ms.load_sweep(store)


def test_a_surface_never_averages_architectures(two_archs):
    # was: one surface of pivot_table(aggfunc="mean"), dense and segregated averaged
    # (0.25 where dense is 0.49)
    from matplotlib.collections import QuadMesh

    fig = ms.validation.sweeps.plot(two_archs, "kx", "Gx->Oy", y="rx")
    panels = [ax for ax in fig.axes if ax.collections and isinstance(ax.collections[0],
                                                                      QuadMesh)]
    assert [ax.get_title().splitlines()[0] for ax in panels] == ["arch=dense",
                                                                  "arch=segregated"]
    for ax, arch in zip(panels, ("dense", "segregated"), strict=True):
        drawn = np.sort(np.asarray(ax.collections[0].get_array(), dtype=float).ravel())
        rows = np.sort(two_archs[two_archs.arch == arch]["theory.Gx->Oy"].to_numpy())
        np.testing.assert_array_equal(drawn, rows)
    assert panels[0].get_ylabel() == "rx (ry with it)"


def test_curves_colour_and_facet_every_varied_parameter_once(two_archs):
    # ry moves with rx: no curve per ry (each was a single point, 48 legend entries)
    fig = ms.validation.sweeps.plot(two_archs, "rx", "half_rise.pi1")
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == ["arch=dense", "arch=segregated"]
    assert shown[0].get_xlabel() == "rx (ry with it)"
    legend = [t.get_text() for t in shown[0].get_legend().get_texts()]
    assert legend == ["theory", "simulate (± std)", "kx=1", "kx=2", "kx=3"]
    # the theory is a smooth curve through the stored points, not only at them
    smooth = [line for line in shown[0].lines if line.get_linestyle() == "-"]
    assert len(smooth) == 3
    for line, kx in zip(smooth, (1, 2, 3), strict=True):
        xs, ys = line.get_data()
        assert len(xs) > 60
        rows = two_archs[(two_archs.arch == "dense") & (two_archs.kx == kx)].sort_values("rx")
        np.testing.assert_allclose(np.interp(rows.rx, xs, ys), rows["theory.half_rise.pi1"],
                                   rtol=1e-9)


def test_a_value_keeps_its_colour_in_every_panel(two_archs):
    part = two_archs[~((two_archs.arch == "segregated") & (two_archs.kx == 1))]
    fig = ms.validation.sweeps.plot(part, "rx", "Gx->Oy")
    dense, segregated = ([line.get_color() for line in ax.lines if line.get_linestyle() == "-"]
                         for ax in fig.axes[:2])
    assert len(dense) == 3 and segregated == dense[1:]      # kx = 2, 3 in both panels


def test_theory_over_an_integer_parameter_is_marked_as_grid_points(two_archs):
    fig = ms.validation.sweeps.plot(two_archs, "kx", "Gx->Oy")
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 2                              # a panel per architecture
    legend = [t.get_text() for t in shown[0].get_legend().get_texts()]
    assert legend[0] == "theory (at the grid points)"
    assert legend[2:] == ["rx=0.5 (ry=0.5)", "rx=1.0 (ry=1.0)", "rx=2.0 (ry=2.0)"]
    assert not any(line.get_linestyle() == "-" for line in shown[0].lines)


def test_a_figure_that_would_average_or_crowd_is_refused_in_one_line(two_archs):
    from modspec.validation.sweeps import diagram as sweep_plot

    crowded = two_archs.assign(seed=np.arange(len(two_archs)) % 13)   # 13 seeds per curve
    with pytest.raises(ModspecError) as err:
        ms.validation.sweeps.plot(crowded, "kx", "Gx->Oy", y="rx")
    assert "\n" not in str(err.value) and "never averages" in str(err.value)
    doubled = pd_concat(two_archs)           # the same rows twice: drawn once, with a warning
    with pytest.warns(StoreWarning, match="duplicate"):
        ms.validation.sweeps.plot(doubled, "kx", "Gx->Oy", y="rx")
    other = doubled.assign(key=[f"k{i}" for i in range(len(doubled))])  # one point, two keys
    with pytest.raises(ModspecError, match="several rows at one point"):
        ms.validation.sweeps.plot(other, "kx", "Gx->Oy", y="rx")
    assert sweep_plot.MAX_PANELS < 13


def pd_concat(df):
    import pandas as pd

    return pd.concat([df, df], ignore_index=True)


def test_a_diverging_point_stores_its_reason_and_the_sweep_goes_on(tmp_path):
    result = sweep(grid({"kx": 3}, lr=[0.05, 5.0], compute=["theory", "simulate"]),
                   tmp_path / "s.jsonl", workers=0)
    assert result.computed == 2
    rows = {r["lr"]: r for r in read_rows(tmp_path / "s.jsonl")}
    assert "simulate.error" not in rows[0.05] and rows[0.05]["simulate.Gx->Oy"] > 0
    assert "diverge" in rows[5.0]["simulate.error"].lower()
    assert "theory.error" in rows[5.0] and "theory.error" not in rows[0.05]


def test_training_points_equal_the_simulated_ones_in_float64(tmp_path):
    """``compute = ["train"]`` trains with PyTorch (float64, CPU) from the same seeded start as
    the NumPy simulator: every recorded end point agrees to 1e-8."""
    pytest.importorskip("torch")
    (tmp_path / "g.toml").write_text(
        '[dataset]\nnx = 3\nny = 1\nkx = 3\nky = 1\nr = 1.0\n'
        '[run]\narch = ["dense", "split"]\nlr = 0.05\nepochs = 120\nseeds = 2\n'
        'compute = ["simulate", "train"]\n')
    sweep(tmp_path / "g.toml", tmp_path / "s.jsonl", workers=0)
    df = ms.load_sweep(tmp_path / "s.jsonl")
    assert len(df) == 2
    columns = [c for c in df.columns if c.startswith("train.") and not c.endswith(".error")]
    assert any(c.endswith("Gx->Oy") for c in columns)
    for column in columns:
        twin = "simulate." + column.removeprefix("train.")
        np.testing.assert_allclose(df[column], df[twin], atol=1e-8, err_msg=column)


def test_a_cluster_that_loses_every_worker_stops_the_sweep_in_one_line(tmp_path, run_cli,
                                                                       capsys, monkeypatch):
    """A worker killed mid-sweep (no nanny to restart it) leaves the scheduler with none: the
    driver says so in one line after NO_WORKERS_S instead of waiting silently for ever."""
    pytest.importorskip("distributed")
    import threading

    from modspec.validation.sweeps import cluster

    monkeypatch.setattr(cluster, "NO_WORKERS_S", 2.0)
    with dask_processes(tmp_path, workers=1, nanny=False) as (address, (worker,)):
        (tmp_path / "g.toml").write_text(
            '[dataset]\nkx = [1, 2, 3]\n[run]\nlr = 0.01\nepochs = 2000000\nseeds = 1\n'
            'hidden = 8\ncompute = ["simulate"]\n')
        threading.Timer(4.0, worker.kill).start()     # mid-sweep: every bundle is long
        started = time.monotonic()
        code, out, err = run_cli(capsys, "sweep", str(tmp_path / "g.toml"), "--out",
                                 str(tmp_path / "s.jsonl"), "--scheduler", address)
        assert code == 2, err
        last = err.strip().splitlines()[-1]          # after the progress bar: one line
        assert last.startswith("modspec sweep: error: --scheduler") and "no workers" in last
        assert err.count("error") == 1 and "Traceback" not in err
        assert time.monotonic() - started < 60
