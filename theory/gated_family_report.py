"""What ``modspec derive --network FILE.toml --dataset FAMILY.toml --symbolic`` prints.

docs/theory/gated.md §6. The race of a gated network on a dataset family of symbolic sizes
(:func:`modspec.theory.gated_family.family_modes`) as JSON (:func:`family_payload`: every
expression a string, in the strengths ``b[e]`` and the family's symbols), text
(:func:`family_text`) or LaTeX (:func:`family_latex`): per mode, its atoms and multiplicity,
statistics, per-mode ODEs ``τ db_e/dt``, conserved quantities, fixed points (where SymPy
solved them) and loss; the output statistics Σy, the loss ℓ of aligned weights and the width
each hidden layer needs.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from .gated_data import active_pathways, path_label
from .gated_family import FamilyModes

__all__ = ["family_payload", "family_text", "family_latex"]


def _loss(result: FamilyModes) -> sp.Expr:
    """ℓ of aligned weights with symbolic strengths ``b[e]`` on every mode."""
    return result.loss({m.label: {e: result.b[e] for e in m.edges} for m in result.modes})


def family_payload(result: FamilyModes) -> dict[str, Any]:
    """The JSON report (see the module docstring)."""
    net = result.network
    active = active_pathways(net, 1)
    symbols = sorted({str(s) for m in result.modes for s in m.multiplicity.free_symbols}
                     | {str(s) for m in result.modes for v in m.values.values()
                        for s in v.free_symbols})
    return {
        "network": net.name, "family": getattr(result.dataset, "family", "compositional"),
        "symbols": symbols, "contexts": len(net.contexts),
        "pathways": {"trained": [path_label(p) for p in active],
                     "untrained": [path_label(p) for p in net.pathways if p not in active]},
        "basis_condition": {"holds": True, "reason": "the family's atoms diagonalise every "
                            "gated statistic (gates constant or per context)"},
        "modes": [{"mode": m.label, "multiplicity": str(m.multiplicity),
                   "edges": list(m.edges),
                   "statistics": {str(k): str(v) for k, v in m.values.items() if v != 0},
                   "equations": {e: str(r) for e, r in m.equations.items()},
                   "conserved": [str(q) for q in m.conserved],
                   "fixed_points": None if m.fixed_points is None else [
                       {str(k): str(v) for k, v in sol.items()} for sol in m.fixed_points],
                   "loss": str(m.loss)} for m in result.modes],
        "sigma_y": {k: str(v) for k, v in result.sigma_y.items()},
        "loss": str(_loss(result)),
        "hidden_widths": {h: str(w) for h, w in result.widths.items()},
    }


def family_text(result: FamilyModes) -> str:
    """The report as lines of text."""
    pay = family_payload(result)
    lines = [f"network {pay['network']} on the {pay['family']} family "
             f"(symbols {', '.join(pay['symbols']) or 'none'}): {pay['contexts']} contexts; "
             f"{len(pay['pathways']['trained'])} trained pathways, "
             f"{len(pay['pathways']['untrained'])} untrained",
             "the family's atoms are shared singular vectors: the race reduction holds"]
    for m in pay["modes"]:
        lines.append(f"mode {m['mode']} (multiplicity {m['multiplicity']}): "
                     f"{len(m['edges'])} edges")
        lines += [f"  {k} = {v}" for k, v in m["statistics"].items()]
        lines += [f"  τ d{e}/dt = {r}" for e, r in m["equations"].items()]
        lines += [f"  conserved: {q}" for q in m["conserved"]]
        if m["fixed_points"] is None:
            lines.append("  fixed points: not solved symbolically (more than 3 edges)")
        else:
            lines += ["  fixed point: " + ", ".join(f"{k} = {v}" for k, v in sol.items())
                      for sol in m["fixed_points"]]
    lines += [f"Σy[{k}] = {v}" for k, v in pay["sigma_y"].items()]
    lines.append(f"loss = {pay['loss']}")
    lines += [f"hidden layer {h} needs at least {w} units" for h, w in
              pay["hidden_widths"].items()]
    return "\n".join(lines)


def family_latex(result: FamilyModes) -> str:
    """The per-mode ODEs, conserved quantities and the loss in an ``align*`` environment."""
    rows = []
    for m in result.modes:
        rows.append(rf"&\text{{mode {m.label}, multiplicity }} {sp.latex(m.multiplicity)}")
        rows += [rf"\tau \frac{{d}}{{dt}} {sp.latex(result.b[e])} &= {sp.latex(r)}"
                 for e, r in m.equations.items()]
        rows += [rf"&{sp.latex(q)} = \text{{const}}" for q in m.conserved]
    rows.append(rf"\ell &= {sp.latex(_loss(result))}")
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"
