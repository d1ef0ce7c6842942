"""A derivation exported as the JSON contract, a plain-text report or LaTeX.

What ``modspec derive`` prints, reachable from Python:

    payload(th)                       # the JSON contract (plain Python)
    render(th, fmt="json"|"text"|"latex")

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
                                "attracting_curve", "solving"}],  # solving: equations
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

import json
from typing import Any

import sympy as sp

from .derivation import Derivation, validity
from .errors import ModspecError, bad
from .polyroots import MAX_DEGREE
from .symbols import to_text

__all__ = ["latex_report", "payload", "render", "strict_json", "text_report"]


def _conv(symbolic: bool):
    def conv(e: Any) -> Any:
        if e is None:
            return None
        return to_text(e) if symbolic else float(e)
    return conv


def _mult(symbolic: bool):
    return to_text if symbolic else int


def payload(th: Derivation, train_objects: list[int] | None = None,
            rule: Any = None) -> dict[str, Any]:
    """The JSON contract of ``modspec derive`` (see the module docstring); ``rule`` (a
    :class:`~modspec.theory.rules.Rule`) adds its derivation
    (:func:`modspec.theory.rule_derivation.derive_rule`)."""
    symbolic = th.symbolic
    conv, mult = _conv(symbolic), _mult(symbolic)
    modules = []
    dynamics = {}
    half = th.half_rise_times
    for md in th.modules:
        groups = md.spectrum.distinct_modes()
        modes = [{"label": "+".join(m.label for m in g), "s": conv(g[0].s),
                  "lambda": conv(g[0].lam),
                  "multiplicity": mult(sp.Add(*[m.multiplicity for m in g])),
                  "fixed_point": None if th.coupled else conv(g[0].fixed_point)}
                 for g in groups]
        modules.append({"name": md.name, "inputs": list(md.module.inputs),
                        "outputs": list(md.module.outputs), "depth": md.module.depth,
                        "modes": modes})
        dynamics[md.name] = {
            "mode_ode": None if th.coupled else to_text(md.mode_ode),
            "closed_form": None if md.solution is None else to_text(md.solution),
            "implicit": None if md.implicit is None else to_text(md.implicit),
            "half_rise": {"+".join(m.label for m in g): to_text(half[md.keys[g[0].label]])
                          for g in groups if md.keys[g[0].label] in half},
            "matrix_odes": [to_text(eq) for eq in th.matrix_odes[md.name]],
        }
    out: dict[str, Any] = {"dataset": th.dataset.describe(), "architecture": th.network.name,
                           "coupled": th.coupled, "modules": modules,
                           "converged": _converged(th), "dynamics": dynamics}
    if symbolic:
        out["validity"] = validity(th)
        depth_free = _any_depth(th)
        if depth_free is not None:
            out["any_depth"] = depth_free
    if th.coupled:
        out["note"] = th.converged["note"]
    if train_objects is not None:
        out["heldout"] = _heldout(th, train_objects)
    rule = th.rule if rule is None else rule
    if rule is not None:
        from .rule_derivation import RuleDerivation, derive_rule, describe

        out["rule"] = describe(rule if isinstance(rule, RuleDerivation)
                               else derive_rule(th, rule))
    return out


def _any_depth(th: Derivation) -> dict[str, Any] | None:
    """For the symbolic hierarchical family's dense network: its modes for any number of
    levels ``D`` (:func:`~modspec.theory.families.hierarchical_levels`), the root and a generic
    level ``g``; ``None`` otherwise."""
    from .families import hierarchical_levels

    if (getattr(th.dataset, "family", None) != "hierarchical" or len(th.modules) != 1
            or th.modules[0].spectrum.outputs != tuple(th.dataset.output_blocks)):
        return None
    modes = [{"label": m.label, "s": to_text(m.s), "lambda": to_text(m.lam),
              "multiplicity": to_text(m.multiplicity), "fixed_point": to_text(m.fixed_point),
              "condition": to_text(m.condition)} for m in hierarchical_levels()]
    return {"levels": "D", "modes": modes,
            "note": "the dense network's modes for any number of levels D: the root (level0) "
                    "and a generic level g, 1 <= g <= D - 1 (level_g)"}


def _converged(th: Derivation) -> dict[str, Any]:
    c = th.converged
    if c.get("quadrant_norms") is None:
        return {"quadrant_norms": None, "systematic": None, "method": c["method"]}
    conv = _conv(th.symbolic)
    out = {"quadrant_norms": {k: conv(v) for k, v in c["quadrant_norms"].items()},
           "systematic": c["systematic"],
           "report": {k: conv(v) for k, v in c["report"].items()},
           "method": c["method"]}
    if "quadrant_norms_std" in c:  # a coupled network's end point over several starts
        out["quadrant_norms_std"] = c["quadrant_norms_std"]
        out["starts"] = c["starts"]
    return out


def _heldout(th: Derivation, objects: list[int]) -> dict[str, Any]:
    from .heldout import heldout

    if th.symbolic:
        raise bad("train_objects", objects, "needs a numeric dataset (drop --symbolic)")
    h = heldout(th.dataset, th.network, objects)
    return h.as_dict() | {"method": h.method}


def strict_json(data: Any) -> str:
    """``data`` as indented, strict JSON: JSON has no NaN or Infinity, so a value that is not
    finite is refused (ModspecError, one line at the command line) instead of printed."""
    try:
        return json.dumps(data, indent=2, allow_nan=False)
    except ValueError:
        raise ModspecError("the result holds NaN or Infinity, which JSON cannot represent: the "
                           "options are outside the range where the numbers are finite; "
                           "nothing was written") from None


def render(th: Derivation, train_objects: list[int] | None = None, fmt: str = "text",
           rule: Any = None) -> str:
    """What ``modspec derive`` prints, in ``fmt`` (``json``, ``latex`` or ``text``); with a
    ``rule`` (:class:`~modspec.theory.rules.Rule`), its per-mode system too."""
    if rule is not None:
        from .rule_derivation import derive_rule

        rule = derive_rule(th, rule)
    rule = th.rule if rule is None else rule
    data = payload(th, train_objects, rule)
    if fmt == "json":
        return strict_json(data)
    if fmt == "latex":
        return latex_report(th, data, rule)
    if fmt == "text":
        return text_report(data)
    raise bad("format", fmt, "must be text, json or latex")


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


def latex_report(th: Derivation, payload: dict[str, Any], rule: Any = None) -> str:
    """The derivation fragment, plus the numerically obtained W* of a coupled network and the
    held-out error when asked for, and a rule's per-mode system (``rule``: a
    :class:`~modspec.theory.rule_derivation.RuleDerivation`)."""
    from .latex import derivation_latex, rule_latex, text

    parts = [derivation_latex(th, with_rule=False)]
    if "any_depth" in payload:
        from .families import hierarchical_levels
        from .spectra import mode_tex
        from .symbols import to_latex as tex

        rows = [rf"s_{{{mode_tex(m.label)}}} &= {tex(m.s)} & m_{{{mode_tex(m.label)}}} &= "
                rf"{tex(m.multiplicity)} & a^*_{{{mode_tex(m.label)}}} &= {tex(m.fixed_point)}"
                + ("" if m.condition is sp.true else rf" && \text{{if }} {tex(m.condition)}")
                for m in hierarchical_levels()]
        parts.append("\\begin{align*}\n&\\text{" + text("Any number of levels D (dense)")
                     + "} \\\\\n" + " \\\\\n".join(rows) + "\n\\end{align*}")
    conv = payload["converged"]
    if th.coupled and conv.get("quadrant_norms"):
        rows = [rf"\lVert W^*_{{\mathrm{{{k.split('->')[0]}}}\to\mathrm{{{k.split('->')[1]}}}}}"
                rf" \rVert &= {v:.6g}" for k, v in conv["quadrant_norms"].items()]
        parts.append("\\begin{align*}\n&\\text{" + text(f"Converged map ({conv['method']})")
                     + "} \\\\\n" + " \\\\\n".join(rows) + "\n\\end{align*}")
    if "heldout" in payload:
        h = payload["heldout"]
        rows = [rf"\mathcal{{E}}_{{\text{{held-out}}}}(\mathrm{{{b}}}) &= {e:.6g}"
                for b, e in h["block_errors"].items()]
        parts.append("\\begin{align*}\n&\\text{" + text(f"Held-out objects {h['objects']}")
                     + "} \\\\\n" + " \\\\\n".join(rows) + "\n\\end{align*}")
    if rule is not None:
        parts.append(rule_latex(rule))
    return "\n\n".join(parts)
