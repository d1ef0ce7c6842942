"""``modspec derive``: the derivation of an architecture's learning dynamics, one entry per module.

JSON contract (design.md)::

    {"dataset": {...}, "architecture": str, "coupled": bool,
     "modules": [{"name", "inputs", "outputs", "depth",
                  "modes": [{"label", "s", "lambda", "multiplicity", "fixed_point"}]}],
     "converged": {"quadrant_norms": {"Ox->Oy", "Gx->Oy", "Ox->Gy", "Gx->Gy"},
                   "systematic": bool, "report": {...}, "method": str},
     "dynamics": {module: {"mode_ode", "closed_form", "implicit", "half_rise": {label: str},
                           "matrix_odes": [...]}},
     "heldout": {...}}                      # only with --train-objects

With ``--symbolic`` expressions are strings that ``sympy.sympify`` reads (symbols
``nx ny kx ky rx ry``). ``implicit`` is the implicit solution ``t(a)`` of a module deeper than
2 (no elementary ``a(t)``) in ``a a0 tau s lambda``, and ``half_rise`` the time (epochs) at
which each mode reaches half its fixed point, in ``tau a0`` (and the dataset symbols); strings
that name ``lambda`` are read with :func:`modspec.theory.symbols.parse`.

For a *coupled* network (modules sharing an output block) the derivation claims no closed
form: each module's modes are those of its own covariances, with ``fixed_point`` null, and
``W*`` comes from integrating the exact matrix flow
(:func:`modspec.numerics.integrate.converged_map`), or, for depth 1, from the exact
minimum-parameter-norm map of :mod:`modspec.theory.matrix_flow`.

Results are cached on disk (content-hashed, :mod:`modspec.theory.cache`): a warm call prints the
stored answer without deriving again.
"""

from __future__ import annotations

import argparse
from typing import Any

from modspec.commands.options import (
    add_architecture_options,
    add_dataset_options,
    add_objects_option,
    dataset_from,
    network_from,
    parse_objects,
    write_json,
)
from modspec.theory.errors import bad


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("derive", help="derive modes, dynamics and the converged map",
                       description="Derive the matrix flow, the modes, closed-form dynamics, "
                                   "fixed points and the converged map W* of an architecture "
                                   "(theory.md §3–4); one entry per module.")
    add_dataset_options(p)
    add_architecture_options(p)
    p.add_argument("--symbolic", action="store_true",
                   help="derive for symbolic nx ny kx ky rx ry (dataset options ignored)")
    add_objects_option(p, help="train on these objects only (integers in [0, 2**nx), spaces "
                               "or commas) and report the held-out compositional error")
    p.add_argument("--format", choices=("text", "json", "latex"), default="text")
    p.add_argument("--no-cache", action="store_true",
                   help="derive again instead of reading the on-disk cache")
    p.set_defaults(func=run)


# ----------------------------------------------------------------------------- payload
def _conv(symbolic: bool):
    def conv(e: Any) -> Any:
        if e is None:
            return None
        return str(e) if symbolic else float(e)
    return conv


def _mult(symbolic: bool):
    return (lambda e: str(e)) if symbolic else (lambda e: int(e))


def derivation_payload(dataset: Any, network: Any, train_objects: list[int] | None = None,
                       th: Any = None) -> dict[str, Any]:
    """The JSON contract of ``modspec derive`` (design.md), plus dynamics and held-out."""
    from modspec.theory.derivation import derive

    th = th or derive(dataset, network)
    symbolic = th.symbolic
    conv, mult = _conv(symbolic), _mult(symbolic)
    modules = []
    dynamics = {}
    half = th.half_rise_times
    for md in th.modules:
        modes = [{"label": m.label, "s": conv(m.s), "lambda": conv(m.lam),
                  "multiplicity": mult(m.multiplicity),
                  "fixed_point": None if th.coupled else conv(m.fixed_point)}
                 for m in md.spectrum.modes]
        modules.append({"name": md.name, "inputs": list(md.module.inputs),
                        "outputs": list(md.module.outputs), "depth": md.module.depth,
                        "modes": modes})
        dynamics[md.name] = {
            "mode_ode": None if th.coupled else str(md.mode_ode),
            "closed_form": None if md.solution is None else str(md.solution),
            "implicit": None if md.implicit is None else str(md.implicit),
            "half_rise": {m.label: str(half[md.keys[m.label]]) for m in md.spectrum.modes
                          if md.keys[m.label] in half},
            "matrix_odes": [str(eq) for eq in th.matrix_odes[md.name]],
        }
    payload: dict[str, Any] = {"dataset": dataset.describe(), "architecture": network.name,
                               "coupled": th.coupled, "modules": modules,
                               "converged": _converged(th), "dynamics": dynamics}
    if th.coupled:
        payload["note"] = th.converged["note"]
    if train_objects is not None:
        payload["heldout"] = _heldout(dataset, network, train_objects)
    return payload


def _converged(th: Any) -> dict[str, Any]:
    c = th.converged
    if c.get("quadrant_norms") is None:
        return {"quadrant_norms": None, "systematic": None, "method": c["method"]}
    conv = _conv(th.symbolic)
    return {"quadrant_norms": {k: conv(v) for k, v in c["quadrant_norms"].items()},
            "systematic": c["systematic"],
            "report": {k: conv(v) for k, v in c["report"].items()},
            "method": c["method"]}


def _heldout(dataset: Any, network: Any, objects: list[int]) -> dict[str, Any]:
    from modspec.theory.heldout import heldout

    if dataset.is_symbolic:
        raise bad("--train-objects", objects, "needs a numeric dataset (drop --symbolic)")
    h = heldout(dataset, network, objects)
    return h.as_dict() | {"method": h.method}


# ------------------------------------------------------------------------------ output
def run(args: argparse.Namespace) -> int:
    network = network_from(args)
    objects = parse_objects(args.train_objects)
    from modspec.theory import cache

    # The key is built from the raw options, so a warm call needs neither SymPy nor the
    # dataset; invalid options are never stored (rendering raises first).
    raw = ("symbolic" if args.symbolic else
           {k: getattr(args, k) for k in ("nx", "ny", "kx", "ky", "r", "rx", "ry")})
    key = {"command": "derive", "payload": 2, "dataset": raw, "network": _describe(network),
           "train_objects": objects, "format": args.format}
    text = None if args.no_cache else cache.load(key)
    if not isinstance(text, str):
        text = render(_dataset(args), network, objects, args.format)
        if not args.no_cache:
            cache.store(key, text)
    print(text)
    return 0


def _dataset(args: argparse.Namespace) -> Any:
    from modspec.theory.dataset import CompositionalDataset

    return CompositionalDataset.symbolic() if args.symbolic else dataset_from(args)


def _describe(network: Any) -> dict[str, Any]:
    return {"name": network.name,
            "modules": [[m.name, list(m.inputs), list(m.outputs), m.depth]
                        for m in network.modules]}


def render(dataset: Any, network: Any, objects: list[int] | None, fmt: str) -> str:
    """The output of ``modspec derive`` in ``fmt`` (json, latex or text)."""
    import io

    from modspec.theory.derivation import derive

    th = derive(dataset, network)
    payload = derivation_payload(dataset, network, objects, th)
    if fmt == "json":
        buf = io.StringIO()
        write_json(payload, buf)
        return buf.getvalue().rstrip("\n")
    if fmt == "latex":
        return latex_report(th, payload)
    return text_report(payload)


def text_report(payload: dict[str, Any]) -> str:
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
    for k, v in (conv["quadrant_norms"] or {}).items():
        lines.append(f"  {k:<7} {v}")
    if conv.get("report"):
        lines.append(f"  ||W[Ox->Oy] - S|| = {conv['report']['rule_error']}")
    lines.append(f"systematic: {conv['systematic']}")
    if "heldout" in payload:
        h = payload["heldout"]
        lines.append(f"held-out objects {h['objects']}: compositional error "
                     f"{h['compositional_error']:.6g} (train objects' Ox covariance full rank: "
                     f"{h['ox_covariance_full_rank']})")
    return "\n".join(lines)


def latex_report(th: Any, payload: dict[str, Any]) -> str:
    """The derivation fragment, plus the numerically obtained W* of a coupled network and the
    held-out error when asked for."""
    from modspec.theory.latex import text

    parts = [th.to_latex()]
    conv = payload["converged"]
    if th.coupled and conv.get("quadrant_norms"):
        rows = [rf"\lVert W^*_{{\mathrm{{{k.split('->')[0]}}}\to\mathrm{{{k.split('->')[1]}}}}}"
                rf" \rVert &= {v:.6g}" for k, v in conv["quadrant_norms"].items()]
        parts.append("\\begin{align*}\n&\\text{" + text(f"Converged map ({conv['method']})")
                     + "} \\\\\n" + " \\\\\n".join(rows) + "\n\\end{align*}")
    if "heldout" in payload:
        h = payload["heldout"]
        parts.append("\\begin{align*}\n&\\text{" + text(f"Held-out objects {h['objects']}")
                     + "} \\\\\n" + rf"\mathcal{{E}}_{{\text{{held-out}}}} &= "
                     rf"{h['compositional_error']:.6g}" + "\n\\end{align*}")
    return "\n\n".join(parts)
