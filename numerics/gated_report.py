"""What ``modspec derive --network FILE.toml`` prints: the race of a gated network, as JSON.

docs/theory/gated.md. For a network and its data: the pathways (trained, never trained), the
basis condition; where it holds, for every mode its statistics, its per-mode equations, its
conserved quantities, and the end points from the aligned start of the network's
``[training]`` — of the gradient flow (on the conserved level set of the start) and of gradient
descent at the training's lr (from the iterated per-epoch map) — with their eigenvalues, the
half-rise epoch of every pathway and the winner — of gradient descent and, from the same
start, of the gradient flow (:func:`~modspec.numerics.gated_continuous.flow_race`) — and
every pathway's error at the end of gradient descent (for untrained pathways, the zero-shot
error); where it fails, the one-line reason and the exact matrix flow of every edge.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from modspec.theory.errors import bad
from modspec.theory.gated import GatedNetwork, Training
from modspec.theory.gated_data import GatedData, active_pathways, gated_statistics, path_label
from modspec.theory.gated_flow import gated_flow
from modspec.theory.gated_modes import aligned_weights, basis_condition, pathway_modes

from .gated_race import end_point, mode_system, race

__all__ = ["gated_report", "pathway_errors", "reduction_entry", "report_latex", "MAX_EPOCHS"]

#: Most epochs the per-epoch map is iterated to find where gradient descent ends.
MAX_EPOCHS = 1_000_000


def _num(x: float) -> float:
    return float(f"{float(x):.12g}")


def _converge(system: Any, b: np.ndarray, tau: float) -> tuple[np.ndarray, int]:
    for epoch in range(MAX_EPOCHS):
        step = system(b) / tau
        b = b + step
        if np.max(np.abs(step)) < 1e-15 * max(1.0, float(np.max(np.abs(b)))):
            return b, epoch + 1
        if not np.all(np.isfinite(b)):
            raise bad("training lr", 1 / tau, "makes gradient descent diverge on this network")
    return b, MAX_EPOCHS


def _point(end: Any) -> dict[str, Any]:
    return {"strengths": {e: _num(v) for e, v in end.b.items()},
            "flow_eigenvalues": [_num(v) for v in sorted(end.flow_eigs.real)],
            "map_eigenvalues": [_num(v) for v in sorted(np.abs(end.map_eigs))],
            "attracting": end.attracting, "residual": _num(end.residual)}


def gated_report(network: GatedNetwork, data: GatedData, training: Training | None = None
                 ) -> dict[str, Any]:
    """The report (see the module docstring); ``training`` defaults to the network's own.
    Half-rise times are measured towards where gradient descent ends (the map is iterated
    until it stops moving)."""
    data.check(network)
    training = training or network.training
    stats = gated_statistics(network, data)
    active = active_pathways(network, data.P)
    out: dict[str, Any] = {
        "network": network.name, "contexts": len(network.contexts), "items": data.P,
        "samples": stats.samples,
        "pathways": {"trained": [path_label(p) for p in active],
                     "untrained": [path_label(p) for p in network.pathways if p not in active]},
    }
    flow = gated_flow(network)
    cond = basis_condition(stats)
    out["basis_condition"] = {"holds": cond.holds, "reason": cond.reason}
    if not cond.holds:
        out["matrix_flow"] = {e: str(r) for e, r in flow.rhs.items()}
        return out
    modes = pathway_modes(flow, stats, cond)
    systems = {a: mode_system(modes, a) for a in modes.edges}
    if training is not None:
        tau = 1.0 / (stats.samples * training.lr)
        start = {a: {e: training.start for e in es} for a, es in modes.edges.items()}
        ends = {a: _converge(s, np.array([start[a][e] for e in s.edges]), tau)
                for a, s in systems.items()}
        horizon = max(took for _, took in ends.values())
        races = race(modes, start, training.lr, horizon)
        from .gated_continuous import flow_race

        flows = flow_race(modes, start, training.lr, np.array([0.0]))
        out["training"] = {"lr": training.lr, "start": training.start, "tau": _num(tau),
                           "epochs_to_converge": horizon}
    entries = []
    for a, system in systems.items():
        entry: dict[str, Any] = {
            "mode": a,
            "edges": list(system.edges),
            "statistics": {str(k): _num(v) for k, v in modes.values[a].items() if v != 0},
            "equations": {e: str(r) for e, r in system.rhs.items()},
            "conserved": [str(q) for q in system.conserved],
            "reduction": reduction_entry(modes, a, flows if training is not None else None),
        }
        if training is not None:
            entry.update(_race_entry(system, ends[a], tau, start[a], races, flows, a))
        entries.append(entry)
    out["modes"] = entries
    if training is not None:
        ends_b = {m["mode"]: m["fixed_point_gradient_descent"]["strengths"] for m in entries}
        out["pathway_errors"] = pathway_errors(network, data, aligned_weights(modes, ends_b))
    return out


def _race_entry(system: Any, end: tuple[np.ndarray, int], tau: float,
                start: dict[str, float], races: dict[str, Any], flows: dict[str, Any],
                mode: int) -> dict[str, Any]:
    """A mode's fixed points of gradient descent and of the flow, and its half-rise times
    and winner in both."""
    b_end, took = end
    guess = dict(zip(system.edges, b_end, strict=True))

    def rises(found: dict[str, Any]) -> dict[str, float | None]:
        return {k: (None if v is None else _num(v)) for k, v in found.items()}

    return {"fixed_point_gradient_descent": {**_point(end_point(system, guess, tau)),
                                             "epochs_to_converge": took},
            "fixed_point_flow": _point(end_point(system, guess, tau, start=start)),
            "half_rise": rises(races["half_rise"][mode]), "winner": races["winner"][mode],
            "half_rise_flow": rises(flows["half_rise"][mode]),
            "winner_flow": flows["winner"][mode], "solution_flow": flows["solution"][mode]}


def _shown(expr: Any) -> dict[str, str]:
    """An expression as text (numbers to 12 digits) and as LaTeX."""
    import sympy as sp

    expr = sp.sympify(expr)
    expr = expr.xreplace({f: sp.Float(f, 12) for f in expr.atoms(sp.Float)})
    names = {v: _latex_name(v.name) for v in expr.free_symbols
             if re.match(r"^\w+\[.+\]$", v.name)}
    return {"text": str(expr), "latex": sp.latex(expr, symbol_names=names)}


def reduction_entry(modes: Any, mode: int, flows: dict[str, Any] | None) -> dict[str, Any]:
    """A mode's exact reduction (:mod:`modspec.numerics.gated_exact`): the orbits of its
    symmetries, the reduced equations and conserved quantities on them, and, from the
    training's start (``flows``, :func:`~modspec.numerics.gated_continuous.flow_race`), how
    the flow is solved — the one-variable ODE, every variable as a function of its variable
    and the closed form ``a(t)`` or implicit ``t`` — or why it is integrated."""
    from .gated_exact import reduction

    red = reduction(modes, mode)
    out: dict[str, Any] = {
        "orbits": [list(o) for o in red.symmetry.orbits],
        "equations": {str(u): _shown(red.equations[u]) for u in red.u},
        "conserved": [_shown(q) for q in red.conserved],
    }
    if flows is None:
        return out
    out["method"], out["why"] = flows["solution"][mode], flows["why"][mode]
    exact = flows["exact"][mode]
    if exact is not None:
        out["one_variable"] = {
            "variable": str(exact.variable), "rate": _shown(exact.rate),
            "relations": {str(u): _shown(r) for u, r in exact.relations.items()},
            "solution": _shown(exact.solution),
            "solution_is": "a(t)" if exact.method == "closed form" else "t",
        }
    return out


def pathway_errors(network: GatedNetwork, data: GatedData, weights: dict[str, np.ndarray]
                   ) -> dict[str, float]:
    """For every pathway p, trained or not: ``mean over items of ‖y_{t(p)} − W_p x_{s(p)}‖²``,
    its error on the data of its two ends with every gate on (for an untrained pathway, the
    zero-shot error)."""
    X, Y = data.numeric()
    out = {}
    for p in network.pathways:
        Wp = weights[p[0]]
        for e in p[1:]:
            Wp = weights[e] @ Wp
        err = Y[network.target(p)] - Wp @ X[network.source(p)]
        out[path_label(p)] = _num(np.mean(np.sum(err**2, axis=0)))
    return out


def report_latex(report: dict[str, Any]) -> str:
    """``derive --network --format latex``: per mode, an ``align*`` block with the reduced
    equations on the symmetric subspace and the conserved quantities there, then how the
    flow from the training's start is solved — the one-variable ODE, every other variable as
    a function of it, and the closed form ``a(t)`` or the implicit ``t`` — or why it is
    integrated. Where the basis condition fails, its one-line reason."""
    if not report["basis_condition"]["holds"]:
        return f"% {report['basis_condition']['reason']}"
    blocks = []
    for m in report["modes"]:
        red = m["reduction"]
        alike = "; ".join(" = ".join(o) for o in red["orbits"] if len(o) > 1) or "none"
        rows = [rf"&\text{{mode {m['mode']}: alike edges {alike}}}"]
        rows += [rf"\tau \frac{{d}}{{d t}} {_latex_name(u)} &= {eq['latex']}"
                 for u, eq in red["equations"].items()]
        rows += [rf"{q['latex']} &= \text{{const}}" for q in red["conserved"]]
        one = red.get("one_variable")
        if one is not None:
            x = _latex_name(one["variable"])
            rows.append(rf"&\text{{gradient flow: {red['method']}}}")
            rows.append(rf"\tau \frac{{d}}{{d t}} {x} &= {one['rate']['latex']}")
            rows += [rf"{_latex_name(u)} &= {r['latex']}" for u, r in one["relations"].items()
                     if u != one["variable"]]
            lhs = "a(t)" if one["solution_is"] == "a(t)" else "t"
            rows.append(rf"{lhs} &= {one['solution']['latex']}")
        elif "method" in red:
            rows.append(rf"&\text{{gradient flow integrated: {_latex_text(red['why'])}}}")
        blocks.append("\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}")
    return "\n\n".join(blocks)


def _latex_name(name: str) -> str:
    """``u[edge]`` as ``u_{\\mathrm{edge}}``; other names unchanged."""
    return re.sub(r"^(\w+)\[(.+)\]$", r"\1_{\\mathrm{\2}}", name)


def _latex_text(text: str) -> str:
    """Plain text safe inside ``\\text{}``."""
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("^", r"\^{}"), ("#", r"\#"),
                 ("%", r"\%"), ("&", r"\&"), ("{", r"\{"), ("}", r"\}")):
        text = text.replace(a, b)
    return text
