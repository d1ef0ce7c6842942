"""The tutorials run as written: every ```python block, in order, in one namespace.

Each tutorial in docs/tutorials/ (and the quick start of docs/index.md) is executed from top to
bottom in a temporary working directory with matplotlib's Agg backend. A ```text block that
directly follows a ```python block is the output the page promises: it is compared with what
the block printed (doctest rules: ``...`` matches anything, runs of whitespace compare equal).
A block can be left out only by writing ``<!-- docs-test: skip -->`` on the line before it
(none of the pages needs to).

Numbers printed from trained or simulated networks differ in their last digits between
machines (BLAS, PyTorch builds): a ```text block whose numbers come from a run is marked
``<!-- docs-test: trained -->`` on the line before it, and its numbers are compared with a
tolerance (:data:`TRAINED_REL` relative, or :data:`TRAINED_UNITS` units of the last decimal
the page prints, whichever is larger; ``rel=`` in the mark sets the block's own, ``rel=0``
for the last digits only), the text between them as doctest compares it. Unmarked blocks
(exact derivations) are compared exactly.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
TUTORIALS = sorted((DOCS / "tutorials").glob("*.md"))
#: Pages whose python blocks run too (the quick start of the index).
PAGES = [*TUTORIALS, DOCS / "index.md"]
SKIP_MARK = "<!-- docs-test: skip -->"
TRAINED_MARK = re.compile(r"^<!-- docs-test: trained(?: rel=([0-9.eE-]+))? -->$")
FENCE = re.compile(r"^```(\w*)\s*$")
#: Tolerances of numbers printed from runs: relative, and units of the last printed digit.
TRAINED_REL = 0.02
TRAINED_UNITS = 2
#: A number standing alone (not the digit of a name such as ``pi1`` or ``seed0``).
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")


@dataclass
class Block:
    lang: str
    code: str
    line: int            # 1-based line of the opening fence
    skip: bool
    expected: str | None = None   # the ```text block right after a python block
    rel: float | None = None      # a text block marked trained: its relative tolerance


def blocks(path: Path) -> list[Block]:
    """Fenced code blocks of a Markdown file, with the expected output attached."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    previous_nonblank = ""
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m and lines[i] != "```":
            start, lang = i, m.group(1)
            body = []
            i += 1
            while i < len(lines) and lines[i].rstrip() != "```":
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise AssertionError(f"{path.name}:{start + 1}: unclosed code fence")
            trained = TRAINED_MARK.match(previous_nonblank.strip())
            found.append(Block(lang, "\n".join(body) + "\n", start + 1,
                               previous_nonblank.strip() == SKIP_MARK,
                               rel=None if trained is None else
                               float(trained.group(1) or TRAINED_REL)))
            previous_nonblank = "```"
        elif lines[i].strip():
            previous_nonblank = lines[i]
        i += 1
    # attach expected output: a text block whose only neighbour before it is a python block
    text = path.read_text(encoding="utf-8").splitlines()
    for before, after in zip(found, found[1:], strict=False):
        if before.lang == "python" and after.lang == "text":
            end_of_before = before.line + before.code.count("\n")   # closing fence line (0-based)
            between = text[end_of_before + 1: after.line - 1]
            if not any(s.strip() and not TRAINED_MARK.match(s.strip()) for s in between):
                before.expected = after.code
                before.rel = after.rel
    return found


def _unit(number: str) -> float:
    """One unit of the last digit of a printed number (``0.007`` → 1e-3, ``1.03e-06`` →
    1e-8, ``29`` → 1)."""
    mantissa, _, exponent = number.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def numbers_close(expected: str, got: str, rel: float) -> bool:
    """``got`` reads as ``expected`` with every number within ``rel`` (relative) or, when it
    has decimals, :data:`TRAINED_UNITS` units of its last printed digit; the text between
    the numbers compares as doctest does (``...`` matches anything, whitespace runs are
    equal)."""
    pattern, values, at = [], [], 0
    for m in NUMBER.finditer(expected):
        pattern.append(_text_pattern(expected[at:m.start()]))
        pattern.append(f"({NUMBER.pattern})")
        values.append(m.group())
        at = m.end()
    pattern.append(_text_pattern(expected[at:]))
    match = re.fullmatch(r"\s*" + "".join(pattern) + r"\s*", got, re.DOTALL)
    if match is None:
        return False
    for want, have in zip(values, match.groups(), strict=True):
        a, b = float(want), float(have)
        unit = _unit(want) if re.search(r"[.eE]", want) else 0.0   # counts stay exact
        if abs(a - b) > max(rel * abs(a), TRAINED_UNITS * unit):
            return False
    return True


def _text_pattern(text: str) -> str:
    """A regular expression of the text between numbers: ``...`` matches anything, a run
    of whitespace any run."""
    out = []
    for k, piece in enumerate(text.split("...")):
        if k:
            out.append(".*?")
        out += [r"\s*" if token.isspace() else re.escape(token)
                for token in re.split(r"(\s+)", piece) if token]
    return "".join(out)


def output_matches(expected: str, got: str, rel: float | None) -> bool:
    """What a page promises against what its block printed (see the module docstring)."""
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    if doctest.OutputChecker().check_output(expected, got, flags):
        return True
    return rel is not None and numbers_close(expected, got, rel)


def test_every_tutorial_has_runnable_python_blocks():
    assert len(TUTORIALS) == 9, [p.name for p in TUTORIALS]
    for path in TUTORIALS:
        python = [b for b in blocks(path) if b.lang == "python"]
        assert len(python) >= 5, f"{path.name}: only {len(python)} python blocks"
        assert not any(b.skip for b in python), f"{path.name}: a python block is skipped"
        assert any(b.expected for b in python), f"{path.name}: no output is checked"


@pytest.mark.parametrize("path", PAGES, ids=[p.stem for p in PAGES])
def test_page_runs_and_prints_what_it_shows(path, tmp_path, monkeypatch):
    if path.stem == "validate":
        pytest.importorskip("torch", reason="tutorial 3 trains with PyTorch (validation extra)")
        pytest.importorskip("sklearn", reason="tutorial 3 uses scikit-learn's bundled digits")
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"tutorial_{path.stem}"}
    ran = 0
    for block in blocks(path):
        if block.lang != "python" or block.skip:
            continue
        out = io.StringIO()
        code = compile(block.code, f"{path.name}:{block.line}", "exec")
        with contextlib.redirect_stdout(out):
            exec(code, namespace)  # noqa: S102 - running the documentation is the test
        ran += 1
        if block.expected is not None:
            got = out.getvalue()
            assert output_matches(block.expected, got, block.rel), (
                f"{path.name}:{block.line}: the page shows\n{block.expected}\nbut the block "
                f"printed\n{got}")
    assert ran >= (5 if path in TUTORIALS else 1)


def test_numbers_of_runs_compare_within_the_tolerance_and_the_rest_exactly():
    shown = "split      ‖Gx→Oy‖ = 0.322 ± 0.006   held-out compositional error = 0.570 ± 0.008\n"
    other_machine = shown.replace("0.006", "0.007")          # the fresh-clone failure
    assert not output_matches(shown, other_machine, None)     # unmarked: exact
    assert output_matches(shown, other_machine, TRAINED_REL)
    assert output_matches(shown, other_machine.replace("   ", " "), TRAINED_REL)
    assert not output_matches(shown, shown.replace("0.322", "0.360"), TRAINED_REL)
    assert not output_matches(shown, shown.replace("split", "dense"), TRAINED_REL)
    assert not output_matches(shown, shown + "one more line\n", TRAINED_REL)
    # digits of names are text, not numbers; exponents count in the unit of the last digit
    assert not output_matches("pi1: 29\n", "pi2: 29\n", 0.05)
    assert output_matches("pi1: 29\n", "pi1: 30\n", 0.05)
    assert not output_matches("pi1: 29\n", "pi1: 35\n", 0.05)
    # integers (counts) are exact unless the relative tolerance covers them
    assert not output_matches("10/10 checks passed, 0.0\n", "8/10 checks passed, 0.1\n", 0)
    assert output_matches("10/10 checks passed, 0.0\n", "10/10 checks passed, 0.1\n", 0)
    assert output_matches("{'pi1': '1.03e-06'}\n", "{'pi1': '1.05e-06'}\n", TRAINED_REL)
    assert not output_matches("{'pi1': '1.03e-06'}\n", "{'pi1': '1.13e-06'}\n", TRAINED_REL)
    assert output_matches("a = 0.12...\n", "a = 0.1234567\n", None)


def test_every_block_that_prints_numbers_of_a_run_is_marked_trained():
    # a python block that trains, simulates, sweeps or validates and whose output shows
    # numbers with decimals must let them vary in their last digits between machines
    runs = re.compile(r"\b(?:train|simulate|sweep|validate|run_cmnist)\(")
    for path in PAGES:
        for block in blocks(path):
            measured = block.expected and any(re.search(r"[.eE]", m.group())
                                              for m in NUMBER.finditer(block.expected))
            if block.lang == "python" and measured and runs.search(block.code):
                assert block.rel is not None, f"{path.name}:{block.line}: mark its output " \
                                              "<!-- docs-test: trained -->"
