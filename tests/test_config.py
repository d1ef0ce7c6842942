"""Every command takes its options from a TOML file (``--config``)."""

from __future__ import annotations

import json

from modspec.cli import main


def test_every_command_takes_its_options_from_a_toml_config(tmp_path, capsys):
    cfg = tmp_path / "study.toml"
    cfg.write_text('[dataset]\nnx = 4\nny = 2\n[architecture]\narch = "segregated"\n'
                   '[derive]\nformat = "json"\n')
    assert main(["derive", "--config", str(cfg)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["dataset"]["nx"] == 4 and payload["architecture"] == "segregated"
    assert payload["converged"]["systematic"] is True
    assert main(["derive", "--config", str(cfg), "--nx", "3"]) == 0
    assert json.loads(capsys.readouterr().out)["dataset"]["nx"] == 3   # the command line wins


def test_unknown_config_key_is_one_line_naming_it(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("bogus = 1\n")
    assert main(["derive", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "'bogus'" in err and err.count("\n") == 1


def test_unreadable_config_is_one_line(tmp_path, capsys):
    assert main(["derive", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "--config" in capsys.readouterr().err
