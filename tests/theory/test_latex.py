"""Derivation.to_latex(): a complete amsmath fragment that a real LaTeX engine compiles."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from modspec.theory import architectures as arch
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.derivation import derive
from modspec.theory.latex import latex_document

PDFLATEX = shutil.which("pdflatex")
STEPS = ("Step 1 (loss)", "Step 2 (matrix gradient flow", "Step 3 (modes", "Step 4 (mode ODEs",
         "Step 5 (solutions", "Step 6 (fixed points", "Step 7 (observables",
         "Step 8 (converged map")


@pytest.fixture(scope="module")
def derivations(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODSPEC_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "modspec-cache"))
        d0 = CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
        return {"split_d0": derive(d0, arch.split()),
                "leaky_d0": derive(d0, arch.leaky()),
                "dense3_symbolic": derive(CompositionalDataset.symbolic(), arch.dense(3))}


def test_fragment_has_every_labelled_step_in_balanced_align_blocks(derivations):
    for name, th in derivations.items():
        tex = th.to_latex()
        assert tex.count(r"\begin{align*}") == tex.count(r"\end{align*}") >= 3, name
        steps = STEPS[:2] if th.coupled else STEPS
        for step in steps:
            assert step in tex, (name, step)
        if th.coupled:
            assert "couple" in tex and "Step 5" not in tex
        assert th._repr_latex_().startswith("$$")
    deep = derivations["dense3_symbolic"].to_latex()     # depth 3: implicit t(a), t½
    assert r"t(a) &=" in deep and r"G_{3}{\left(w \right)} &=" in deep
    assert r"\operatorname{atan}" in deep and r"t_{1/2} &\simeq" in deep


@pytest.mark.skipif(PDFLATEX is None, reason="no pdflatex on this machine: LaTeX compile "
                    "test skipped (install texlive-latex-base, as .ci/run does)")
def test_fragment_compiles_with_pdflatex_and_amsmath(tmp_path, derivations):
    for name, th in derivations.items():
        src = tmp_path / f"{name}.tex"
        src.write_text(latex_document(th.to_latex()))
        proc = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error",
                               src.name], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, (name, proc.stdout[-2000:])
        assert (tmp_path / f"{name}.pdf").stat().st_size > 1000
