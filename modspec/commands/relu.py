"""``modspec relu``: a two-layer ReLU network against the gated network of its gating.

Trains the ReLU network (one dense depth-2 module, no biases) on the dataset with PyTorch,
measures its gating instability and, where the gating is stable, compares its loss and module
norms with the gated network's gradient descent
(:func:`modspec.validation.relu_gating.compare_relu_gating`, docs/theory/relu-gating.md).
Where the gating is not stable it says "not applicable", with the instability measured.
``--full`` is the follow-up paper's size (700 hidden units, lr 1e-3, 8000 epochs): under a minute
per run on one CPU core (``--device cuda`` where a GPU is present); every run prints its time
per epoch.
"""

from __future__ import annotations

import argparse

from modspec.commands.options import (
    SEED,
    add_dataset_options,
    dataset_from,
    integer,
    number,
    write_json,
)
from modspec.theory.errors import ModspecError, bad

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("relu", help="a ReLU network against the gated network of its gating",
                       description="Train a two-layer ReLU network (PyTorch, float64, "
                                   "full-batch gradient descent), measure how stable its "
                                   "hidden units' gating is, and where it is stable compare "
                                   "its loss and module norms with the exact gradient descent "
                                   "of the equivalent gated linear network "
                                   "(docs/theory/relu-gating.md).")
    add_dataset_options(p)
    p.add_argument("--hidden", type=integer(1), default=None,
                   help=f"hidden units (≥ 1; default {QUICK['hidden']}, "
                        f"--full {FULL['hidden']})")
    p.add_argument("--lr", type=number(0, strict=True), default=None,
                   help="learning rate (> 0) of θ ← θ − lr ∂L/∂θ, L = ½ Σ_s ‖y − ŷ‖² "
                        f"(default {QUICK['lr']}, --full {FULL['lr']})")
    p.add_argument("--epochs", type=integer(1), default=None,
                   help=f"epochs (≥ 1; default {QUICK['epochs']}, --full {FULL['epochs']})")
    p.add_argument("--full", action="store_true",
                   help="the follow-up paper's full size: 700 hidden units, lr 1e-3, 8000 "
                        "epochs, weights recorded every 10 epochs (under a minute on one CPU "
                        "core; --device cuda where a GPU is present; the time per epoch is "
                        "printed)")
    p.add_argument("--init-std", type=number(0), default=1e-3,
                   help="std of the initial weights (≥ 0)")
    p.add_argument("--seed", type=SEED, default=0, help="random seed")
    p.add_argument("--threshold", type=number(0), default=0.05,
                   help="largest gating instability (fraction of units whose pattern "
                        "changes later) at which a prediction is made, in [0, 1)")
    p.add_argument("--tolerance", type=number(0, strict=True), default=0.05,
                   help="largest relative loss and norm error at which a claimed prediction "
                        "agrees with training (> 0)")
    p.add_argument("--record-every", type=integer(1), default=None,
                   help="epochs between recorded weights (default 1: every flip is seen; "
                        f"--full {FULL['record_every']})")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=run)


#: The sizes: the quick default and the follow-up paper's full size (under a minute on a CPU).
QUICK = {"hidden": 16, "lr": 0.02, "epochs": 400, "record_every": 1}
FULL = {"hidden": 700, "lr": 1e-3, "epochs": 8000, "record_every": 10}


def run(args: argparse.Namespace) -> int:
    if not args.threshold < 1:
        raise bad("--threshold", args.threshold, "must be a number in [0, 1)")
    for key, value in (FULL if args.full else QUICK).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    dataset = dataset_from(args)
    if getattr(dataset, "is_symbolic", False):
        raise ModspecError("--dataset is invalid for relu: give numbers for every symbol "
                           "(training needs a numeric dataset)")
    from modspec.validation.devices import no_gpu_here

    if args.device == "cuda" and no_gpu_here():           # before PyTorch's seconds of import
        raise bad("--device", args.device, "CUDA is not available here; use auto or cpu")
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise ModspecError("modspec relu needs the validation extra "
                           "(pip install 'modspec[validation]')") from exc
    from modspec.validation.relu_gating import compare_relu_gating
    from modspec.validation.training import resolve_device

    resolve_device(args.device)
    result = compare_relu_gating(dataset, hidden=args.hidden, lr=args.lr, epochs=args.epochs,
                                 seed=args.seed, init_std=args.init_std,
                                 threshold=args.threshold,
                                 tolerance=args.tolerance, record_every=args.record_every,
                                 device=args.device)
    if args.format == "json":
        write_json(result.payload())
    else:
        print(result.summary())
    return 0
