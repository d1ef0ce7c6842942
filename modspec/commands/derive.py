"""``modspec derive``: modes, fixed points and the converged map of an architecture."""

from __future__ import annotations

import argparse
from typing import Any

import sympy as sp

from modspec.commands.options import (
    add_architecture_options,
    add_dataset_options,
    dataset_from,
    network_from,
    write_json,
)
from modspec.theory.converged import converged, module_spectra
from modspec.theory.dataset import CompositionalDataset


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("derive", help="derive modes, fixed points and the converged map",
                       description="Derive the spectrum of every module and the converged map "
                                   "W* of an architecture (theory.md §3–4).")
    add_dataset_options(p)
    add_architecture_options(p)
    p.add_argument("--symbolic", action="store_true",
                   help="derive for symbolic nx ny kx ky rx ry (dataset options ignored)")
    p.add_argument("--format", choices=("text", "json", "latex"), default="text")
    p.set_defaults(func=run)


def derivation_payload(dataset: CompositionalDataset, network: Any) -> dict[str, Any]:
    """The JSON contract of ``modspec derive`` (design.md)."""
    symbolic = dataset.is_symbolic
    spectra = module_spectra(dataset, network)
    modules = []
    for module, spec in zip(network.modules, spectra, strict=True):
        modules.append({"name": module.name, "inputs": list(module.inputs),
                        "outputs": list(module.outputs), "depth": module.depth,
                        "modes": spec.as_dict(as_strings=symbolic)})
    payload: dict[str, Any] = {"dataset": dataset.describe(), "architecture": network.name,
                               "modules": modules}
    conv = converged(dataset, network)
    norms = {k: (str(v) if symbolic else float(v)) for k, v in conv.quadrant_norms.items()}
    payload["converged"] = {"quadrant_norms": norms, "systematic": conv.systematic}
    return payload


def run(args: argparse.Namespace) -> int:
    dataset = CompositionalDataset.symbolic() if args.symbolic else dataset_from(args)
    network = network_from(args)
    payload = derivation_payload(dataset, network)
    if args.format == "json":
        write_json(payload)
    elif args.format == "latex":
        print(latex_report(dataset, network))
    else:
        print(text_report(payload))
    return 0


def text_report(payload: dict[str, Any]) -> str:
    lines = [f"dataset {payload['dataset']}", f"architecture {payload['architecture']}"]
    for m in payload["modules"]:
        lines.append(f"module {m['name']}: {'+'.join(m['inputs'])} -> "
                     f"{'+'.join(m['outputs'])}, depth {m['depth']}")
        for mode in m["modes"]:
            lines.append(f"  {mode['label']:<10} s = {mode['s']}  lambda = {mode['lambda']}  "
                         f"x{mode['multiplicity']}  fixed point = {mode['fixed_point']}")
    lines.append("converged quadrant norms:")
    for k, v in payload["converged"]["quadrant_norms"].items():
        lines.append(f"  {k:<7} {v}")
    lines.append(f"systematic: {payload['converged']['systematic']}")
    return "\n".join(lines)


def latex_report(dataset: CompositionalDataset, network: Any) -> str:
    spectra = module_spectra(dataset, network)
    parts = []
    for module, spec in zip(network.modules, spectra, strict=True):
        parts.append(f"% module {module.name}: {module.label}, depth {module.depth}")
        parts.append(spec.to_latex())
    conv = converged(dataset, network)
    arrow = r" \to "
    rows = [rf"\lVert W^*_{{{k.replace('->', arrow)}}} \rVert &= {sp.latex(v)}"
            for k, v in conv.quadrant_norms.items()]
    parts.append("% converged map W* = Sigma_yx Sigma_x^+")
    parts.append("\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}")
    return "\n".join(parts)
