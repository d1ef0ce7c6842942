"""LaTeX printing of what every layer of the theory can print: rules, and the printer base.

:class:`LatexBasePrinter` (:mod:`modspec.theory.printing`) prints a
:class:`~modspec.theory.rules.Rule` (its continuous-time dynamics per layer) and a
:class:`~modspec.theory.rule_derivation.RuleDerivation` (its per-mode system and fixed points);
:class:`modspec.theory.latex.LatexPrinter` adds a derivation's steps. Text is escaped by
:func:`text`; :func:`latex_document` wraps a fragment in an ``article`` that ``pdflatex``
compiles. This module imports no theory module but :mod:`~modspec.theory.symbols` and
:mod:`~modspec.theory.printing`, so that the objects it prints may import it.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from . import symbols as sy
from .printing import Printer

__all__ = ["LatexBasePrinter", "finish", "latex_document", "text", "text_block"]

_ESCAPE = {"\\": r"\textbackslash{}", "_": r"\_", "&": r"\&", "%": r"\%", "#": r"\#",
           "$": r"\$", "{": r"\{", "}": r"\}", "^": r"\^{}", "~": r"\~{}"}


def text(s: str) -> str:
    """Escape plain text for ``\\text{...}``; an arrow ``->`` is set as math (→)."""
    return r"$\to$".join("".join(_ESCAPE.get(c, c) for c in part) for part in s.split("->"))


def text_block(title: str, rows: list[str]) -> str:
    """An ``align*`` block opened by ``title`` as escaped text (no notation set as math)."""
    return ("\\begin{align*}\n&\\text{" + text(title) + "} \\\\\n" + " \\\\\n".join(rows)
            + "\n\\end{align*}")


class LatexBasePrinter(Printer):
    """LaTeX of a rule or a rule's derivation; setting ``notebook`` (``$$``-wrapped
    ``aligned`` environments, for ``_repr_latex_``)."""

    format = "latex"
    _default_settings: dict[str, Any] = {"notebook": False}

    def _print_RuleDerivation(self, rd: Any) -> str:  # noqa: N802
        system = rd.system
        if not system.reducible:
            return text_block(f"Learning rule {rd.rule.name}", [
                "&\\text{" + text(f"not reducible to modes: {system.reason}") + "}"])
        rows = [rf"\frac{{dc_{{{k}}}}}{{dt}} &= {sy.to_latex(e)}"
                for k, e in enumerate(system.rhs, start=1)]
        for p in rd.fixed_points:
            point = ", ".join(sy.to_latex(x) for x in p.strengths)
            rows.append(rf"(c_{{1}}, c_{{2}})^* &= ({point}),\quad c_{{1}} c_{{2}} = "
                        rf"{sy.to_latex(p.map)}")
        return text_block(f"Learning rule {rd.rule.name}", rows)

    def _print_Rule(self, rule: Any) -> str:  # noqa: N802
        """The rule's continuous-time dynamics, one ``align*`` row per layer:
        ``Ẇ_l = (G_l + scaled terms)/τ + unscaled terms`` with ``G_l`` gradient descent's
        term and the coefficients' values listed."""
        def tex(e: Any) -> str:
            return sy.to_latex(e, rule.symbol_latex)

        def plus(e: Any) -> str:
            out = tex(e)
            return f" - {out[1:].lstrip()}" if out.startswith("-") else f" + {out}"

        rows = []
        for layer in (1, 2):
            scaled, plain = rule.terms_of(layer, True), rule.terms_of(layer, False)
            inner = rf"G_{{{layer}}}"
            if not isinstance(scaled, sp.ZeroMatrix):
                inner += plus(scaled)
            row = rf"\dot{{W}}_{{{layer}}} &= \frac{{1}}{{\tau}}\left({inner}\right)"
            if not isinstance(plain, sp.ZeroMatrix):
                row += plus(plain)
            rows.append(row)
        if rule.values:
            rows.append(r"&\text{with } " + r",\ ".join(
                f"{tex(k)} = {tex(sp.Float(v, 6))}" for k, v in
                sorted(rule.values.items(), key=lambda kv: kv[0].name)))
        title = rule.name.replace("-", " ").replace("_", r"\_")
        out = ("\\begin{align*}\n" + rf"&\text{{{title}}}" + " \\\\\n"
               + " \\\\\n".join(rows) + "\n\\end{align*}")
        return finish([out], self._settings["notebook"])


def finish(blocks: list[str], notebook: bool) -> str:
    """The blocks of a fragment, or for a ``notebook`` each as ``$$…aligned…$$``."""
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
