"""``modspec simulate``: exact full-batch gradient descent (NumPy) or PyTorch training."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from modspec.commands.options import (
    SEED,
    add_architecture_options,
    add_dataset_options,
    add_init_options,
    add_objects_option,
    add_rule_options,
    check_objects_option,
    dataset_from,
    integer,
    network_from,
    number,
    parse_objects,
    rule_from,
    write_json,
)
from modspec.theory.errors import ModspecError

__all__ = ["payload", "register", "run", "simulation"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="train linear networks by exact gradient descent",
                       description="Full-batch gradient descent (docs/theory/dynamics.md), "
                                   "batched over "
                                   "seeds; records mode strengths on the analytic singular "
                                   "vectors, quadrant norms, losses and held-out errors. Time "
                                   "is in epochs, tau = 1/(P*lr) with P the training objects.")
    add_dataset_options(p)
    add_architecture_options(p)
    p.add_argument("--lr", type=number(0, strict=True), required=True,
                   help="learning rate (> 0)")
    p.add_argument("--epochs", type=integer(0), required=True,
                   help="epochs of full-batch GD (≥ 0)")
    p.add_argument("--hidden", type=integer(1), default=50,
                   help="hidden units per module layer (≥ 1)")
    p.add_argument("--init-std", type=number(0), default=2e-4,
                   help="std of initial weights (≥ 0)")
    p.add_argument("--seeds", type=integer(1), default=1, help="independent initialisations")
    p.add_argument("--seed", type=SEED, default=0,
                   help="random seed (same seed, same numbers)")
    add_objects_option(p)
    add_rule_options(p)
    add_init_options(p)
    p.add_argument("--backend", choices=("numpy", "torch"), default="numpy")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="torch backend only")
    p.add_argument("--format", choices=("json", "csv"), default="json",
                   help="json: means and stds over seeds, each mode's start a0 and the run's "
                        "settings (meta); csv: long form, one row per epoch, seed and "
                        "observable (columns epoch, seed, group, observable, value)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (shown on stderr once a run takes a few seconds)")
    from modspec.commands.gated import add_network_options

    add_network_options(p)
    p.set_defaults(func=run)


def simulation(args: argparse.Namespace) -> Any:
    dataset, network = dataset_from(args), network_from(args)
    kw = dict(lr=args.lr, epochs=args.epochs, hidden=args.hidden, init_std=args.init_std,
              seeds=args.seeds, seed=args.seed, train_objects=parse_objects(args.train_objects),
              rule=rule_from(args), progress=not getattr(args, "quiet", False))
    if getattr(args, "init", "random") == "lambda-balanced":
        from modspec.numerics.any_start import lambda_balanced_weights

        kw["init"] = lambda_balanced_weights(dataset, network, args.hidden, args.lam,
                                             args.init_scale, args.seeds, args.seed)
    if args.backend == "numpy":
        from modspec.numerics.simulate import simulate

        return simulate(dataset, network, **kw)
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise ModspecError("--backend torch needs the validation extra "
                           "(pip install 'modspec[validation]')") from exc
    from modspec.validation.training import train

    return train(dataset, network, backend="torch", device=args.device, **kw)


def payload(args: argparse.Namespace, record: Any) -> dict[str, Any]:
    """The JSON of ``modspec simulate``: the record's :meth:`payload`, each mode's effective
    start ``a0`` (mean over seeds; ``modspec predict --a0-from`` starts the theory there) and
    the run's settings under ``meta`` (with the modspec version)."""
    import numpy as np

    from modspec import _version

    out = record.payload()
    out["a0"] = {k: float(np.mean(v)) for k, v in record.a0.items()}
    settings = {"command": "simulate", "modspec": _version.__version__,
                "backend": args.backend, "lr": args.lr, "epochs": args.epochs,
                "hidden": args.hidden, "init_std": args.init_std, "seeds": args.seeds,
                "seed": args.seed, "arch": getattr(args, "arch", None),
                "train_objects": args.train_objects}
    out["meta"] = {**settings, **out.get("meta", {})}
    return out


def run(args: argparse.Namespace) -> int:
    if getattr(args, "network", None) is not None:  # a gated network (docs/theory/gated.md)
        from modspec.commands.gated import simulate_network

        return simulate_network(args)
    if getattr(args, "start", None) is not None:
        raise ModspecError("--start is invalid without --network (it is the aligned start "
                           "of a gated network; use --init-std)")
    check_objects_option(args)
    record = simulation(args)                  # a run that diverged is refused in one line
    if args.rule == "gradient-descent" and args.gamma is None and args.nabla is None:
        from modspec.numerics.stability import check_below_limit

        limit = check_below_limit(dataset_from(args), network_from(args), args.lr,
                                  args.hidden, parse_objects(args.train_objects))
        if limit is not None:
            print(f"modspec simulate: warning: lr={args.lr:g} is at or above the derived "
                  f"stability limit lr < {limit:.4g} of this network on these data: gradient "
                  "descent oscillates around the learned map instead of settling on it",
                  file=sys.stderr)
    if args.format == "csv":
        record.to_dataframe().to_csv(sys.stdout, index=False, lineterminator="\n")
        return 0
    write_json(payload(args, record))
    return 0
