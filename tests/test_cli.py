"""The command line: contracts, errors and the front door."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import sympy as sp

from modspec.cli import main
from modspec.theory import symbols as sy


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_derive_json_follows_the_contract_for_d0(capsys):
    code, out, _ = run_cli(capsys, "derive", "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert set(payload) == {"dataset", "architecture", "modules", "converged"}
    mod = payload["modules"][0]
    assert set(mod) == {"name", "inputs", "outputs", "depth", "modes"}
    assert set(mod["modes"][0]) == {"label", "s", "lambda", "multiplicity", "fixed_point"}
    np.testing.assert_allclose([m["fixed_point"] for m in mod["modes"]],
                               [0.90453, 0.30151, 0.57735], atol=5e-6)
    norms = payload["converged"]["quadrant_norms"]
    np.testing.assert_allclose([norms[k] for k in ("Ox->Oy", "Gx->Oy", "Ox->Gy", "Gx->Gy")],
                               [0.7273, 0.4454, 0.4454, 1.3195], atol=5e-5)
    assert payload["converged"]["systematic"] is False


def test_derive_symbolic_json_reads_back_with_sympify(capsys):
    code, out, _ = run_cli(capsys, "derive", "--symbolic", "--format", "json")
    assert code == 0
    modes = json.loads(out)["modules"][0]["modes"]
    s1 = sy.parse(modes[0]["s"])
    assert s1.free_symbols <= set(sy.DATASET_SYMBOLS)
    value = s1.subs({sy.nx: 3, sy.kx: 3, sy.ky: 1, sy.rx: 1, sy.ry: 1})
    assert abs(float(value) - 1.2437343) < 1e-6
    assert sp.simplify(sy.parse(modes[2]["multiplicity"]) - (2**sy.nx - sy.nx)) == 0


def test_derive_rejects_ny_above_nx_with_one_line_and_status_2(capsys):
    code, out, err = run_cli(capsys, "derive", "--nx", "3", "--ny", "5")
    assert code == 2
    assert err.count("\n") == 1 and "ny" in err and out == ""


def test_bad_option_prints_one_line_and_exits_2():
    proc = subprocess.run([sys.executable, "-m", "modspec", "derive", "--arch", "nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--arch" in proc.stderr


def test_version_and_help_work_through_python_dash_m():
    proc = subprocess.run([sys.executable, "-m", "modspec", "--version"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("modspec ")
    proc = subprocess.run([sys.executable, "-m", "modspec", "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "derive" in proc.stdout


def test_importing_modspec_does_not_import_torch():
    code = "import sys, modspec, modspec.cli; print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "False"


def test_derive_latex_and_text_formats(capsys):
    code, out, _ = run_cli(capsys, "derive", "--format", "latex", "--symbolic")
    assert code == 0 and out.count("\\begin{align*}") == 2
    code, out, _ = run_cli(capsys, "derive")
    assert code == 0 and "systematic: False" in out
