"""Tidy sweep data (plain column names, shell-safe observable aliases, Parquet/CSV), figure
helpers that draw on the caller's axes and return the Figure, and no pyplot state."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import modspec as ms
from modspec.numerics.record import Trajectory
from modspec.theory.errors import ModspecError
from modspec.validation import figures
from modspec.validation.sweeps.diagram import phase_diagram
from modspec.validation.sweeps.run import sweep
from modspec.validation.sweeps.store import alias, export_sweep, observable_name, tidy_sweep


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("tidy") / "s.jsonl"
    sweep({"dataset": {"family": "compositional", "kx": [1, 2]},
           "run": {"lr": 0.05, "epochs": 40, "seeds": 2, "arch": ["dense", "segregated"],
                   "compute": ["theory", "simulate"]}}, out, workers=0)
    return out


def test_tidy_store_has_plain_columns_and_one_row_per_point_kind_and_result(store):
    wide = ms.load_sweep(store)
    long = ms.load_sweep(store, tidy=True)
    for column in ("kx", "arch", "kind", "quantity", "observable", "alias", "value", "std"):
        assert column in long.columns
    assert all("." not in c and "->" not in c for c in long.columns)
    assert set(long["kind"]) == {"theory", "simulate"}
    assert {"quadrant_norm", "mode", "loss", "half_rise"} <= set(long["quantity"])
    # every wide value is one long row, and back
    for _, row in wide.iterrows():
        for kind in ("theory", "simulate"):
            sel = long[(long["key"] == row["key"]) & (long["kind"] == kind)
                       & (long["quantity"] == "quadrant_norm")
                       & (long["observable"] == "Gx->Oy")]
            assert len(sel) == 1 and sel["value"].iloc[0] == row[f"{kind}.Gx->Oy"]
    sim = long[(long["kind"] == "simulate") & (long["quantity"] == "quadrant_norm")]
    assert np.allclose(sim["std"], [wide.loc[wide["key"] == k, f"simulate.{o}.std"].iloc[0]
                                    for k, o in zip(sim["key"], sim["observable"],
                                                    strict=True)])
    assert long[long["kind"] == "theory"]["std"].isna().all()
    half = long[(long["quantity"] == "half_rise") & (long["kind"] == "theory")]
    assert half["observable"].str.contains("pi").all()     # A:pi1 of a segregated module
    assert set(half["observable"]) == set(long[long["quantity"] == "mode"]["observable"])
    n_values = sum(wide[c].notna().sum() for c in wide.columns
                   if c.startswith(("theory.", "simulate.")) and not c.endswith(".std"))
    assert len(long) == n_values
    assert tidy_sweep(wide.iloc[:0]).empty


def test_shell_safe_aliases_name_the_same_observable(store):
    assert alias("Gx->Oy") == "Gx_Oy" and alias("pi1") == "pi1"
    names = ["Gx->Oy", "Ox->Oy", "pi1"]
    assert observable_name("Gx_Oy", names) == "Gx->Oy"
    assert observable_name("Gx->Oy", names) == "Gx->Oy"
    assert observable_name("nothing", names) == "nothing"
    df = ms.load_sweep(store)
    a = phase_diagram(df[df["arch"] == "dense"], "kx", "Gx_Oy")
    b = phase_diagram(df[df["arch"] == "dense"], "kx", "Gx->Oy")
    assert [line.get_ydata().tolist() for line in a.axes[0].lines] == \
        [line.get_ydata().tolist() for line in b.axes[0].lines]


def test_tidy_export_as_csv_and_parquet(store, tmp_path):
    import pandas as pd

    csv = export_sweep(store, tmp_path / "s.csv")
    back = pd.read_csv(csv)
    assert len(back) == len(ms.load_sweep(store, tidy=True))
    with pytest.raises(ModspecError, match="out"):
        export_sweep(store, tmp_path / "s.xlsx")
    pytest.importorskip("pyarrow")
    pq = export_sweep(store, tmp_path / "s.parquet")
    table = pd.read_parquet(pq)
    assert list(table.columns) == list(back.columns) and len(table) == len(back)


def _run(seeds=2, T=5):
    t = np.arange(T, dtype=float)
    curve = np.tile(1 - np.exp(-t / 2), (seeds, 1))
    return Trajectory(t=t, modes={"pi1": curve}, quadrant_norms={"Gx->Oy": curve},
                      loss={"total": 1 - curve}, lr=0.1)


def test_figure_helpers_draw_on_the_callers_axes_and_return_the_figure(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    assert figures.modes_figure(None, _run(), ax=ax) is fig
    assert len(ax.lines) == 1
    own = figures.losses_figure(None, _run(), str(tmp_path / "l.png"))
    assert isinstance(own, Figure) and (tmp_path / "l.png").stat().st_size > 0
    two = Figure()
    left, right = two.subplots(1, 2)
    assert figures.theories_figure([("t", _run(1))], _run(), ax=[left, right]) is two
    assert left.lines and right.lines
    with pytest.raises(ValueError, match="axes"):
        figures.theories_figure([("t", _run(1))], _run(), ax=left)
    paths = figures.save_png_pdf(own, tmp_path / "both.png")
    assert [p[-4:] for p in paths] == [".png", ".pdf"]
    assert (tmp_path / "both.pdf").read_bytes().startswith(b"%PDF")


def test_phase_diagram_draws_on_given_axes(store):
    from matplotlib.figure import Figure

    df = ms.load_sweep(store)
    fig = Figure()
    ax = fig.subplots()
    assert phase_diagram(df, "kx", "Gx->Oy", ax=ax) is fig        # arch as colours
    assert len(ax.lines) >= 2 and ax.get_legend() is not None
    spare = Figure().subplots(1, 2)
    phase_diagram(df, "kx", "Gx->Oy", ax=spare)
    assert spare[0].lines and not spare[1].get_visible()          # unused axes hidden
    with pytest.raises(ModspecError, match="ax"):
        phase_diagram(df, "kx", "Gx->Oy", ax=[])


def test_library_never_switches_the_backend_or_touches_pyplot():
    code = ("import sys, numpy as np\n"
            "import modspec.validation.figures as f, modspec.validation.sweeps.diagram, "
            "modspec.validation.study.run, modspec.validation.pipeline\n"
            "from modspec.numerics.record import Trajectory\n"
            "t = np.arange(3.0); c = np.ones((1, 3))\n"
            "f.modes_figure(None, Trajectory(t=t, modes={'pi1': c}, quadrant_norms={}, "
            "loss={}, lr=0.1)).savefig(__import__('io').BytesIO(), format='png')\n"
            "print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"          # no pyplot state, no backend chosen
    import pathlib

    root = pathlib.Path(ms.__file__).resolve().parents[1]
    for package in ("modspec", "theory", "numerics", "validation"):
        for source in (root / package).rglob("*.py"):
            assert "matplotlib.use(" not in source.read_text(), source


def test_the_command_line_takes_the_shell_safe_alias_of_a_value(tmp_path, run_cli, capsys):
    (tmp_path / "g.toml").write_text(
        '[dataset]\nkx = [1, 2]\n[run]\nlr = 0.05\nepochs = 20\nseeds = 1\n'
        'compute = ["theory"]\n')
    code, _, err = run_cli(capsys, "sweep", str(tmp_path / "g.toml"), "--out",
                           str(tmp_path / "s.jsonl"), "--workers", "0", "--plot",
                           str(tmp_path / "c.png"), "--x", "kx", "--value", "Gx_Oy")
    assert code == 0, err
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
