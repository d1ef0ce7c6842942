"""LaTeX rendering of a :class:`~modspec.theory.derivation.Derivation`: :class:`LatexPrinter`.

The printer (:mod:`modspec.theory.printing`, one ``_print_<Type>`` per type: ``Derivation``,
``RuleDerivation``, ``Rule``) writes a complete fragment for a paper or a notebook:
``align*`` blocks (amsmath only), one per step, each opened by a labelled row:

1. loss, 2. matrix gradient flow, 3. modes of every module, 4. mode ODEs,
5. solutions (closed forms; implicit t(a) beyond depth 2), 6. fixed points and stability,
7. observables, 8. converged map.

A coupled network stops after step 2 with a statement that the modules couple and that the
flow is integrated numerically. A derivation with a rule ends with the rule's per-mode system.
What ``modspec derive --format latex`` adds (the modes for any number of levels, a coupled
network's numerically obtained ``W*``, the held-out errors) is
:class:`modspec.theory.export.LatexReportPrinter`. :func:`latex_document` wraps a fragment in a
minimal ``article`` that ``pdflatex`` compiles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sympy as sp

from . import dynamics
from . import symbols as sy
from .latex_base import LatexBasePrinter, finish, latex_document, text, text_block
from .spectra import mode_tex

if TYPE_CHECKING:
    from .derivation import Derivation

__all__ = ["LatexPrinter", "derivation_latex", "key_tex", "latex_document", "rule_latex",
           "text", "text_block"]

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


class LatexPrinter(LatexBasePrinter):
    """LaTeX of a derivation, a rule's derivation or a rule (module docstring).

    Settings: ``notebook`` (``$$``-wrapped ``aligned`` environments, for ``_repr_latex_``),
    ``with_rule`` (a derivation's rule last), ``rule`` (a rule derivation printed instead of
    ``Derivation.rule``), ``extras`` (blocks after the steps, before the rule: what
    :class:`~modspec.theory.export.LatexReportPrinter` adds for ``modspec derive``)."""

    _default_settings: dict[str, Any] = {**LatexBasePrinter._default_settings,
                                         "with_rule": True, "rule": None, "extras": ()}

    # -------------------------------------------------------------------- derivation
    def _print_Derivation(self, th: Derivation) -> str:  # noqa: N802
        names = {sym: f"a_{{{key_tex(key)}}}" for key, sym in th.strengths.items()}

        def tex(e: object) -> str:
            return sy.to_latex(e, names)

        blocks = [self._loss(th), self._matrix_flow(th, tex)]
        if th.coupled:
            blocks.append(self._coupling(th))
        else:
            blocks += [self._modes(th, tex), self._mode_odes(th, tex),
                       self._solutions(th, tex), self._fixed_points(th, tex)]
            blocks += [b for b in (self._observables(th, tex), self._converged(th, tex)) if b]
        blocks += list(self._settings["extras"])
        rule = self._settings["rule"] if self._settings["rule"] is not None else th.rule
        if self._settings["with_rule"] and rule is not None:
            blocks.append(self._print(rule))
        return finish(blocks, self._settings["notebook"])

    @staticmethod
    def _loss(th: Derivation) -> str:
        n = len(th.network.modules)
        return _block(
            f"Step 1 (loss): architecture {th.network.name}, {n} module(s)",
            [r"\mathcal{L} &= \tfrac{1}{2}\sum_{\text{samples}} \lVert y - \hat y \rVert^2, "
             r"\qquad \hat y = \textstyle\sum_m W_m x_m, \qquad \tau = \frac{1}{P\,\eta}",
             r"&\text{time } t \text{ in epochs of full-batch gradient descent}"])

    @staticmethod
    def _matrix_flow(th: Derivation, tex: Callable[[Any], str]) -> str:
        odes = th.matrix_odes
        return _block("Step 2 (matrix gradient flow, SymPy matrix calculus)", _per_module(
            th, lambda md: [tex(eq).replace("=", "&=", 1) for eq in odes[md.name]]))

    @staticmethod
    def _coupling(th: Derivation) -> str:
        shared = [b for b in th.space.output_blocks if len(th.network.writers(b)) > 1]
        return _block(
            "Step 3 (coupling)",
            [rf"&\text{{output block(s) {text(', '.join(shared))} are written by several "
             r"modules: the dynamics couple}",
             r"&\text{no mode-wise closed form; the flow above is integrated numerically}"])

    @staticmethod
    def _modes(th: Derivation, tex: Callable[[Any], str]) -> str:
        rows = []
        for md in th.modules:
            rows.append(rf"&\text{{module {text(md.name)} ({text(md.module.label)}, depth "
                        rf"{md.module.depth}):}}")
            for m in md.spectrum.modes:
                k = key_tex(md.keys[m.label])
                rows.append(rf"s_{{{k}}} &= {tex(m.s)}, \quad \lambda_{{{k}}} = {tex(m.lam)}, "
                            rf"\quad m_{{{k}}} = {tex(m.multiplicity)}")
        return _block("Step 3 (modes: singular values of Sigma_yx, variances of Sigma_x)", rows)

    @staticmethod
    def _mode_odes(th: Derivation, tex: Callable[[Any], str]) -> str:
        return _block("Step 4 (mode ODEs, W = U diag(a) V^T)", _per_module(
            th, lambda md: [tex(md.mode_ode).replace("=", "&=", 1)]))

    @staticmethod
    def _solutions(th: Derivation, tex: Callable[[Any], str]) -> str:
        def rows(md: Any) -> list[str]:
            L = md.module.depth
            if md.solution is not None:
                out = [rf"a(t) &= {tex(md.solution)}, \qquad a(0) = {tex(sy.a0)}"]
            elif md.implicit is not None:
                out = _implicit_rows(L, tex)
            else:
                return [r"&\text{coupled modules: integrate the matrix flow}"]
            return out + [rf"t_{{1/2}} &\simeq {tex(dynamics.half_rise_leading(L))}"
                          r"\quad (a_0 \to 0)"]

        return _block("Step 5 (solutions: closed forms checked by substitution, implicit "
                      "t(a) by differentiation)", _per_module(th, rows))

    @staticmethod
    def _fixed_points(th: Derivation, tex: Callable[[Any], str]) -> str:
        rows = []
        for md in th.modules:
            fps = ", ".join(rf"{tex(fp.value)}\ (\text{{{'stable' if fp.stable else 'unstable'}}})"
                            for fp in md.fixed_points)
            rows.append(rf"&\text{{module {text(md.name)}: }} a^* \in \{{{fps}\}}")
            for m in md.spectrum.modes:
                k = key_tex(md.keys[m.label])
                rows.append(rf"a^*_{{{k}}} &= {tex(m.fixed_point)}")
        return _block("Step 6 (fixed points and stability)", rows)

    @staticmethod
    def _observables(th: Derivation, tex: Callable[[Any], str]) -> str | None:
        obs = th.observables
        if "quadrant_norms" not in obs:
            return None
        rows = _norm_rows("W", obs["quadrant_norms"], tex)
        rows += [rf"\mathcal{{L}}_{{\text{{{name}}}}} &= {tex(e)}"
                 for name, e in obs["loss"].items()]
        rows.append(r"&\text{losses per sample: mean over samples of the summed squared "
                    r"error over the block's units}")
        if "systematicity" in obs:   # datasets with the blocks Ox, Gx, Oy, Gy
            rows.append(_rule_row("W", obs["systematicity"]["rule_error"], tex))
        return _block("Step 7 (observables in the mode strengths)", rows)

    @staticmethod
    def _converged(th: Derivation, tex: Callable[[Any], str]) -> str | None:
        conv = th.converged
        if "quadrant_norms" not in conv:
            return None
        rows = _norm_rows("W^*", conv["quadrant_norms"], tex)
        if conv.get("report"):   # datasets with the blocks Ox, Gx, Oy, Gy
            rows.append(_rule_row("W^*", conv["report"]["rule_error"], tex))
            rows.append(rf"&\text{{systematic: {'yes' if conv['systematic'] else 'no'}}}")
        return _block("Step 8 (converged map W* at the fixed points)", rows)


def _norm_rows(W: str, norms: dict[str, Any], tex: Callable[[Any], str]) -> list[str]:
    """``‖W_q‖ = …`` for each quadrant ``q`` of ``norms`` (``W`` is ``W`` or ``W^*``)."""
    return [rf"\lVert {W}_{{{_quadrant_tex(q)}}} \rVert &= {tex(e)}" for q, e in norms.items()]


def _rule_row(W: str, value: Any, tex: Callable[[Any], str]) -> str:
    """``‖W_{Ox→Oy} − S‖ = value``: how far the ``Ox → Oy`` quadrant is from the rule."""
    return rf"\lVert {W}_{{\mathrm{{Ox}}\to\mathrm{{Oy}}}} - S \rVert &= {tex(value)}"


def _per_module(th: Derivation, rows: Callable[[Any], list[str]]) -> list[str]:
    """Each module's rows, opened by its name."""
    return [row for md in th.modules
            for row in [rf"&\text{{module {text(md.name)}:}}", *rows(md)]]


def _implicit_rows(L: int, tex: Callable[[Any], str]) -> list[str]:
    """The implicit solution ``t(a)`` of depth ``L`` (docs/theory/learning-dynamics.md)."""
    w, w0 = sp.Symbol("w"), sp.Symbol("w_0")
    G = sp.Function(f"G_{L}")
    return [rf"t(a) &= {tex(dynamics.time_scale(L))}"
            rf"\left[{tex(G(w))} - {tex(G(w0))}\right], \qquad "
            rf"w = {tex(dynamics.scaled_strength(L, sy.a))}, \ "
            rf"w_0 = {tex(dynamics.scaled_strength(L, sy.a0))}",
            rf"{tex(G(w))} &= {tex(dynamics.scaled_time(L).xreplace({dynamics.w: w}))}"]


def derivation_latex(th: Derivation, notebook: bool = False, with_rule: bool = True) -> str:
    """All steps of ``th`` as LaTeX ``align*`` blocks (``notebook`` adds ``$$`` wrapping of
    ``aligned`` environments for ``_repr_latex_``); with ``with_rule`` and a derivation with
    a learning rule (``th.rule``), the rule's per-mode dynamics last (:class:`LatexPrinter`)."""
    return LatexPrinter(notebook=notebook, with_rule=with_rule).doprint(th)


def rule_latex(rd: Any) -> str:
    """A learning rule's derivation (:class:`~modspec.theory.rule_derivation.RuleDerivation`)
    as an ``align*`` block: its per-mode system ``dc_l/dt`` and fixed points, or why it does
    not reduce to modes."""
    return LatexPrinter().doprint(rd)
