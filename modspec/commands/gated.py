"""``modspec derive --network FILE.toml``: the race report of a gated network.

Not a command of its own: :mod:`modspec.commands.derive` hands over here when ``--network`` is
given. The network is read with :func:`modspec.theory.gated_toml.load_network`, its data from the
``--dataset`` file (``family = "gated"``, :func:`modspec.theory.gated_data.data_from_dict`),
and :func:`modspec.numerics.gated_report.gated_report` is printed (docs/theory/gated.md).
"""

from __future__ import annotations

import argparse
import json

from modspec.theory.errors import ModspecError

__all__ = ["NETWORK_HELP", "derive_network"]

NETWORK_HELP = ("a gated network declared in TOML (layers, edges, gates; docs/theory/gated.md); "
                "--dataset then names its data (family = gated): prints the pathways, the "
                "basis condition and, mode by mode, the race: equations, conserved quantities, "
                "fixed points of flow and gradient descent, half-rise times")


def derive_network(args: argparse.Namespace) -> int:
    """Validate everything first, then derive and print the report."""
    from modspec.theory.gated_data import data_from_dict
    from modspec.theory.gated_toml import load_network

    network = load_network(args.network)
    if args.dataset is None:
        raise ModspecError("--network needs --dataset FILE.toml: the network's data "
                           "(family = gated)")
    data = data_from_dict(args.dataset).check(network)
    if args.format == "latex":
        raise ModspecError("--format=latex is invalid with --network: use text or json")
    from modspec.numerics.gated_report import gated_report

    report = gated_report(network, data)
    if args.format == "json":
        print(json.dumps(report, indent=2))
        return 0
    print(_text(report))
    return 0


def _text(report: dict) -> str:
    lines = [f"network {report['network']}: {report['contexts']} contexts × "
             f"{report['items']} items = {report['samples']} samples; "
             f"{len(report['pathways']['trained'])} trained pathways, "
             f"{len(report['pathways']['untrained'])} untrained"]
    cond = report["basis_condition"]
    if not cond["holds"]:
        lines.append(cond["reason"])
        lines += [f"τ d{e}/dt = {r}" for e, r in report["matrix_flow"].items()]
        return "\n".join(lines)
    lines.append("the gated statistics share singular vectors: the race reduction holds")
    for m in report["modes"]:
        lines.append(f"mode {m['mode']}: {len(m['edges'])} edges")
        lines += [f"  conserved: {q}" for q in m["conserved"]]
        if "fixed_point_gradient_descent" in m:
            gd = m["fixed_point_gradient_descent"]
            fl = m["fixed_point_flow"]
            lines.append("  gradient descent ends at " + ", ".join(
                f"{e}={v:.6g}" for e, v in gd["strengths"].items())
                + f" ({'attracting' if gd['attracting'] else 'not attracting'})")
            lines.append("  the flow ends at " + ", ".join(
                f"{e}={v:.6g}" for e, v in fl["strengths"].items()))
            lines.append(f"  first to half-rise: {m['winner']}")
    return "\n".join(lines)
