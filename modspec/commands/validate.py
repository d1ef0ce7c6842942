"""``modspec validate``: theory against trained networks — metrics, figures, verdicts.

Without ``--claims``: train one architecture (PyTorch by default, or the NumPy simulator),
derive and compile its theory, compare (mode-aligned errors, half-rise times, end points,
systematicity, held-out error) and write ``comparison.json``, ``training.json`` and figures
to ``--out``. With ``--claims``: the four claims of docs/theory/dataset.md (``claims.json``,
``claims.txt`` and figures of every run). Times are epochs of full-batch gradient descent,
``τ = 1/(P_train·lr)``. Exit status 1 with ``--strict`` when a verdict fails.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from modspec.theory.errors import bad
from modspec.validation.defaults import VALIDATE

from .options import (
    SEED,
    add_architecture_options,
    add_dataset_options,
    add_init_options,
    add_objects_option,
    add_rule_options,
    check_objects_option,
    dataset_from,
    device,
    integer,
    network_from,
    number,
    output_folder,
    parse_objects,
    rule_from,
)

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "validate", help="theory vs trained networks: metrics, figures, verdicts",
        description="Train networks (PyTorch or NumPy) and compare them with the derived "
                    "theory; --claims runs the four claims of docs/theory/dataset.md.")
    add_dataset_options(p)
    add_architecture_options(p)
    add_rule_options(p)
    add_init_options(p)
    g = p.add_argument_group("training")
    # defaults: those of ms.validate (VALIDATE); --lr/--epochs stay None so that --claims
    # keeps its own per-run values unless they are given
    g.add_argument("--lr", type=number(0, strict=True), default=None,
                   help=f"learning rate (> 0; default {VALIDATE['lr']:g}: τ = 25 epochs on D0)")
    g.add_argument("--epochs", type=integer(1), default=None,
                   help=f"epochs (≥ 1; default {VALIDATE['epochs']})")
    g.add_argument("--hidden", type=integer(1), default=VALIDATE["hidden"],
                   help="hidden units per layer (≥ 1)")
    g.add_argument("--init-std", type=number(0), default=VALIDATE["init_std"],
                   help="initial weight std (≥ 0)")
    g.add_argument("--seeds", type=integer(1), default=VALIDATE["seeds"],
                   help="independent networks (≥ 1)")
    g.add_argument("--seed", type=SEED, default=VALIDATE["seed"], help="first seed")
    add_objects_option(g)
    g.add_argument("--nonlinearity", choices=("linear", "relu", "tanh"), default="linear")
    g.add_argument("--bias", action="store_true", help="biases in every layer")
    g.add_argument("--backend", choices=("auto", "torch", "numpy"), default=VALIDATE["backend"],
                   help="auto (default): the exact NumPy simulator for linear networks without "
                        "biases (equal to PyTorch float64 to rounding error), PyTorch otherwise "
                        "or when --device cuda")
    g.add_argument("--device", type=device, default=VALIDATE["device"],
                   help="auto (CUDA when present), cpu, cuda or cuda:N")
    g.add_argument("--dtype", choices=("float64", "float32"), default=VALIDATE["dtype"])
    g.add_argument("--time", choices=("discrete", "continuous"), default="discrete",
                   help="theory to compare with: gradient descent epoch by epoch (default: "
                        "exact at any lr; the flow's lag is reported beside it) or the "
                        "gradient flow (closed forms)")
    p.add_argument("--claims", action="store_true",
                   help="run the four claims of docs/theory/dataset.md instead of one "
                        "architecture")
    add_objects_option(p, "--heldout", default=["2,5"],
                       help="objects held out in the --claims held-out runs (default 2,5)")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--strict", action="store_true", help="exit 1 when a verdict fails")
    p.add_argument("--out", type=output_folder, required=True,
                   help="output folder (created if needed; must be writable)")
    from .gated import add_network_options

    add_network_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "network", None) is not None:  # a gated network (docs/theory/gated.md)
        from .gated import validate_network

        return validate_network(args)
    if getattr(args, "start", None) is not None:
        raise bad("--start", args.start, "needs --network (the aligned start of a gated "
                  "network)")
    check_objects_option(args)
    if args.claims:
        check_objects_option(args, "--heldout", proper=True)
        if args.rule != "gradient-descent":
            raise bad("--rule", args.rule, "applies to one architecture; the claims are "
                      "checked with gradient descent (drop --rule or --claims)")
        if args.init != "random":
            raise bad("--init", args.init, "applies to one architecture; the claims start "
                      "from small random weights (drop --init or --claims)")
    ds = dataset_from(args)
    from modspec.numerics.flow import check_numeric

    check_numeric(ds)                   # a dataset too large to train on: before the folder
    if not args.claims:
        from modspec.validation.training import check_backend

        check_backend(args.backend, args.dtype)
    os.makedirs(args.out, exist_ok=True)
    nonlin = None if args.nonlinearity == "linear" else args.nonlinearity
    if args.claims:
        return _claims(args, ds, nonlin)
    return _single(args, ds, nonlin)


def _single(args: argparse.Namespace, ds: Any, nonlin: str | None) -> int:
    from modspec.validation.pipeline import summary, theory_checks, validate, write_outputs

    net = network_from(args)
    given = {k: v for k, v in (("lr", args.lr), ("epochs", args.epochs)) if v is not None}
    if args.init == "lambda-balanced":
        given |= {"lam": args.lam, "init_scale": args.init_scale}
    result = validate(ds, net, time=args.time, backend=args.backend, device=args.device,
                      dtype=args.dtype, hidden=args.hidden, init_std=args.init_std,
                      seeds=args.seeds, seed=args.seed,
                      train_objects=parse_objects(args.train_objects, "--train-objects"),
                      nonlinearity=nonlin, bias=args.bias, rule=rule_from(args), **given)
    result.comparison.verdicts.update(theory_checks(result))
    write_outputs(result, args.out, figures=not args.no_figures)
    _provenance(args, ds, net, rule_from(args))
    print(summary(result))
    return 1 if args.strict and not result.passed else 0


def _provenance(args: argparse.Namespace, ds: Any, network: Any, rule: Any) -> None:
    """``provenance.json`` in ``--out``: the dataset (and its TOML), network, rule, version."""
    from modspec.validation.provenance import settings_of, write_provenance

    write_provenance(args.out, "validate", dataset=ds,
                     dataset_toml=args.dataset if isinstance(args.dataset, dict) else None,
                     network=network, rule=rule, settings=settings_of(args))


def _claims(args: argparse.Namespace, ds: Any, nonlin: str | None) -> int:
    from dataclasses import replace

    from modspec.validation.study.claims import RELU, ClaimsConfig, run_claims, write_claims

    base = RELU if nonlin == "relu" else ClaimsConfig(nonlinearity=nonlin)
    changes = {"seeds": args.seeds, "seed": args.seed, "hidden": args.hidden,
               "init_std": args.init_std, "device": args.device, "dtype": args.dtype,
               "bias": args.bias, "heldout": tuple(parse_objects(args.heldout, "--heldout") or ()),
               "time": args.time}
    if args.lr is not None:
        changes["lr"] = args.lr
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    report = run_claims(ds, replace(base, **changes),
                        progress=lambda line: print(line, flush=True))
    write_claims(report, args.out, figures=not args.no_figures)
    from modspec.theory.architectures import PRESETS

    _provenance(args, ds, list(PRESETS), None)
    print(report.text())
    return 1 if args.strict and not report.passed else 0
