"""``modspec simulate``: exact full-batch gradient descent (NumPy) or PyTorch training."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from modspec.commands.gated import add_network_options, hands_over
from modspec.commands.options import (
    add_model_options,
    add_objects_option,
    add_schedule_options,
    add_weights_options,
    check_objects_option,
    run_spec,
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
    add_model_options(p)
    add_schedule_options(p, "epochs of full-batch GD (≥ 0)")
    add_weights_options(p, seeds=1)
    add_objects_option(p)
    p.add_argument("--backend", choices=("numpy", "torch"), default="numpy")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="torch backend only")
    p.add_argument("--format", choices=("json", "csv"), default="json",
                   help="json: means and stds over seeds, each mode's start a0 and the run's "
                        "settings (meta); csv: long form, one row per epoch, seed and "
                        "observable (columns epoch, seed, group, observable, value)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (shown on stderr once a run takes a few seconds)")
    add_network_options(p)
    p.set_defaults(func=run)


def simulation(args: argparse.Namespace) -> Any:
    """The run the options name (:func:`~modspec.commands.options.run_spec`): the NumPy
    simulator, or PyTorch training with ``--backend torch``."""
    spec, progress = run_spec(args), not getattr(args, "quiet", False)
    if spec.backend == "numpy":
        from modspec.numerics.simulate import simulate

        return simulate(spec, progress=progress)
    if str(spec.device).startswith("cuda"):           # before PyTorch's seconds of import
        from modspec.validation.devices import resolve_device

        resolve_device(spec.device)
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise ModspecError("--backend torch needs the validation extra "
                           "(pip install 'modspec[validation]')") from exc
    from modspec.validation.training import train

    return train(spec, progress=progress)


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


def _check_output(args: argparse.Namespace) -> None:
    """Refuse before any epoch a run whose printout (every epoch: a mean and a std of each
    curve; CSV: a row per seed too) would exceed the output budget."""
    from modspec.numerics.budget import PREDICTED_SERIES, check_output

    if isinstance(args.epochs, int) and args.epochs >= 0:
        seeds = (args.seeds or 1) if args.format == "csv" else 1
        check_output((args.epochs + 2) * seeds, f"--epochs={args.epochs}",
                     "simulate prints every epoch: run fewer epochs, or predict the long run "
                     "(modspec predict --record-every)", series=2 * PREDICTED_SERIES)


@hands_over("simulate")
def run(args: argparse.Namespace) -> int:
    check_objects_option(args)
    _check_output(args)
    record = simulation(args)                  # a run that diverged is refused in one line
    spec = run_spec(args)
    if spec.is_gradient_descent:
        from modspec.numerics.stability import check_below_limit

        limit = check_below_limit(spec.dataset(), spec.network(), spec.lr, spec.hidden,
                                  spec.objects())
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
