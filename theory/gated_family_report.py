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
from .gated_family import MAX_SOLVE_EDGES, FamilyModes
from .symbols import text_name, to_text

__all__ = ["family_payload", "family_text", "family_latex"]


def _loss(result: FamilyModes) -> sp.Expr:
    """ℓ of aligned weights with symbolic strengths ``b[e]`` on every mode."""
    return result.loss({m.label: {e: result.b[e] for e in m.edges} for m in result.modes})


def family_payload(result: FamilyModes) -> dict[str, Any]:
    """The JSON report (see the module docstring): every expression, and every name of a
    symbol used as a key, as plain :func:`sympy.sympify` reads it
    (:func:`~modspec.theory.symbols.to_text`: ``b[Win]`` is ``b_Win_``)."""
    net = result.network
    active = active_pathways(net, 1)
    symbols = sorted({text_name(str(s)) for m in result.modes
                      for v in (m.multiplicity, *m.values.values()) for s in v.free_symbols})
    return {
        "network": net.name, "family": getattr(result.dataset, "family", "compositional"),
        "symbols": symbols, "contexts": len(net.contexts),
        "pathways": {"trained": [path_label(p) for p in active],
                     "untrained": [path_label(p) for p in net.pathways if p not in active]},
        "basis_condition": {"holds": True, "reason": "the family's atoms diagonalise every "
                            "gated statistic (gates constant or per context)"},
        "modes": [{"mode": m.label, "multiplicity": to_text(m.multiplicity),
                   "edges": list(m.edges),
                   "statistics": {text_name(str(k)): to_text(v) for k, v in m.values.items()
                                  if v != 0},
                   "equations": {e: to_text(r) for e, r in m.equations.items()},
                   "conserved": [to_text(q) for q in m.conserved],
                   "fixed_points": None if m.fixed_points is None else [
                       {text_name(str(k)): to_text(v) for k, v in sol.items()}
                       for sol in m.fixed_points],
                   "loss": to_text(m.loss)} for m in result.modes],
        "sigma_y": {k: to_text(v) for k, v in result.sigma_y.items()},
        "loss": to_text(_loss(result)),
        "hidden_widths": {h: to_text(w) for h, w in result.widths.items()},
    }


def family_text(result: FamilyModes) -> str:
    """The report as lines of text (strengths ``b[e]``, statistics ``s[p]``, ``d[j|p]``)."""
    net = result.network
    active = active_pathways(net, 1)
    symbols = sorted({str(s) for m in result.modes
                      for v in (m.multiplicity, *m.values.values()) for s in v.free_symbols})
    lines = [f"network {net.name} on the {getattr(result.dataset, 'family', 'compositional')} "
             f"family (symbols {', '.join(symbols) or 'none'}): {len(net.contexts)} contexts; "
             f"{len(active)} trained pathways, {len(net.pathways) - len(active)} untrained",
             "the family's atoms are shared singular vectors: the race reduction holds"]
    for m in result.modes:
        lines.append(f"mode {m.label} (multiplicity {m.multiplicity}): {len(m.edges)} edges")
        lines += [f"  {k} = {v}" for k, v in m.values.items() if v != 0]
        lines += [f"  τ d{e}/dt = {r}" for e, r in m.equations.items()]
        lines += [f"  conserved: {q}" for q in m.conserved]
        if m.fixed_points is None:
            lines.append(f"  fixed points: not solved symbolically (more than "
                         f"{MAX_SOLVE_EDGES} edges)")
        else:
            lines += ["  fixed point: " + ", ".join(f"{k} = {v}" for k, v in sol.items())
                      for sol in m.fixed_points]
    lines += [f"Σy[{k}] = {v}" for k, v in result.sigma_y.items()]
    lines.append(f"loss = {_loss(result)}")
    lines += [f"hidden layer {h} needs at least {w} units" for h, w in result.widths.items()]
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
