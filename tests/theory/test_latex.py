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


# ------------------------------------------------------------- a paper's LaTeX (issue 23)
PARITY = 'family = "parity"\nnx = 3\noutputs = [[0], [0, 1]]\nkx = 1\nky = 1\nr = 1\n'


@pytest.fixture(scope="module")
def papers(derivations):
    """Standalone documents of every family (compositional, parity, hierarchical; numeric,
    symbolic, coupled) and of every rule preset."""
    from modspec.theory import rules
    from modspec.theory.export import render
    from modspec.theory.families import family_network, hierarchical, parity

    out = {name: latex_document(render(th, fmt="latex")) for name, th in derivations.items()}
    par = parity(3, [[0], [0, 1]], 1, 1, 1)
    out["parity"] = latex_document(render(derive(par, family_network("dense", par)),
                                          fmt="latex"))
    tree = hierarchical(3, 2)
    out["hierarchical"] = latex_document(render(derive(tree, family_network("dense", tree)),
                                                fmt="latex"))
    small = parity(2, [[0]], 1, 1, 1)
    th = derive(small, family_network("dense", small))
    for name in rules.PRESETS:
        out[name] = latex_document(render(th, fmt="latex", rule=rules.preset(name)))
    return out


def test_standalone_latex_is_in_the_papers_notation(papers):
    import re

    for name, tex in papers.items():
        assert r"\usepackage[T1]{fontenc}" in tex, name
        assert "->" not in tex, name                 # arrows are \to, never ¿ from '>'
        assert not re.search(r"\\mathrm\{(pi|g)\d", tex), name  # modes π_i, g_i
        for word in ("nabla", "gamma"):                # rule coefficients as ∇ and γ
            assert word not in tex.replace("\\" + word, ""), (name, word)
    assert r"\pi_4" in papers["parity"]
    # the notation of the step titles is math, not escaped text
    split = papers["split_d0"]
    assert r"$\Sigma_{yx}$" in split and r"V^\top$" in split and r"Sigma\_" not in split
    assert r"\nabla" in papers["hebbian"] and r"\gamma" in papers["contrastive-hebbian"]


def test_derive_standalone_prints_the_document(tmp_path, capsys, run_cli):
    from modspec.theory.export import render
    from modspec.theory.families import family_network, parity

    (tmp_path / "p.toml").write_text(PARITY)
    code, out, _ = run_cli(capsys, "derive", "--dataset", str(tmp_path / "p.toml"),
                           "--format", "latex", "--standalone")
    assert code == 0
    ds = parity(3, [[0], [0, 1]], 1, 1, 1)
    assert out == latex_document(render(derive(ds, family_network("dense", ds)),
                                        fmt="latex").rstrip("\n")).rstrip("\n") + "\n"
    code, out, err = run_cli(capsys, "derive", "--standalone")
    assert code == 2 and "--standalone" in err and err.count("\n") == 1


def test_mode_and_text_names_in_latex():
    import sympy as sp

    from modspec.theory.latex import text
    from modspec.theory.spectra import mode_tex
    from modspec.theory.symbols import to_latex

    assert [mode_tex(k) for k in ("pi1", "pi4", "pi1+pi2", "pi12", "g3", "level0")] == [
        r"\pi_1", r"\pi_4", r"\pi_1{+}\pi_2", r"\pi_{12}", "g_3", r"\mathrm{level}_0"]
    assert text("module A (Ox+Gx->Oy)") == r"module A (Ox+Gx$\to$Oy)"
    assert to_latex(sp.Symbol("nabla", real=True) * sp.Symbol("gamma")) == r"\gamma \nabla"
    assert to_latex(sp.Symbol("nx") * sp.Symbol("kx")) == "k_{x} n_{x}"


@pytest.mark.skipif(PDFLATEX is None, reason="no pdflatex on this machine: LaTeX compile "
                    "test skipped (install texlive-latex-base, as .ci/run does)")
def test_every_family_and_rule_compiles_as_a_paper_with_pdflatex(tmp_path, papers):
    for name, tex in papers.items():
        src = tmp_path / f"{name}.tex"
        src.write_text(tex, encoding="utf-8")
        proc = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error",
                               src.name], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, (name, proc.stdout[-2000:])
        assert (tmp_path / f"{name}.pdf").stat().st_size > 1000
        log = (tmp_path / f"{name}.log").read_text(encoding="latin-1")
        assert "Missing character" not in log, name
