"""The tutorials run as written: every ```python block, in order, in one namespace.

Each tutorial in docs/tutorials/ (and the quick start of docs/index.md) is executed from top to
bottom in a temporary working directory with matplotlib's Agg backend. A ```text block that
directly follows a ```python block is the output the page promises: it is compared with what
the block printed (doctest rules: ``...`` matches anything, runs of whitespace compare equal).
A block can be left out only by writing ``<!-- docs-test: skip -->`` on the line before it
(none of the pages needs to).
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
FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass
class Block:
    lang: str
    code: str
    line: int            # 1-based line of the opening fence
    skip: bool
    expected: str | None = None   # the ```text block right after a python block


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
            found.append(Block(lang, "\n".join(body) + "\n", start + 1,
                               previous_nonblank.strip() == SKIP_MARK))
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
            if not any(s.strip() for s in between):
                before.expected = after.code
    return found


def test_every_tutorial_has_runnable_python_blocks():
    assert len(TUTORIALS) == 7, [p.name for p in TUTORIALS]
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
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
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
            assert checker.check_output(block.expected, got, flags), (
                f"{path.name}:{block.line}: the page shows\n{block.expected}\nbut the block "
                f"printed\n{got}")
    assert ran >= (5 if path in TUTORIALS else 1)
