"""``modspec derive``: the derivation of an architecture's learning dynamics, one entry per module.

Parses the options, derives (:func:`modspec.theory.derivation.derive`, with ``--rule`` the
rule's derivation as ``Derivation.rule``) and prints :func:`modspec.theory.export.render` in
the chosen format (one printer per format); the JSON contract is documented there and in
docs/cli.md. Results are cached on disk (:mod:`modspec.theory.reports`): a warm call prints
the stored answer without deriving again; ``--no-cache`` neither reads nor writes any cache
entry.
"""

from __future__ import annotations

import argparse
from typing import Any

from modspec.commands.options import (
    add_model_options,
    add_objects_option,
    check_objects_option,
    dataset_from,
    network_from,
    parse_objects,
    rule_from,
)
from modspec.theory.errors import bad

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("derive", help="derive modes, dynamics and the converged map",
                       description="Derive the matrix flow, the modes, closed-form dynamics, "
                                   "fixed points and the converged map W* of an architecture "
                                   "(docs/theory/learning-dynamics.md); one entry per "
                                   "module. With --rule, the rule's per-mode system, its "
                                   "fixed points and whether its extra terms vanish at W* "
                                   "(docs/theory/learning-rules.md).")
    add_model_options(p, init=False)
    p.add_argument("--symbolic", action="store_true",
                   help="derive for symbolic sizes and scales: nx ny kx ky rx ry (the "
                        "compositional family; --nx … --ry ignored), or with --dataset the "
                        "file's named family in its symbols: hierarchical in c f r at the "
                        "file's levels (plus the dense spectrum for any number of levels D), "
                        "parity in nx kx ky r with the file's outputs, contexts in C r rc with "
                        "the file's variants; with --network, the gated network's race on "
                        "that family (gates constant or per context)")
    add_objects_option(p, help="train on these objects only (integers in [0, P): hypercube "
                               "corners or tree leaves, spaces or commas) and report the "
                               "held-out error of every output block")
    from modspec.commands.gated import NETWORK_HELP

    p.add_argument("--network", default=None, metavar="FILE.toml", help=NETWORK_HELP)
    p.add_argument("--format", choices=("text", "json", "latex"), default="text")
    p.add_argument("--standalone", action="store_true",
                   help="with --format latex: a complete article that pdflatex compiles")
    p.add_argument("--no-cache", action="store_true",
                   help="derive again, neither reading nor writing the on-disk cache")
    p.set_defaults(func=run)


# ------------------------------------------------------------------------------ output
def run(args: argparse.Namespace) -> int:
    if getattr(args, "network", None) is not None:   # a gated network (docs/theory/gated.md)
        from modspec.commands.gated import derive_network

        return derive_network(args)
    check_objects_option(args)
    if args.standalone and args.format != "latex":
        raise bad("--standalone", True, "needs --format latex")
    network = network_from(args)
    objects = parse_objects(args.train_objects)
    from modspec.theory.reports import report, report_key

    # The key is built from the raw options, so a warm call needs neither SymPy nor the
    # dataset; invalid options are never stored (rendering raises first).
    raw = (["symbolic", args.dataset] if args.symbolic else args.dataset
           if args.dataset is not None else
           {k: getattr(args, k) for k in ("nx", "ny", "kx", "ky", "r", "rx", "ry")})
    ruled = args.rule != "gradient-descent" or args.gamma is not None or args.nabla is not None
    key = report_key(raw, network, objects, args.format,
                     [args.rule, args.gamma, args.nabla] if ruled else None)

    def answer() -> str:   # a stored answer had valid options: only a cold call checks them
        from modspec.theory.derivation import derive
        from modspec.theory.export import render

        rule = rule_from(args) if ruled else None     # checked before any derivation
        return render(derive(_dataset(args), network, rule=rule), objects,
                      args.format).rstrip("\n")

    text = report(key, answer, use_cache=not args.no_cache)
    if args.standalone:
        from modspec.theory.latex import latex_document

        text = latex_document(text).rstrip("\n")
    print(text)
    return 0


def _dataset(args: argparse.Namespace) -> Any:
    if not args.symbolic:
        return dataset_from(args)
    if args.dataset is not None:
        from modspec.theory.families import symbolic

        return symbolic(args.dataset)
    from modspec.theory.dataset import CompositionalDataset

    return CompositionalDataset.symbolic()
