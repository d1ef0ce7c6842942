"""``modspec predict``: compiled closed-form (or integrated) learning curves of an architecture."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

import numpy as np

from modspec.commands.gated import add_network_options, hands_over
from modspec.commands.options import (
    SEED,
    add_model_options,
    add_schedule_options,
    dataset_from,
    integer,
    network_from,
    number,
    rule_from,
    write_json,
)
from modspec.theory import defaults
from modspec.theory.errors import bad

__all__ = ["prediction", "print_payload", "read_a0", "register", "run", "write_csv"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict mode strengths, quadrant norms and losses",
                       description="Compile the derivation of an architecture and evaluate "
                                   "its learning curves at epochs 0..EPOCHS "
                                   "(docs/theory/dynamics.md). "
                                   "Time is in epochs of full-batch GD, tau = 1/(P*lr).")
    add_model_options(p)
    add_schedule_options(p, "last epoch (≥ 0)")
    p.add_argument("--record-every", type=integer(1), default=None, metavar="K",
                   help="print every K-th epoch (and the last); default every epoch, up to "
                        "an output of 64 MiB")
    p.add_argument("--a0", type=number(), default=1e-6,
                   help="initial mode strength of every mode (finite; default 1e-6)")
    p.add_argument("--a0-from", metavar="RUN.json", default=None,
                   help="start each mode where a run started: the a0 of the JSON that "
                        "modspec simulate wrote (replaces --a0)")
    p.add_argument("--hidden", type=integer(1), default=None,
                   help="hidden width (≥ 1, default 50): coupled networks (integrated matrix "
                        "flow) and lambda-balanced starts; a decoupled network from a small "
                        "start has none (a warning says so)")
    p.add_argument("--seed", type=SEED, default=None,
                   help="seed (default 0): coupled networks and lambda-balanced starts")
    p.add_argument("--time", choices=("continuous", "discrete"), default=None,
                   help="continuous (default): the gradient flow (closed forms); discrete: "
                        "gradient descent epoch by epoch at this lr (exact per-epoch mode "
                        "map; the default with --network)")
    p.add_argument("--format", choices=("json", "csv"), default="json")
    add_network_options(p)
    p.set_defaults(func=run)


def epochs_of(args: argparse.Namespace) -> np.ndarray:
    """The epochs printed: ``0, K, 2K, …`` and the last (``K = --record-every``, default 1)."""
    k = getattr(args, "record_every", None) or 1
    t = np.arange(0, args.epochs + 1, k, dtype=float)
    return t if t[-1] == args.epochs else np.append(t, float(args.epochs))


def prediction(args: argparse.Namespace) -> Any:
    from modspec.numerics.predict import compile
    from modspec.theory.derivation import derive

    if args.epochs < 0:
        raise bad("epochs", args.epochs, "must be an integer ≥ 0")
    dataset, network = dataset_from(args), network_from(args)
    a0 = read_a0(args.a0_from) if getattr(args, "a0_from", None) else args.a0
    if getattr(dataset, "fits", False):     # the start's bound, before deriving anything
        from modspec.numerics.discrete import check_start, converged_scale

        if isinstance(a0, float):
            check_start("a0", a0, abs(a0), converged_scale(dataset))
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
    return f(epochs_of(args), lr=args.lr, a0=a0,
             hidden=args.hidden, seed=args.seed,
             time=getattr(args, "time", None) or "continuous")


def read_a0(path: str) -> dict[str, float]:
    """Each mode's start ``{key: a0}`` from the JSON ``modspec simulate`` wrote (a regular
    file of at most twice the output budget, read as JSON, never evaluated)."""
    import json
    import math

    from modspec.numerics.budget import OUTPUT_BUDGET
    from modspec.theory.inputfile import InputFileError, read_bounded

    allowed = "must be the JSON of modspec simulate (with its a0 entry)"
    try:                    # a regular file no larger than simulate prints: never /dev/zero
        data = json.loads(read_bounded(path, 2 * OUTPUT_BUDGET).decode("utf-8"))
    except InputFileError as err:
        raise bad("a0-from", path, f"{allowed}; {err.reason}") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
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
    from modspec.theory.derivation import derive
    from modspec.theory.rules import check_network

    check_network(rule, network, dataset)
    if not args.a0 > 0:
        raise bad("a0", args.a0, "must be > 0 under a rule (the start c1 = c2 = sqrt(a0))")
    f = compile(derive(dataset, network, rule=rule))
    return f(epochs_of(args), lr=args.lr, a0=args.a0,
             time=getattr(args, "time", None) or "continuous")


def _from_balanced_start(args: argparse.Namespace, dataset: Any, network: Any) -> Any:
    """The exact flow from a seeded λ-balanced start (docs/theory/any-start.md); discrete
    time from such a start is simulated, not predicted."""
    from modspec.numerics.any_start import predict_balanced

    if (getattr(args, "time", None) or "continuous") != "continuous":
        raise bad("time", args.time, "must be continuous from a lambda-balanced start (run "
                                     "gradient descent from it with modspec simulate --init "
                                     "lambda-balanced)")
    return predict_balanced(dataset, network, epochs_of(args),
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


def print_payload(payload: dict[str, Any], fmt: str) -> None:
    """Print a prediction's payload as JSON (:func:`~modspec.commands.options.write_json`) or,
    with ``fmt`` ``csv``, as :func:`write_csv`."""
    if fmt == "csv":
        write_csv(payload)
    else:
        write_json(payload)


@hands_over("predict")
def run(args: argparse.Namespace) -> int:
    given = [f"--{name}" for name in ("hidden", "seed") if getattr(args, name) is not None]
    args.hidden = defaults.HIDDEN if args.hidden is None else args.hidden
    args.seed = defaults.SEED if args.seed is None else args.seed
    from modspec.numerics.budget import check_memory, check_output, prediction_bytes

    network = network_from(args)
    balanced = getattr(args, "init", "random") == "lambda-balanced"
    if given and not network.coupled and not balanced:
        print(f"modspec predict: warning: {' and '.join(given)} ignored: the {network.name} "
              "network is decoupled, its modes follow closed forms with no hidden width or "
              "seed (they apply to coupled networks, e.g. --arch leaky)", file=sys.stderr)
    if network.coupled:
        from modspec.numerics.predict import check_coupled_hidden

        check_coupled_hidden(args.hidden, "--hidden")
    rows = args.epochs // (args.record_every or 1) + 2
    if args.record_every is None:
        check_output(rows, f"--epochs={args.epochs}", "pass --record-every K to print every "
                     "K-th epoch")
    check_memory(prediction_bytes(rows - 1, dataset_from(args), network, args.hidden),
                 f"--epochs={args.epochs}" + (f", --hidden={args.hidden}" * network.coupled))
    print_payload(prediction(args).payload(), args.format)
    return 0
