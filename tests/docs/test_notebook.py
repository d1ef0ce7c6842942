"""The theorist's notebook (docs/notebooks/theorist.ipynb) runs in a real Jupyter kernel.

nbclient executes every cell, in order, in a temporary working directory: derive symbolically,
show the paper's notation, compile the LaTeX document (when pdflatex is installed), sweep on a
``dask.distributed.LocalCluster``, load the store as tidy data, draw a faceted phase diagram.
The notebook's own ``assert`` lines fail the run; this test checks what the cells show.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "notebooks" / "theorist.ipynb"


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", ())
                   if o.get("output_type") == "stream")


def _data(cell) -> set[str]:
    return {kind for o in cell.get("outputs", ()) for kind in o.get("data", {})}


def test_the_notebook_is_committed_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) >= 6
    assert all(not c.outputs and c.execution_count is None for c in code)


def test_the_notebook_executes_in_a_jupyter_kernel(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    for name in ("ipykernel", "distributed"):     # the kernel imports them, not this process
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()           # a failing cell (or one of its asserts) raises here
    code = [c for c in nb.cells if c.cell_type == "code"]
    out = "\n".join(_text(c) for c in code)
    assert "['pi1', 'pi2', 'pi3']" in out
    assert "text/latex" in _data(code[1])                   # the mode in the paper's notation
    assert "k_{x}" in _text(code[2]) and "text/latex" in _data(code[2])
    if shutil.which("pdflatex"):
        assert "pdflatex: compiled True" in out
        assert (tmp_path / "derivation.pdf").read_bytes().startswith(b"%PDF")
    else:
        assert "compile skipped" in out
    assert (tmp_path / "derivation.tex").read_text().startswith("\\documentclass")
    assert "18 points, 18 computed" in out                   # on the LocalCluster
    assert "['kind', 'quantity', 'observable', 'alias', 'value', 'std']" in out
    assert "['arch=dense', 'arch=segregated']" in out        # one panel per architecture
    assert "image/png" in _data(code[-1])
    assert (tmp_path / "phase.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "phase.pdf").read_bytes().startswith(b"%PDF")
