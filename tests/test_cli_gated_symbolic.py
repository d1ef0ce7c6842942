"""``modspec derive --network FILE.toml --dataset FAMILY.toml --symbolic``: the race of a gated
network on a dataset family of symbolic sizes (docs/theory/gated.md §6), and its refusals."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import sympy as sp

from modspec.cli import main
from modspec.theory.symbols import text_name

ROOT = Path(__file__).resolve().parents[1]
NET = str(ROOT / "docs/examples/two-pathways.toml")
DATA = str(ROOT / "docs/examples/two-pathways-data.toml")


def _derive(capsys, *extra):
    assert main(["derive", "--network", NET, "--dataset", DATA, *extra]) == 0
    return capsys.readouterr().out


def test_symbolic_json_at_the_files_numbers_is_the_numeric_derivation(capsys):
    """Each symbolic mode, repeated by its multiplicity at c = 2, f = 1, r = 1 (the data
    file's values), gives the numeric derivation's modes: the same |s| of every pathway
    (1e-10) and the same conserved quantities."""
    sym = json.loads(_derive(capsys, "--symbolic", "--format", "json"))
    num = json.loads(_derive(capsys, "--format", "json"))
    assert sym["symbols"] == ["c", "f", "r"]
    assert sym["pathways"] == num["pathways"]
    at = {sp.Symbol("c"): 2, sp.Symbol("f"): 1, sp.Symbol("r"): 1}

    def key(stats, value):
        return tuple(sorted((text_name(k), round(abs(float(value(v))), 10))
                            for k, v in stats.items() if k.startswith("s")))

    want = sorted(key(m["statistics"], float) for m in num["modes"])
    got = sorted(key(m["statistics"], lambda v: sp.sympify(v).subs(at))
                 for m in sym["modes"]
                 for _ in range(int(sp.sympify(m["multiplicity"]).subs(at))))
    assert got == want
    conserved = {tuple(re.sub(r"b\[(\w+)\]", r"b_\1_", q) for q in m["conserved"])
                 for m in num["modes"]}
    assert {tuple(m["conserved"]) for m in sym["modes"]} == conserved
    for m in sym["modes"]:      # every string reads back with plain sympify
        texts = [m["multiplicity"], m["loss"], *m["statistics"], *m["statistics"].values(),
                 *m["equations"].values(), *m["conserved"],
                 *(v for sol in m["fixed_points"] or [] for v in (*sol, *sol.values()))]
        assert all(isinstance(sp.sympify(t), sp.Expr) for t in texts)
    loss = sp.sympify(sym["loss"])        # plain sympify reads every string back
    zero = {sp.Symbol(f"b_{e}_"): 0 for e in ("Win", "Wmid", "Wout", "S")}
    half_sigma_y = sp.Add(*[sp.sympify(v) for v in sym["sigma_y"].values()]) / 2
    assert sp.simplify(loss.subs(zero) - half_sigma_y) == 0
    assert half_sigma_y.subs(at) == 1      # Σy(level1) = Σy(level2) = f


def test_symbolic_text_and_latex(capsys):
    text = _derive(capsys, "--symbolic")
    assert "mode level2 (multiplicity c*(c - 1))" in text
    assert "fixed point: b[S] = -b[Win]*b[Wout] + sqrt(f)/r" in text
    assert "hidden layer h needs at least c*(c - 1) + c units" in text
    latex = _derive(capsys, "--symbolic", "--format", "latex")
    assert latex.startswith("\\begin{align*}") and "\\ell &=" in latex


def test_the_compositional_family_is_the_default_symbolic_dataset(tmp_path, capsys):
    net = tmp_path / "net.toml"
    net.write_text('[layers]\nOx = 3\nh = 8\nOy = 1\n[edges]\nW = ["Ox", "h"]\n'
                   'V = ["h", "Oy"]\n')
    assert main(["derive", "--network", str(net), "--symbolic", "--format", "json"]) == 0
    pay = json.loads(capsys.readouterr().out)
    (mode,) = pay["modes"]
    assert mode["multiplicity"] == "ny"
    assert sp.simplify(sp.sympify(mode["statistics"]["s_W_V_"]) - 1) == 0
    assert sp.sympify(pay["sigma_y"]["Oy"]) == sp.Symbol("ny")


@pytest.mark.parametrize("extra,command,message", [
    ("[gates.item]\nS = [1, 0, 1, 1]\n", "derive",
     "gate on S='per item' is invalid: a gate on a dataset family of symbolic sizes must be "
     "constant or given per context"),
    ("", "derive-gated", "family='gated' is invalid: a symbolic derivation takes a named "
     "family"),
    ("", "derive-nx", "input layer='items' is invalid: must be an input block of the "
     "compositional dataset: Ox, Gx"),
])
def test_what_is_not_derived_symbolically_is_refused_in_one_line(extra, command, message,
                                                                 tmp_path, capsys):
    net = tmp_path / "net.toml"
    net.write_text(Path(NET).read_text() + extra)
    args = ["--network", str(net), "--symbolic"]
    data = {"derive": DATA, "derive-gated": str(ROOT / "docs/examples/routing-data.toml")}
    args = ["derive", *args] + (["--dataset", data[command]] if command in data else [])
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex on this machine: "
                    "LaTeX compile test skipped (install texlive-latex-base, as .ci/run does)")
def test_symbolic_latex_standalone_compiles_with_pdflatex(tmp_path, capsys):
    """``--symbolic --format latex --standalone`` is a document pdflatex compiles; without
    ``--format latex``, ``--standalone`` is refused in one line."""
    (tmp_path / "sym.tex").write_text(
        _derive(capsys, "--symbolic", "--format", "latex", "--standalone"))
    proc = subprocess.run([shutil.which("pdflatex"), "-interaction=nonstopmode",
                           "-halt-on-error", "sym.tex"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "sym.pdf").stat().st_size > 1000
    assert main(["derive", "--network", NET, "--dataset", DATA, "--symbolic",
                 "--standalone"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--standalone" in err and "\n" not in err
