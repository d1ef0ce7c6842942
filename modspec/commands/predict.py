"""``modspec predict``: compiled closed-form (or integrated) learning curves of an architecture."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

import numpy as np

from modspec.commands.options import (
    SEED,
    add_architecture_options,
    add_dataset_options,
    add_init_options,
    add_rule_options,
    dataset_from,
    integer,
    network_from,
    number,
    rule_from,
    write_json,
)
from modspec.theory.errors import bad

__all__ = ["prediction", "read_a0", "register", "run", "write_csv"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict mode strengths, quadrant norms and losses",
                       description="Compile the derivation of an architecture and evaluate "
                                   "its learning curves at epochs 0..EPOCHS "
                                   "(docs/theory/dynamics.md). "
                                   "Time is in epochs of full-batch GD, tau = 1/(P*lr).")
    add_dataset_options(p)
    add_architecture_options(p)
    p.add_argument("--lr", type=number(0, strict=True), required=True,
                   help="learning rate (> 0)")
    p.add_argument("--epochs", type=integer(0), required=True, help="last epoch (≥ 0)")
    p.add_argument("--a0", type=number(), default=1e-6,
                   help="initial mode strength of every mode (finite; default 1e-6)")
    p.add_argument("--a0-from", metavar="RUN.json", default=None,
                   help="start each mode where a run started: the a0 of the JSON that "
                        "modspec simulate wrote (replaces --a0)")
    p.add_argument("--hidden", type=integer(1), default=50,
                   help="hidden width (≥ 1): coupled networks (integrated matrix flow) and "
                        "lambda-balanced starts")
    p.add_argument("--seed", type=SEED, default=0,
                   help="seed: coupled networks and lambda-balanced starts")
    p.add_argument("--time", choices=("continuous", "discrete"), default="continuous",
                   help="continuous: the gradient flow (closed forms); discrete: gradient "
                        "descent epoch by epoch at this lr (exact per-epoch mode map)")
    p.add_argument("--format", choices=("json", "csv"), default="json")
    add_rule_options(p)
    add_init_options(p)
    p.set_defaults(func=run)


def prediction(args: argparse.Namespace) -> Any:
    from modspec.numerics.predict import compile
    from modspec.theory.derivation import derive

    if args.epochs < 0:
        raise bad("epochs", args.epochs, "must be an integer ≥ 0")
    dataset, network = dataset_from(args), network_from(args)
    a0 = read_a0(args.a0_from) if getattr(args, "a0_from", None) else args.a0
    rule = rule_from(args) if hasattr(args, "rule") else None
    if not isinstance(a0, float) and ((rule is not None and not rule.is_gradient_descent)
                                      or getattr(args, "init", "random") != "random"):
        raise bad("a0-from", args.a0_from, "starts gradient descent from random weights only "
                  "(not under a rule or from a lambda-balanced start)")
    if rule is not None and not rule.is_gradient_descent:
        return _under_rule(args, dataset, network, rule)
    if getattr(args, "init", "random") == "lambda-balanced":
        return _from_balanced_start(args, dataset, network)
    f = compile(derive(dataset, network))
    return f(np.arange(args.epochs + 1, dtype=float), lr=args.lr, a0=a0,
             hidden=args.hidden, seed=args.seed, time=getattr(args, "time", "continuous"))


def read_a0(path: str) -> dict[str, float]:
    """Each mode's start ``{key: a0}`` from the JSON ``modspec simulate`` wrote (read as
    JSON, never evaluated)."""
    import json
    import math

    allowed = "must be the JSON of modspec simulate (with its a0 entry)"
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, UnicodeDecodeError, ValueError):
        raise bad("a0-from", path, allowed) from None
    a0 = data.get("a0") if isinstance(data, dict) else None
    if not isinstance(a0, dict) or not a0 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in a0.values()):
        raise bad("a0-from", path, allowed)
    return {str(k): float(v) for k, v in a0.items()}


def _under_rule(args: argparse.Namespace, dataset: Any, network: Any, rule: Any) -> Any:
    """The rule's own derived per-mode dynamics (``Derivation.rule``, compiled) from balanced
    starts ``c1 = c2 = √a0`` (docs/theory/learning-rules.md); a rule that does not reduce is
    refused in one line."""
    from modspec.numerics.predict import compile
    from modspec.numerics.rules import check_rule_network
    from modspec.theory.derivation import derive

    check_rule_network(rule, network, dataset)
    if not args.a0 > 0:
        raise bad("a0", args.a0, "must be > 0 under a rule (the start c1 = c2 = sqrt(a0))")
    f = compile(derive(dataset, network, rule=rule))
    return f(np.arange(args.epochs + 1, dtype=float), lr=args.lr, a0=args.a0,
             time=getattr(args, "time", "continuous"))


def _from_balanced_start(args: argparse.Namespace, dataset: Any, network: Any) -> Any:
    """The exact flow from a seeded λ-balanced start (docs/theory/any-start.md); discrete
    time from such a start is simulated, not predicted."""
    from modspec.numerics.any_start import predict_balanced

    if getattr(args, "time", "continuous") != "continuous":
        raise bad("time", args.time, "must be continuous from a lambda-balanced start (run "
                                     "gradient descent from it with modspec simulate --init "
                                     "lambda-balanced)")
    return predict_balanced(dataset, network, np.arange(args.epochs + 1, dtype=float),
                            args.lr, args.lam, args.init_scale, args.hidden, args.seed)


def write_csv(payload: dict[str, Any], stream: Any = None) -> None:
    """One row per epoch: ``t``, then ``mode:<key>``, ``norm:<quadrant>``, ``loss:<name>``."""
    cols: list[tuple[str, list[float]]] = [("t", payload["t"])]
    for group, prefix in (("modes", "mode"), ("quadrant_norms", "norm"), ("loss", "loss")):
        cols += [(f"{prefix}:{k}", v) for k, v in payload[group].items()]
    writer = csv.writer(stream or sys.stdout)
    writer.writerow([name for name, _ in cols])
    for row in zip(*[values for _, values in cols], strict=True):
        writer.writerow([repr(float(x)) for x in row])


def run(args: argparse.Namespace) -> int:
    from modspec.numerics.budget import check_memory, prediction_bytes

    network = network_from(args)
    check_memory(prediction_bytes(args.epochs, dataset_from(args), network, args.hidden),
                 f"--epochs={args.epochs}" + (f", --hidden={args.hidden}" * network.coupled))
    payload = prediction(args).payload()
    if args.format == "csv":
        write_csv(payload)
    else:
        write_json(payload)
    return 0
