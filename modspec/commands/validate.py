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

from .gated import add_network_options, hands_over
from .options import (
    add_model_options,
    add_objects_option,
    add_out_option,
    add_weights_options,
    check_objects_option,
    dataset_from,
    device,
    integer,
    number,
    parse_objects,
    run_spec,
)

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "validate", help="theory vs trained networks: metrics, figures, verdicts",
        description="Train networks (PyTorch or NumPy) and compare them with the derived "
                    "theory; --claims runs the four claims of docs/theory/dataset.md.")
    add_model_options(p)
    g = p.add_argument_group("training")
    # defaults: those of ms.validate (VALIDATE); --lr/--epochs stay None so that --claims
    # keeps its own per-run values unless they are given
    g.add_argument("--lr", type=number(0, strict=True), default=None,
                   help=f"learning rate (> 0; default {VALIDATE['lr']:g}: τ = 25 epochs on D0)")
    g.add_argument("--epochs", type=integer(1), default=None,
                   help=f"epochs (≥ 1; default {VALIDATE['epochs']})")
    add_weights_options(g, seeds=VALIDATE["seeds"])
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
    add_out_option(p)
    add_network_options(p)
    p.set_defaults(func=run)


@hands_over("validate")
def run(args: argparse.Namespace) -> int:
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
    from modspec.numerics.flow import check_covariance_size, check_numeric

    check_numeric(ds)                   # a dataset too large to train on: before the folder
    check_covariance_size(ds)
    if not args.claims:
        from modspec.validation.training import check_backend

        check_backend(args.backend, args.dtype)
    os.makedirs(args.out, exist_ok=True)
    if args.claims:
        return _claims(args, ds)
    return _single(args, ds)


def _single(args: argparse.Namespace, ds: Any) -> int:
    from modspec.validation.pipeline import summary, validate, with_theory_checks, write_outputs

    spec = run_spec(args)
    result = with_theory_checks(validate(spec))
    write_outputs(result, args.out, figures=not args.no_figures)
    _provenance(args, ds, spec.network(), spec.learning_rule())
    print(summary(result))
    return 1 if args.strict and not result.passed else 0


def _provenance(args: argparse.Namespace, ds: Any, network: Any, rule: Any) -> None:
    """``provenance.json`` in ``--out``: the dataset (and its TOML), network, rule, version."""
    from modspec.validation.provenance import settings_of, write_provenance

    write_provenance(args.out, "validate", dataset=ds,
                     dataset_toml=args.dataset if isinstance(args.dataset, dict) else None,
                     network=network, rule=rule, settings=settings_of(args))


def _claims(args: argparse.Namespace, ds: Any) -> int:
    from modspec.validation.study.claims import RELU, ClaimsConfig, run_claims, write_claims

    spec = run_spec(args)         # the claims keep their own lr and epochs unless given
    base = RELU if spec.nonlinearity == "relu" else ClaimsConfig.of(nonlinearity=spec.nonlinearity)
    given = {k: v for k, v in (("lr", args.lr), ("epochs", args.epochs)) if v is not None}
    taken = {k: getattr(spec, k) for k in ("seeds", "seed", "hidden", "init_std", "device",
                                           "dtype", "bias", "time")}
    config = base.replace(heldout=tuple(parse_objects(args.heldout, "--heldout") or ()),
                          **taken, **given)
    report = run_claims(ds, config,
                        progress=lambda line: print(line, flush=True))
    write_claims(report, args.out, figures=not args.no_figures)
    from modspec.theory.architectures import PRESETS

    _provenance(args, ds, list(PRESETS), None)
    print(report.text())
    return 1 if args.strict and not report.passed else 0
