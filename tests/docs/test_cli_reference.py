"""docs/cli.md is generated from the argparse parsers and must match them."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_cli", DOCS / "gen_cli.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_up_to_date_with_the_parsers():
    gen = _generator()
    current = (DOCS / "cli.md").read_text(encoding="utf-8")
    fresh = gen.render()
    recorded = re.search(r"with Python (\d+\.\d+)", current)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    if recorded and recorded.group(1) == python:
        # same Python: argparse formats identically, so the file must be exactly what the
        # generator writes now
        assert current == fresh, "docs/cli.md is out of date: run python docs/gen_cli.py"
    # any Python: every command and every option of the parser is documented
    parser = gen.build_parser()
    for name, sub in gen.subcommands(parser).items():
        assert f"## modspec {name}\n" in current, f"docs/cli.md lacks 'modspec {name}'"
        section = current.split(f"## modspec {name}\n", 1)[1].split("\n## ", 1)[0]
        for action in sub._actions:
            for option in action.option_strings:
                assert option in section, f"docs/cli.md: 'modspec {name}' lacks {option}"


def test_cli_reference_covers_every_command_with_its_help():
    gen = _generator()
    commands = list(gen.subcommands(gen.build_parser()))
    assert {"derive", "predict", "simulate"} <= set(commands)
    text = gen.render()
    assert text.count("```text\nusage: modspec") == len(commands) + 1
    assert "τ = 1/(P·lr)" in text


def test_cli_generator_check_mode_detects_a_stale_file(tmp_path, monkeypatch):
    gen = _generator()
    stale = tmp_path / "cli.md"
    stale.write_text("# an old reference\n", encoding="utf-8")
    monkeypatch.setattr(gen, "TARGET", stale)
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0
    assert gen.main(["--check"]) == 0
    assert stale.read_text(encoding="utf-8") == gen.render()
