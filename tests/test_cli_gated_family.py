"""``--network FILE.toml --dataset FAMILY.toml``: a gated network on any dataset family, its
input and output layers bound to the family's blocks by name (docs/theory/gated.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_cli_gated_run import _toml_of

from modspec.cli import main
from modspec.theory.architectures import architecture
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.gated_convert import as_gated
from modspec.theory.observables import loss_key
from modspec.validation.sweeps.store import read_rows

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = [str(ROOT / "docs/examples/two-pathways.toml"), "--dataset",
           str(ROOT / "docs/examples/two-pathways-data.toml")]
D0 = CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
D0_FILE = "family = 'compositional'\nnx = 3\nny = 1\nkx = 3\nky = 1\nr = 1\n"


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def _close(a, b, tol=1e-10):
    """The same JSON, numbers to ``tol``."""
    if isinstance(a, dict):
        assert set(a) == set(b)
        for k in a:
            _close(a[k], b[k], tol)
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _close(x, y, tol)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=tol, abs=tol)
    else:
        assert a == b


@pytest.mark.parametrize("arch", ["dense", "split", "segregated"])
def test_a_wiring_on_the_compositional_family_is_the_wiring_on_its_data(arch, tmp_path,
                                                                       capsys):
    """The dense, split and segregated wirings declared in TOML on D0 by block name: derive
    and predict print what the converted wiring's own data give (1e-10), and predict ends
    where today's modular predict ends: every pathway's norm is today's quadrant norm, to
    O(start) (the data span 8 of 27 input dimensions; the start off them stays)."""
    net, data = _toml_of(as_gated(architecture(arch, 2), D0, hidden=8), tmp_path)
    (tmp_path / "d0.toml").write_text(D0_FILE)
    family = str(tmp_path / "d0.toml")
    outs = []
    for dataset in (family, data):
        assert main(["derive", "--network", net, "--dataset", dataset, "--format", "json"]) == 0
        derived = _json(capsys)
        assert main(["predict", "--network", net, "--dataset", dataset, "--start", "1e-9",
                     "--lr", "0.05", "--epochs", "3000"]) == 0
        outs.append((derived, _json(capsys)))
    _close(outs[0][0], outs[1][0])
    _close(outs[0][1], outs[1][1])
    assert outs[0][0]["basis_condition"]["holds"]
    assert main(["predict", "--arch", arch, "--depth", "2", "--time", "discrete",
                 "--lr", "0.05", "--epochs", "3000"]) == 0
    today = _json(capsys)
    for block in ("Oy", "Gy"):
        assert outs[0][1]["loss"][block][-1] == pytest.approx(
            today["loss"][loss_key(block)][-1], abs=1e-12)
    ends = {}
    for p, v in outs[0][1]["quadrant_norms"].items():     # <m>_W1_<in>.<m>_W2_<out>
        src, dst = p.split(".")[0].split("_W1_")[1], p.split("_W2_")[1]
        ends[f"{src}->{dst}"] = v[-1]
    for q, v in today["quadrant_norms"].items():
        assert ends.get(q, 0.0) == pytest.approx(v[-1], abs=1e-8)


def test_the_example_derives_and_its_race_is_gradient_descent(capsys):
    """docs/examples/two-pathways.toml on the hierarchical family: derive prints the race;
    predict (the per-mode map) equals simulate of the whole network from the aligned start."""
    assert main(["derive", "--network", *EXAMPLE, "--format", "json"]) == 0
    report = _json(capsys)
    assert report["basis_condition"]["holds"] and report["items"] == 4
    assert {m["winner"] for m in report["modes"]} == {"S"}     # the shallow pathway wins
    common = ["--lr", "0.05", "--epochs", "200"]
    assert main(["predict", "--network", *EXAMPLE, *common]) == 0
    pred = _json(capsys)
    assert main(["simulate", "--network", *EXAMPLE, *common, "--start", "0.01",
                 "--seeds", "2"]) == 0
    sim = _json(capsys)
    for group in ("modes", "loss"):
        assert set(pred[group]) == set(sim[group]) and pred[group]
        for k, v in pred[group].items():
            np.testing.assert_allclose(sim[group][k], v, rtol=1e-8, atol=1e-12)


def test_the_example_validates_and_sweeps(tmp_path, capsys):
    out = tmp_path / "v"
    assert main(["validate", "--network", *EXAMPLE, "--epochs", "60", "--seeds", "1",
                 "--out", str(out), "--no-figures", "--strict"]) == 0
    capsys.readouterr()
    assert json.loads((out / "comparison.json").read_text())["passed"]
    grid = tmp_path / "grid.toml"
    grid.write_text("[dataset]\nfamily = 'hierarchical'\nlevels = 3\nbranching = 2\n"
                    "[run]\nlr = [0.05, 0.1]\nepochs = 50\n")
    assert main(["sweep", str(grid), "--out", str(tmp_path / "s.jsonl"),
                 "--network", EXAMPLE[0]]) == 0
    rows = read_rows(tmp_path / "s.jsonl")
    assert len(rows) == 2 and all(r["theory.basis_condition"] for r in rows)


@pytest.mark.parametrize("extra,message", [
    (["--dataset", "BAD"], "output layer='level9' is invalid: must be an output block of "
                           "the hierarchical dataset: level0, level1, level2"),
])
def test_refusals_are_one_line_and_status_2(extra, message, tmp_path, capsys):
    net, dataset = EXAMPLE[0], EXAMPLE[2]
    if "BAD" in extra:
        text = Path(net).read_text().replace("level1", "level9")
        (tmp_path / "net.toml").write_text(text)
        net, extra = str(tmp_path / "net.toml"), ["--dataset", dataset]
    else:
        extra = ["--dataset", dataset, *extra]
    assert main(["derive", "--network", net, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
