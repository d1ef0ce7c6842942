"""A derivation exported as the JSON contract, a plain-text report or LaTeX.

What ``modspec derive`` prints, reachable from Python:

    payload(th)                       # the JSON contract (plain Python): JsonPrinter
    render(th, fmt="json"|"text"|"latex")   # JsonPrinter, TextPrinter, LatexPrinter

The printers (:mod:`modspec.theory.printing`) dispatch on the type they print
(``_print_Derivation``, ``_print_RuleDerivation``, ``_print_Rule``, …); the cached answer of
``modspec derive`` and its key are :mod:`modspec.theory.reports`.

JSON contract::

    {"dataset": {...}, "architecture": str, "coupled": bool,
     "modules": [{"name", "inputs", "outputs", "depth",
                  "modes": [{"label", "s", "lambda", "multiplicity", "fixed_point"}]}],
                  # one entry per distinct (s, lambda): modes sharing both are merged,
                  # labels joined by "+", multiplicities summed
     "converged": {"quadrant_norms": {"Ox->Oy", "Gx->Oy", "Ox->Gy", "Gx->Gy"},
                   "systematic": bool, "report": {...}, "method": str,
                   "quadrant_norms_std": {...}, "starts": int},   # std: coupled, deep
     "dynamics": {module: {"mode_ode", "closed_form", "implicit", "half_rise": {label: str},
                           "matrix_odes": [...]}},
     "heldout": {"compositional_error", "block_errors": {block: float}, ...},
                                            # only with train_objects
     "rule": {"rule", "coefficients", "reducible", "reason", "outputs_linear_in_inputs",
              "sigma_y", "per_mode_system": {"continuous", "per_epoch"},
              "fixed_points": [{"strengths", "map", "eigenvalues", "stable",
                                "attracting_curve", "solving"?}],  # solving: equations
                                # of the points without closed form (then strengths bare)
              "at_optimum": {"W1", "W2"}, "vanishes_at_optimum": {...}},  # only with a rule
     "validity": {"domain": [...], "modes": {key: condition}},   # only for symbolic data
     "any_depth": {"levels": "D", "modes": [...], "note": str}}  # symbolic hierarchical, dense

For a symbolic dataset, expressions are strings in the family's symbols (compositional ``nx ny
kx ky rx ry``, hierarchical ``c f r`` and ``D``, parity ``nx kx ky r``) that plain
``sympy.sympify`` reads (:func:`~modspec.theory.symbols.to_text`: λ is written ``lam``, ``Wᵀ``
``transpose(W)``; :func:`~modspec.theory.symbols.parse` reads them into the canonical symbols).
``implicit`` is the implicit solution ``t(a)`` of a module deeper than 2 (no elementary
``a(t)``), ``half_rise`` the time (epochs) at which each mode reaches half its fixed point.
For a *coupled* network (modules sharing an output block) no closed form is claimed: each
module's modes are those of its own covariances, with ``fixed_point`` null, and ``W*`` is
:attr:`~modspec.theory.derivation.Derivation.converged` (exact at depth 1, the integrated
matrix flow deeper).
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from . import symbols as sy
from .derivation import Derivation
from .errors import bad
from .latex import LatexPrinter, latex_document, text_block
from .payload import JsonPrinter, payload, rule_of, strict_json
from .polyroots import MAX_DEGREE
from .printing import Printer
from .spectra import mode_tex

__all__ = ["JsonPrinter", "LatexReportPrinter", "TextPrinter", "architectures_document",
           "latex_report", "payload", "printer", "render", "strict_json", "text_report"]


def printer(fmt: str, **settings: Any) -> Printer:
    """The printer of ``modspec derive``'s format ``fmt`` (``text``, ``json``, ``latex``)
    with ``settings`` (``train_objects``, ``rule``)."""
    classes = {"text": TextPrinter, "json": JsonPrinter, "latex": LatexReportPrinter}
    if fmt not in classes:
        raise bad("format", fmt, "must be text, json or latex")
    return classes[fmt](**settings)


def render(th: Derivation, train_objects: list[int] | None = None, fmt: str = "text",
           rule: Any = None) -> str:
    """What ``modspec derive`` prints, in ``fmt`` (``json``, ``latex`` or ``text``: the
    printer of that format); with a ``rule`` (:class:`~modspec.theory.rules.Rule`), its
    per-mode system instead of ``Derivation.rule``'s."""
    out = printer(fmt, train_objects=train_objects, rule=rule_of(th, rule)).doprint(th)
    return strict_json(out) if fmt == "json" else out


class TextPrinter(Printer):
    """The plain-text report of ``modspec derive``: a derivation is printed from its JSON
    contract (:class:`JsonPrinter`, same settings), a rule derivation as its lines."""

    format = "text"
    _default_settings = {"train_objects": None, "rule": None}

    def _print_Derivation(self, th: Derivation) -> str:  # noqa: N802
        return self._print(JsonPrinter(**self._settings).doprint(th))

    def _print_dict(self, data: dict[str, Any]) -> str:
        return text_report(data)

    def _print_RuleDerivation(self, rd: Any) -> str:  # noqa: N802
        from .rule_derivation import describe

        return "\n".join(_rule_text(describe(rd)))

    def _print_Rule(self, rule: Any) -> str:  # noqa: N802
        return rule.label


def text_report(payload: dict[str, Any]) -> str:
    """The plain-text report of ``modspec derive`` from its JSON :func:`payload`."""
    lines = [f"dataset {payload['dataset']}", f"architecture {payload['architecture']}"]
    if payload.get("coupled"):
        lines.append("coupled: " + payload["note"])
    else:
        lines.append("decoupled: modules write disjoint output blocks and learn independently")
    for m in payload["modules"]:
        dyn = payload["dynamics"][m["name"]]
        lines.append(f"module {m['name']}: {'+'.join(m['inputs'])} -> "
                     f"{'+'.join(m['outputs'])}, depth {m['depth']}")
        for eq in dyn["matrix_odes"]:
            lines.append(f"  {eq}")
        if dyn["mode_ode"]:
            lines.append(f"  mode ODE: {dyn['mode_ode']}")
            if dyn["closed_form"]:
                lines.append(f"  closed form: {dyn['closed_form']}")
            else:
                lines.append(f"  implicit solution (a(t) is not elementary): "
                             f"t = {dyn['implicit']}")
            for label, t_half in dyn["half_rise"].items():
                lines.append(f"  half-rise time of {label} (epochs): {t_half}")
        for mode in m["modes"]:
            fp = mode["fixed_point"]
            lines.append(f"  {mode['label']:<10} s = {mode['s']}  lambda = {mode['lambda']}  "
                         f"x{mode['multiplicity']}  fixed point = "
                         f"{'n/a (coupled)' if fp is None else fp}")
    conv = payload["converged"]
    lines.append(f"converged map ({conv['method']}):")
    std = conv.get("quadrant_norms_std", {})
    for k, v in (conv["quadrant_norms"] or {}).items():
        lines.append(f"  {k:<7} {v}" + (f" ± {std[k]:.3g} (std over {conv['starts']} starts)"
                                         if k in std else ""))
    if conv.get("report"):
        lines.append(f"  ||W[Ox->Oy] - S|| = {conv['report']['rule_error']}")
    lines.append(f"systematic: {conv['systematic']}")
    if "heldout" in payload:
        h = payload["heldout"]
        if h["compositional_error"] is not None:
            lines.append(f"held-out objects {h['objects']}: compositional error "
                         f"{h['compositional_error']:.6g} (train objects' Ox covariance full "
                         f"rank: {h['ox_covariance_full_rank']})")
        lines.append(f"held-out objects {h['objects']}: error per output block (mean over "
                     "objects of the summed squared error) "
                     + ", ".join(f"{b} {e:.6g}" for b, e in h["block_errors"].items()))
    if "rule" in payload:
        lines += _rule_text(payload["rule"])
    return "\n".join(lines)


def _rule_text(r: dict[str, Any]) -> list[str]:
    values = ", ".join(f"{k} = {v:g}" for k, v in r["coefficients"].items())
    lines = [f"learning rule {r['rule']}" + (f" ({values})" if values else "") + ":"]
    if not r["reducible"]:
        return lines + [f"  not reducible to modes: {r['reason']}; simulated only"]
    lines.append("  per mode, W1 = R diag(c_1) V^T, W2 = U diag(c_2) R^T (aligned ansatz, "
                 "derived to stay diagonal):")
    lines += [f"    {eq}" for eq in r["per_mode_system"]["continuous"]]
    lines.append("  per epoch (exact):")
    lines += [f"    {eq}" for eq in r["per_mode_system"]["per_epoch"]]
    if r["sigma_y"]:
        lines.append(f"  outputs linear in the inputs: sigma_y = {r['sigma_y']} for every mode")
    for p in r["fixed_points"]:
        if p.get("solving"):
            lines.append("  further fixed points (c_1, c_2), no closed form (a factor of degree "
                         f"above {MAX_DEGREE} in c_1): the real roots of "
                         + ", ".join(f"{e} = 0" for e in p["solving"]))
            continue
        stable = ("a curve of fixed points: neutral along it, attracting across it"
                  if p.get("attracting_curve") else
                  {True: "stable", False: "unstable", None: "stability not decided "
                   "symbolically"}[p["stable"]])
        lines.append(f"  fixed point (c_1, c_2) = ({', '.join(p['strengths'])}): map "
                     f"{p['map']}, Jacobian eigenvalues {', '.join(p['eigenvalues'])} "
                     f"({stable})")
    for layer, expr in r["at_optimum"].items():
        verdict = "vanishes" if r["vanishes_at_optimum"][layer] else "does not vanish"
        lines.append(f"  extra term of {layer} at W* (c_1 c_2 = s/lam), tau-units: {expr} "
                     f"({verdict})")
    return lines


class LatexReportPrinter(LatexPrinter):
    """What ``modspec derive --format latex`` prints: the derivation's steps
    (:class:`~modspec.theory.latex.LatexPrinter`), then the extras of its JSON contract
    (``payload``, computed with ``train_objects`` when not given): the modes for any number
    of levels, a coupled network's numerically obtained ``W*``, the held-out errors; then
    the rule."""

    _default_settings = {**LatexPrinter._default_settings, "train_objects": None,
                         "payload": None}

    def _print_Derivation(self, th: Derivation) -> str:  # noqa: N802
        data = self._settings["payload"]
        if data is None:
            data = payload(th, self._settings["train_objects"], self._settings["rule"])
        settings = {k: v for k, v in self._settings.items()
                    if k in LatexPrinter._default_settings}
        return LatexPrinter(**settings | {"extras": _extras(th, data)}).doprint(th)


def _extras(th: Derivation, data: dict[str, Any]) -> list[str]:
    blocks = []
    if "any_depth" in data:
        blocks.append(_any_depth_block(th))
    conv = data["converged"]
    if th.coupled and conv.get("quadrant_norms"):
        rows = [rf"\lVert W^*_{{\mathrm{{{k.split('->')[0]}}}\to"
                rf"\mathrm{{{k.split('->')[1]}}}}} \rVert &= {v:.6g}"
                for k, v in conv["quadrant_norms"].items()]
        blocks.append(text_block(f"Converged map ({conv['method']})", rows))
    if "heldout" in data:
        h = data["heldout"]
        rows = [rf"\mathcal{{E}}_{{\text{{held-out}}}}(\mathrm{{{b}}}) &= {e:.6g}"
                for b, e in h["block_errors"].items()]
        blocks.append(text_block(f"Held-out objects {h['objects']}", rows))
    return blocks


def _any_depth_block(th: Derivation) -> str:
    """The symbolic hierarchical family's dense modes for any number of levels ``D``."""
    from .families import family_of

    rows = [rf"s_{{{mode_tex(m.label)}}} &= {sy.to_latex(m.s)} & m_{{{mode_tex(m.label)}}} &= "
            rf"{sy.to_latex(m.multiplicity)} & a^*_{{{mode_tex(m.label)}}} &= "
            rf"{sy.to_latex(m.fixed_point)}"
            + ("" if m.condition is sp.true else
               rf" && \text{{if }} {sy.to_latex(m.condition)}")
            for m in family_of(th.dataset).any_depth()]
    return text_block("Any number of levels D (dense)", rows)


def latex_report(th: Derivation, payload: dict[str, Any], rule: Any = None) -> str:
    """The derivation fragment, plus the numerically obtained W* of a coupled network and the
    held-out error of ``payload`` (:func:`payload`) where it has them, and a rule's per-mode
    system (``rule``: a :class:`~modspec.theory.rule_derivation.RuleDerivation`)
    (:class:`LatexReportPrinter`)."""
    return LatexReportPrinter(payload=payload, rule=rule).doprint(th)


def architectures_document() -> str:
    """The study's ``derivation.tex``: a complete LaTeX document (amsmath) of the symbolic
    derivation of the compositional family for every architecture preset."""
    from .architectures import PRESETS, architecture
    from .dataset import CompositionalDataset
    from .derivation import derive

    sym = CompositionalDataset.symbolic()
    sections = []
    for name in PRESETS:
        th = derive(sym, architecture(name))
        sections.append(f"\\section*{{Architecture: {name}}}\n{th.to_latex()}")
    return latex_document("\n\n".join(sections))
