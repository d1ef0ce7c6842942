"""Printers of a derivation (text, JSON, LaTeX): the outputs of ``modspec derive`` are the
golden files under tests/theory/golden/ (printed before the printers were classes), byte for
byte; dispatch by type; the study's document and the derive cache key come from the library."""

from __future__ import annotations

from pathlib import Path

import pytest

from modspec.theory import architectures as arch
from modspec.theory import rules as r
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.derivation import derive
from modspec.theory.errors import ModspecError
from modspec.theory.export import JsonPrinter, TextPrinter, printer, render
from modspec.theory.latex import LatexPrinter

GOLDEN = Path(__file__).parent / "golden"
CASES = {"dense": [], "split": ["--arch", "split"], "hebbian": ["--rule", "hebbian"],
         "anti-hebbian": ["--rule", "anti-hebbian", "--nabla", "-0.01"],
         "heldout": ["--train-objects", "0,1,2,4,7"]}
D0 = CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)


@pytest.mark.parametrize("fmt", ["text", "json", "latex"])
@pytest.mark.parametrize("case", list(CASES))
def test_derive_prints_the_golden_output_byte_for_byte(run_cli, capsys, case, fmt):
    code, out, err = run_cli(capsys, "derive", *CASES[case], "--format", fmt, "--no-cache")
    assert code == 0 and err == ""
    assert out == (GOLDEN / f"derive_{case}.{fmt}").read_text()


def test_a_derivation_with_its_rule_prints_as_the_rule_passed_to_render():
    th = derive(D0, arch.dense())
    ruled = derive(D0, arch.dense(), rule="hebbian")
    for fmt in ("text", "json", "latex"):
        assert render(ruled, fmt=fmt) == render(th, fmt=fmt, rule=r.preset("hebbian"))
    assert render(ruled, fmt="latex").endswith(LatexPrinter().doprint(ruled.rule))


def test_printers_dispatch_on_the_type_and_refuse_what_they_cannot_print():
    hebb = r.preset("hebbian")
    assert TextPrinter().doprint(hebb) == "hebbian (gamma=0, nabla=0.001)"
    assert JsonPrinter().doprint(hebb) == {"rule": "hebbian",
                                           "coefficients": {"gamma": 0.0, "nabla": 0.001}}
    assert LatexPrinter().doprint(hebb) == hebb.to_latex()
    assert "\\nabla" in hebb.to_latex()
    with pytest.raises(ModspecError, match="object.*int.*has no json printing") as e:
        JsonPrinter().doprint(3)
    assert "\n" not in str(e.value)
    with pytest.raises(ModspecError, match="format.*'html'"):
        printer("html")
    with pytest.raises(ModspecError, match="settings"):
        LatexPrinter(colour=True)


def test_the_derive_cache_key_is_the_library_s():
    from modspec.theory.reports import PAYLOAD_VERSION, report_key

    key = report_key({"nx": 3}, arch.split(), None, "json", ["hebbian", None, 0.01])
    assert key["payload"] == PAYLOAD_VERSION and key["rule"] == ["hebbian", None, 0.01]
    assert key["network"]["modules"] == [[m.name, list(m.inputs), list(m.outputs), m.depth]
                                         for m in arch.split().modules]
    assert "rule" not in report_key({"nx": 3}, arch.split(), None, "json")
