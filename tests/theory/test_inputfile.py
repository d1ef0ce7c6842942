"""TOML text given to modspec (a gated network's or its data's file) is parsed by one reader
and refused in one line, never a traceback, whatever its nesting."""

from __future__ import annotations

import pytest

from modspec.theory.errors import ModspecError
from modspec.theory.gated_toml import load_network
from modspec.theory.inputfile import loads_toml


@pytest.mark.parametrize(("text", "reason"), [
    ("a = [", "not valid TOML"),
    ("a = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
    ("a = " + "{b = " * 3000 + "1" + "}" * 3000, "nested too deeply"),
])
def test_toml_text_that_does_not_parse_is_one_line_naming_what_it_declares(text, reason):
    with pytest.raises(ModspecError, match=f"network TOML is invalid: .*{reason}") as e:
        loads_toml("network", text)
    assert "\n" not in str(e.value)


def test_a_deeply_nested_network_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("layers = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ModspecError, match="nested too deeply"):
        load_network(str(path))


def test_toml_text_that_parses_is_its_table():
    assert loads_toml("data", 'family = "gated"\nitems = 2\n') == {"family": "gated",
                                                                  "items": 2}
