"""Every output folder says what it was made from: ``provenance.json`` (dataset or its TOML,
network, rule, modspec version, settings), written atomically; figures as PNG and PDF."""

from __future__ import annotations

import json

from modspec import _version
from modspec.theory import architectures as arch
from modspec.theory.dataset import CompositionalDataset
from modspec.validation.provenance import FILE, provenance, read_provenance, write_provenance

VALIDATE = ["validate", "--backend", "numpy", "--lr", "0.05", "--epochs", "20", "--seeds", "1",
            "--no-figures"]


def test_validate_records_dataset_network_rule_and_version(tmp_path, run_cli, capsys):
    out = tmp_path / "v"
    status, _, err = run_cli(capsys, *VALIDATE, "--arch", "dense", "--rule", "hebbian",
                             "--out", str(out))
    assert status in (0, 1), err
    record = read_provenance(out)
    assert record["command"] == "validate" and record["modspec"] == _version.__version__
    assert record["dataset"]["nx"] == 3 and record["dataset_toml"] is None
    assert record["network"]["name"] == "dense"
    assert [m["inputs"] for m in record["network"]["modules"]] == [["Ox", "Gx"]]
    assert record["rule"]["name"] == "hebbian" and record["settings"]["lr"] == 0.05


def test_a_dataset_file_is_recorded_as_its_toml_table(tmp_path, run_cli, capsys):
    toml = tmp_path / "d.toml"
    toml.write_text('family = "compositional"\nnx = 3\nny = 1\nkx = 2\nky = 1\nr = 1\n')
    out = tmp_path / "v"
    status, _, err = run_cli(capsys, *VALIDATE, "--dataset", str(toml), "--arch", "split",
                             "--out", str(out))
    assert status in (0, 1), err
    record = read_provenance(out)
    assert record["dataset_toml"]["family"] == "compositional"
    assert record["dataset_toml"]["kx"] == 2 and record["dataset"]["kx"] == 2
    assert [m["name"] for m in record["network"]["modules"]] == ["A", "B"]


def test_validate_figures_are_png_and_pdf(tmp_path, run_cli, capsys):
    out = tmp_path / "f"
    argv = [a for a in VALIDATE if a != "--no-figures"]
    status, _, _ = run_cli(capsys, *argv, "--out", str(out))
    assert status in (0, 1)
    for stem in ("modes", "quadrants", "losses"):
        assert (out / f"{stem}.png").read_bytes().startswith(b"\x89PNG")
        assert (out / f"{stem}.pdf").read_bytes().startswith(b"%PDF")


def test_provenance_is_plain_json_replacing_a_link_never_writing_through(tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text("keep")
    (tmp_path / FILE).symlink_to(target)
    write_provenance(tmp_path, "validate", dataset=CompositionalDataset(nx=3, ny=1, kx=3,
                                                                        ky=1, r=1),
                     network=arch.dense())
    assert target.read_text() == "keep" and not (tmp_path / FILE).is_symlink()
    record = json.loads((tmp_path / FILE).read_text())
    assert record == provenance("validate", dataset=CompositionalDataset(nx=3, ny=1, kx=3, ky=1,
                                                                          r=1),
                                network=arch.dense())
    assert record["rule"] == "gradient-descent"
