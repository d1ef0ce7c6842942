"""The command line: contracts, errors and the front door."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import modspec as ms
from modspec.cli import main
from modspec.theory import symbols as sy


def test_derive_json_follows_the_contract_for_d0(run_cli, capsys):
    code, out, _ = run_cli(capsys, "derive", "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert set(payload) >= {"dataset", "architecture", "modules", "converged"}
    assert payload["coupled"] is False
    mod = payload["modules"][0]
    assert set(mod) == {"name", "inputs", "outputs", "depth", "modes"}
    assert set(mod["modes"][0]) == {"label", "s", "lambda", "multiplicity", "fixed_point"}
    np.testing.assert_allclose([m["fixed_point"] for m in mod["modes"]],
                               [0.90453, 0.30151, 0.57735], atol=5e-6)
    norms = payload["converged"]["quadrant_norms"]
    np.testing.assert_allclose([norms[k] for k in ("Ox->Oy", "Gx->Oy", "Ox->Gy", "Gx->Gy")],
                               [0.7273, 0.4454, 0.4454, 1.3195], atol=5e-5)
    assert payload["converged"]["systematic"] is False


def test_derive_symbolic_json_reads_back_with_sympify(run_cli, capsys):
    code, out, _ = run_cli(capsys, "derive", "--symbolic", "--format", "json")
    assert code == 0
    modes = json.loads(out)["modules"][0]["modes"]
    s1 = sy.parse(modes[0]["s"])
    assert s1.free_symbols <= set(sy.DATASET_SYMBOLS)
    value = s1.subs({sy.nx: 3, sy.kx: 3, sy.ky: 1, sy.rx: 1, sy.ry: 1})
    assert abs(float(value) - 1.2437343) < 1e-6
    assert sp.simplify(sy.parse(modes[2]["multiplicity"]) - (2**sy.nx - sy.nx)) == 0


def test_derive_rejects_ny_above_nx_with_one_line_and_status_2(run_cli, capsys):
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


def test_derive_latex_and_text_formats(run_cli, capsys):
    code, out, _ = run_cli(capsys, "derive", "--format", "latex", "--symbolic")
    assert code == 0 and out.count("\\begin{align*}") == 8 and "Step 8" in out
    code, out, _ = run_cli(capsys, "derive")
    assert code == 0 and "systematic: False" in out


def _derive_json(capsys, *argv):
    code = main(["derive", "--format", "json", *argv])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def _norms(payload):
    q = payload["converged"]["quadrant_norms"]
    return [q[k] for k in ("Ox->Oy", "Gx->Oy", "Ox->Gy", "Gx->Gy")]


def test_derive_split_has_one_entry_per_module_and_the_dense_end_point(capsys):
    payload = _derive_json(capsys, "--arch", "split")
    assert [m["name"] for m in payload["modules"]] == ["A", "B"]
    (mode_a,) = payload["modules"][0]["modes"]
    assert abs(mode_a["s"] - 1.17260) < 5e-6 and abs(mode_a["fixed_point"] - 0.85280) < 5e-6
    np.testing.assert_allclose(_norms(payload), [0.7273, 0.4454, 0.4454, 1.3195], atol=5e-5)
    assert payload["dynamics"]["A"]["closed_form"] is not None


def test_derive_segregated_is_systematic_with_the_exact_rule(capsys):
    payload = _derive_json(capsys, "--arch", "segregated")
    assert payload["converged"]["systematic"] is True
    assert payload["converged"]["quadrant_norms"]["Gx->Oy"] == 0
    assert payload["converged"]["report"]["rule_error"] == 0


def test_derive_leaky_says_coupled_claims_no_closed_form_and_learns_gx_to_oy(run_cli, capsys):
    for depth in ("1", "2"):
        payload = _derive_json(capsys, "--arch", "leaky", "--depth", depth)
        assert payload["coupled"] is True and "couple" in payload["note"]
        assert all(d["closed_form"] is None and d["mode_ode"] is None
                   for d in payload["dynamics"].values())
        assert all(m["fixed_point"] is None for mod in payload["modules"] for m in mod["modes"])
        assert payload["converged"]["quadrant_norms"]["Gx->Oy"] > 0.05
        assert payload["converged"]["systematic"] is False
    code, out, _ = run_cli(capsys, "derive", "--arch", "leaky")
    assert code == 0 and "coupled" in out and "closed form:" not in out


def test_derive_deep_dense_has_no_closed_form_but_the_same_end_point(run_cli, capsys):
    payload = _derive_json(capsys, "--arch", "dense", "--depth", "3")
    dyn = payload["dynamics"]["dense"]
    assert dyn["closed_form"] is None
    assert "4/3" in dyn["mode_ode"]
    np.testing.assert_allclose(_norms(payload), [0.7273, 0.4454, 0.4454, 1.3195], atol=5e-5)
    implicit = sy.parse(dyn["implicit"])                 # t(a): zero at a = a0, atan present
    assert implicit.has(sp.atan) and sp.simplify(implicit.subs(sy.a, sy.a0)) == 0
    # half-rise time from the JSON = where the predictor reaches half the fixed point
    pr = ms.compile(ms.derive(ms.CompositionalDataset(3, 1, 3, 1, 1),
                              ms.architectures.dense(3)))
    for mode in payload["modules"][0]["modes"]:
        t_half = float(sy.parse(dyn["half_rise"][mode["label"]]).subs({sy.tau: 6.25,
                                                                        sy.a0: 1e-3}))
        a = pr([t_half], lr=0.02, a0=1e-3).modes[mode["label"]][0]
        assert a == pytest.approx(mode["fixed_point"] / 2, rel=1e-10)
    code, out, _ = run_cli(capsys, "derive", "--arch", "dense", "--depth", "3")
    assert "implicit solution" in out and "half-rise time of pi3 (epochs)" in out


def test_derive_train_objects_reports_held_out_error(run_cli, capsys):
    seg = _derive_json(capsys, "--arch", "segregated", "--train-objects", "0,1,2", "4", "7")
    dense = _derive_json(capsys, "--arch", "dense", "--train-objects", "0", "1", "2", "4", "7")
    assert seg["heldout"]["objects"] == [3, 5, 6] == dense["heldout"]["objects"]
    assert seg["heldout"]["compositional_error"] == 0
    assert dense["heldout"]["compositional_error"] > 0.1
    code, _, err = run_cli(capsys, "derive", "--train-objects", "0", "9")
    assert code == 2 and "--train-objects" in err and err.count("\n") == 1


def test_derive_warm_cache_gives_the_same_answer_and_survives_corruption(run_cli, capsys, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("MODSPEC_CACHE_DIR", str(tmp_path))
    cold = run_cli(capsys, "derive", "--arch", "split", "--format", "json")
    entries = list(tmp_path.rglob("*.json"))
    assert cold[0] == 0 and len(entries) >= 1
    assert run_cli(capsys, "derive", "--arch", "split", "--format", "json") == cold
    for entry in entries:
        entry.write_text("{not json")
    assert run_cli(capsys, "derive", "--arch", "split", "--format", "json") == cold
