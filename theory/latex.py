"""LaTeX rendering of a :class:`~modspec.theory.derivation.Derivation`.

:func:`derivation_latex` writes a complete fragment for a paper or a notebook: ``align*``
blocks (amsmath only), one per step, each opened by a labelled row:

1. loss, 2. matrix gradient flow, 3. modes of every module, 4. mode ODEs,
5. solutions (closed forms; implicit t(a) beyond depth 2), 6. fixed points and stability,
7. observables, 8. converged map.

A coupled network stops after step 2 with a statement that the modules couple and that the
flow is integrated numerically. :func:`latex_document` wraps a fragment in a minimal
``article`` that ``pdflatex`` compiles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sympy as sp

from . import dynamics
from . import symbols as sy
from .spectra import mode_tex

if TYPE_CHECKING:
    from .derivation import Derivation

__all__ = ["derivation_latex", "key_tex", "latex_document", "rule_latex", "text"]

_ESCAPE = {"\\": r"\textbackslash{}", "_": r"\_", "&": r"\&", "%": r"\%", "#": r"\#",
           "$": r"\$", "{": r"\{", "}": r"\}", "^": r"\^{}", "~": r"\~{}"}


def text(s: str) -> str:
    """Escape plain text for ``\\text{...}``; an arrow ``->`` is set as math (→)."""
    return r"$\to$".join("".join(_ESCAPE.get(c, c) for c in part) for part in s.split("->"))


def key_tex(key: str) -> str:
    """``"A:pi1"`` → ``A{:}\\pi_1``."""
    if ":" in key:
        module, label = key.split(":", 1)
        return rf"\mathrm{{{text(module)}}}{{:}}{mode_tex(label)}"
    return mode_tex(key)


def _quadrant_tex(q: str) -> str:
    i, o = q.split("->")
    return rf"\mathrm{{{i}}}\to\mathrm{{{o}}}"


#: Notation in step titles, set as math: plain text → LaTeX.
_TITLE_MATH = (("Sigma_yx", r"\Sigma_{yx}"), ("Sigma_x", r"\Sigma_x"),
               ("W = U diag(a) V^T", r"W = U \operatorname{diag}(a)\, V^\top"),
               ("W*", "W^*"), ("t(a)", "t(a)"))


def _title(title: str) -> str:
    """A step title for ``\\text{...}``: plain text escaped, the notation as math."""
    parts = [title]
    for plain, math in _TITLE_MATH:
        parts = [piece for part in parts for piece in
                 ([part] if part.startswith("$") else _split_keep(part, plain, f"${math}$"))]
    return "".join(p if p.startswith("$") else text(p) for p in parts)


def _split_keep(s: str, token: str, replacement: str) -> list[str]:
    pieces = s.split(token)
    out = [pieces[0]]
    for piece in pieces[1:]:
        out += [replacement, piece]
    return [p for p in out if p]


def _block(title: str, rows: list[str]) -> str:
    body = [rf"&\text{{{_title(title)}}}"] + rows
    return "\\begin{align*}\n" + " \\\\\n".join(body) + "\n\\end{align*}"


def derivation_latex(th: Derivation, notebook: bool = False, with_rule: bool = True) -> str:
    """All steps of ``th`` as LaTeX ``align*`` blocks (``notebook`` adds ``$$`` wrapping of
    ``aligned`` environments for ``_repr_latex_``); with ``with_rule`` and a derivation with
    a learning rule (``th.rule``), the rule's per-mode dynamics last (:func:`rule_latex`)."""
    extra = [rule_latex(th.rule)] if with_rule and th.rule is not None else []
    names = {sym: f"a_{{{key_tex(key)}}}" for key, sym in th.strengths.items()}

    def tex(e: object) -> str:
        return sy.to_latex(e, names)

    blocks: list[str] = []
    n = len(th.network.modules)
    blocks.append(_block(
        f"Step 1 (loss): architecture {th.network.name}, {n} module(s)",
        [r"\mathcal{L} &= \tfrac{1}{2}\sum_{\text{samples}} \lVert y - \hat y \rVert^2, "
         r"\qquad \hat y = \textstyle\sum_m W_m x_m, \qquad \tau = \frac{1}{P\,\eta}",
         r"&\text{time } t \text{ in epochs of full-batch gradient descent}"]))

    rows = []
    for name, odes in th.matrix_odes.items():
        rows.append(rf"&\text{{module {text(name)}:}}")
        rows += [tex(eq).replace("=", "&=", 1) for eq in odes]
    blocks.append(_block("Step 2 (matrix gradient flow, SymPy matrix calculus)", rows))

    if th.coupled:
        shared = [b for b in th.space.output_blocks if len(th.network.writers(b)) > 1]
        blocks.append(_block(
            "Step 3 (coupling)",
            [rf"&\text{{output block(s) {text(', '.join(shared))} are written by several "
             r"modules: the dynamics couple}",
             r"&\text{no mode-wise closed form; the flow above is integrated numerically}"]))
        return _finish(blocks + extra, notebook)

    rows = []
    for md in th.modules:
        rows.append(rf"&\text{{module {text(md.name)} ({text(md.module.label)}, depth "
                    rf"{md.module.depth}):}}")
        for m in md.spectrum.modes:
            k = key_tex(md.keys[m.label])
            rows.append(rf"s_{{{k}}} &= {tex(m.s)}, \quad \lambda_{{{k}}} = {tex(m.lam)}, "
                        rf"\quad m_{{{k}}} = {tex(m.multiplicity)}")
    blocks.append(_block("Step 3 (modes: singular values of Sigma_yx, variances of Sigma_x)",
                         rows))

    rows = []
    for md in th.modules:
        rows.append(rf"&\text{{module {text(md.name)}:}}")
        rows.append(tex(md.mode_ode).replace("=", "&=", 1))
    blocks.append(_block("Step 4 (mode ODEs, W = U diag(a) V^T)", rows))

    rows = []
    for md in th.modules:
        rows.append(rf"&\text{{module {text(md.name)}:}}")
        L = md.module.depth
        if md.solution is not None:
            rows.append(rf"a(t) &= {tex(md.solution)}, \qquad a(0) = {tex(sy.a0)}")
        elif md.implicit is not None:
            w, w0 = sp.Symbol("w"), sp.Symbol("w_0")
            G = sp.Function(f"G_{L}")
            rows.append(rf"t(a) &= {tex(dynamics.time_scale(L))}"
                        rf"\left[{tex(G(w))} - {tex(G(w0))}\right], \qquad "
                        rf"w = {tex(dynamics.scaled_strength(L, sy.a))}, \ "
                        rf"w_0 = {tex(dynamics.scaled_strength(L, sy.a0))}")
            rows.append(rf"{tex(G(w))} &= {tex(dynamics.scaled_time(L).xreplace({dynamics.w: w}))}")
        else:
            rows.append(r"&\text{coupled modules: integrate the matrix flow}")
            continue
        rows.append(rf"t_{{1/2}} &\simeq {tex(dynamics.half_rise_leading(L))}"
                    r"\quad (a_0 \to 0)")
    blocks.append(_block("Step 5 (solutions: closed forms checked by substitution, implicit "
                         "t(a) by differentiation)", rows))

    rows = []
    for md in th.modules:
        fps = ", ".join(rf"{tex(fp.value)}\ (\text{{{'stable' if fp.stable else 'unstable'}}})"
                        for fp in md.fixed_points)
        rows.append(rf"&\text{{module {text(md.name)}: }} a^* \in \{{{fps}\}}")
        for m in md.spectrum.modes:
            k = key_tex(md.keys[m.label])
            rows.append(rf"a^*_{{{k}}} &= {tex(m.fixed_point)}")
    blocks.append(_block("Step 6 (fixed points and stability)", rows))

    obs = th.observables
    if "quadrant_norms" in obs:
        rows = [rf"\lVert W_{{{_quadrant_tex(q)}}} \rVert &= {tex(e)}"
                for q, e in obs["quadrant_norms"].items()]
        rows += [rf"\mathcal{{L}}_{{\text{{{name}}}}} &= {tex(e)}"
                 for name, e in obs["loss"].items()]
        rows.append(r"&\text{losses per sample: mean over samples of the summed squared "
                    r"error over the block's units}")
        if "systematicity" in obs:   # datasets with the blocks Ox, Gx, Oy, Gy
            rows.append(rf"\lVert W_{{\mathrm{{Ox}}\to\mathrm{{Oy}}}} - S \rVert &= "
                        rf"{tex(obs['systematicity']['rule_error'])}")
        blocks.append(_block("Step 7 (observables in the mode strengths)", rows))

    conv = th.converged
    if "quadrant_norms" in conv:
        rows = [rf"\lVert W^*_{{{_quadrant_tex(q)}}} \rVert &= {tex(e)}"
                for q, e in conv["quadrant_norms"].items()]
        if conv.get("report"):   # datasets with the blocks Ox, Gx, Oy, Gy
            rows.append(rf"\lVert W^*_{{\mathrm{{Ox}}\to\mathrm{{Oy}}}} - S \rVert &= "
                        rf"{tex(conv['report']['rule_error'])}")
            rows.append(rf"&\text{{systematic: {'yes' if conv['systematic'] else 'no'}}}")
        blocks.append(_block("Step 8 (converged map W* at the fixed points)", rows))
    return _finish(blocks + extra, notebook)


def rule_latex(rd: Any) -> str:
    """A learning rule's derivation (:class:`~modspec.theory.rule_derivation.RuleDerivation`)
    as an ``align*`` block: its per-mode system ``dc_l/dt`` and fixed points, or why it does
    not reduce to modes."""
    system = rd.system
    head = "\\begin{align*}\n&\\text{" + text(f"Learning rule {rd.rule.name}") + "} \\\\\n"
    if not system.reducible:
        return head + "&\\text{" + text(f"not reducible to modes: {system.reason}") + \
            "}\n\\end{align*}"
    rows = [rf"\frac{{dc_{{{k}}}}}{{dt}} &= {sy.to_latex(e)}"
            for k, e in enumerate(system.rhs, start=1)]
    for p in rd.fixed_points:
        point = ", ".join(sy.to_latex(x) for x in p.strengths)
        rows.append(rf"(c_{{1}}, c_{{2}})^* &= ({point}),\quad c_{{1}} c_{{2}} = "
                    rf"{sy.to_latex(p.map)}")
    return head + " \\\\\n".join(rows) + "\n\\end{align*}"


def _finish(blocks: list[str], notebook: bool) -> str:
    if not notebook:
        return "\n\n".join(blocks)
    return "\n".join("$$" + b.replace("{align*}", "{aligned}") + "$$" for b in blocks)


def latex_document(fragment: str) -> str:
    """A minimal ``article`` around ``fragment`` that ``pdflatex`` compiles: T1 font
    encoding (Latin Modern where installed), UTF-8 input, amsmath and a landscape page."""
    return ("\\documentclass{article}\n"
            "\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
            "\\IfFileExists{lmodern.sty}{\\usepackage{lmodern}}{}\n"
            "\\usepackage{amsmath}\n"
            "\\usepackage[margin=1cm,landscape]{geometry}\n"
            "\\begin{document}\n" + fragment + "\n\\end{document}\n")
