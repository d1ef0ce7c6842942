"""``modspec cmnist``: dense vs split CNNs on Compositional MNIST (docs/theory/cmnist.md).

Defaults are the reference protocol of the original study (three positions, 20,000 training
examples, SGD lr 2e-3, batch 16, at most 300 epochs, N(0, 0.01²) initialisation); the digits
source replaces MNIST offline. Training stops once every network's training error has
plateaued (the rule of :mod:`modspec.validation.cmnist.run`). ``--quick`` selects a
configuration that finishes in minutes on two CPU cores (see QUICK); any option given
explicitly overrides it. Progress is checkpointed at every evaluation (Ctrl-C loses at most one
evaluation interval; a rerun continues), and the finished networks are saved under
``OUT/seeds/`` and reused by a rerun with the same settings.
"""

from __future__ import annotations

import argparse
import os
import sys

from modspec.commands.options import SEED, add_out_option, device, image_source, integer, number
from modspec.validation.cmnist.config import MAX_THREADS
from modspec.validation.cmnist.presets import QUICK, REFERENCE

__all__ = ["config_from", "register", "report", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "cmnist", help="dense vs split CNNs on Compositional MNIST",
        description="Train dense and split CNNs on Compositional MNIST; report normalised "
                    "compositional and non-compositional errors on train, seen-combination "
                    "test and held-out-combination test, mean ± std over seeds, figures.")
    p.add_argument("--source", type=image_source, default="digits",
                   help="digits (scikit-learn's bundled 8×8 digits, default) or idx:DIR "
                        "(MNIST IDX files, gzipped or not)")
    p.add_argument("--quick", action="store_true",
                   help="the quick CPU configuration (" + _describe(QUICK) + ")")
    p.add_argument("--positions", type=integer(1, 4), help="digits per image (reference 3)")
    p.add_argument("--n-train", type=integer(1), help="training examples (reference 20000)")
    p.add_argument("--n-test", type=integer(1),
                   help="test examples per test split (reference 3333)")
    p.add_argument("--holdout", type=number(0),
                   help="fraction of digit tuples never seen in training (0 = original)")
    p.add_argument("--r", type=number(0, strict=True), default=10.0,
                   help="identity target scale (default 10)")
    p.add_argument("--data-seed", type=SEED, default=0, help="seed of the dataset")
    p.add_argument("--arch", choices=("dense", "split", "both"), default="both")
    p.add_argument("--epochs", type=integer(0),
                   help="cap on the epochs of SGD (reference 300); training stops earlier "
                        "once every network has plateaued")
    p.add_argument("--plateau-window", type=integer(1),
                   help="convergence rule: window in epochs (default 20)")
    p.add_argument("--plateau-tol", type=number(0, strict=True),
                   help="convergence rule: largest fall of a normalised training error over "
                        "the window (default 0.01)")
    p.add_argument("--lr", type=number(0, strict=True), help="SGD learning rate (reference 2e-3)")
    p.add_argument("--batch", type=integer(1), help="mini-batch size (reference 16)")
    p.add_argument("--init", help="small (N(0, 0.01²), reference), default (PyTorch) or a std")
    p.add_argument("--seeds", type=integer(1), help="network seeds, trained together (default 3)")
    p.add_argument("--seed", type=SEED, default=0, help="first network seed")
    p.add_argument("--device", type=device, default="auto",
                   help="auto (CUDA when present), cpu, cuda or cuda:N")
    p.add_argument("--eval-every", type=integer(1), help="epochs between evaluations")
    p.add_argument("--eval-train", type=integer(1), help="training examples used to measure errors")
    p.add_argument("--threads", type=integer(1, MAX_THREADS),
                   help="torch CPU threads (at most 4 per CPU; default: torch's)")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    add_out_option(p)
    p.set_defaults(func=run)


def config_from(args: argparse.Namespace):
    from modspec.validation.cmnist.cnn import parse_init
    from modspec.validation.cmnist.config import CMNISTConfig

    base = dict(QUICK if args.quick else REFERENCE)
    for name in (*base, "plateau_window", "plateau_tol"):
        value = getattr(args, name, None)
        if value is not None:
            base[name] = value
    base["init"] = parse_init(str(base["init"])) if not isinstance(base["init"], float) \
        else base["init"]
    archs = ("dense", "split") if args.arch == "both" else (args.arch,)
    return CMNISTConfig(source=args.source, r=args.r, data_seed=args.data_seed, archs=archs,
                        seed=args.seed, device=args.device, **base)


def _describe(preset: dict) -> str:
    return (f"positions {preset['positions']}, {preset['n_train']} images, init "
            f"{preset['init']}, holdout {preset['holdout']}, {preset['seeds']} seeds, at most "
            f"{preset['epochs']} epochs")


def run(args: argparse.Namespace) -> int:
    from modspec.validation.cmnist.dataset import check_source

    check_source(args.source)                 # the image files: before PyTorch's import
    from modspec.validation.cmnist.config import check_budget, check_out
    from modspec.validation.cmnist.run import run as run_experiment

    config = config_from(args)
    check_budget(config)
    check_out(args.out)
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    summary = run_experiment(config, args.out, progress)
    from modspec.validation.provenance import settings_of, write_provenance

    write_provenance(args.out, "cmnist", dataset={"family": "compositional-mnist",
                                                  "source": config.source, "r": config.r,
                                                  "data_seed": config.data_seed},
                     network=list(config.archs), rule="gradient-descent",
                     settings={**settings_of(args), "config": repr(config)})
    if not args.no_figures:
        from modspec.validation.figures import cmnist_claim_figure, cmnist_figure, save_png_pdf

        save_png_pdf(cmnist_figure(summary), os.path.join(args.out, "cmnist.png"), dpi=110)
        if "dense" in summary["archs"] and "split" in summary["archs"]:
            save_png_pdf(cmnist_claim_figure(summary),
                         os.path.join(args.out, "cmnist_claim.png"), dpi=110)
    print(report(summary))
    from modspec.theory.cache import atomic_write_text

    atomic_write_text(os.path.join(args.out, "report.txt"), report(summary) + "\n")
    return 0


def report(summary: dict) -> str:
    """Plain text: convergence, final errors (mean ± std over seeds), gaps, the verdict at the
    last evaluation and since when the claim holds."""
    conv = summary["convergence"]
    lines = [f"Compositional MNIST ({summary['data']['source']}, "
             f"{summary['data']['positions']} positions, {summary['data']['n_train']} training "
             f"examples, holdout {summary['data']['holdout']}, "
             f"{len(summary['archs'][next(iter(summary['archs']))]['seeds'])} seeds, "
             f"init {summary['config']['init']})",
             f"convergence rule: {conv['rule']}"]
    for arch, epoch in conv["converged_epoch"].items():
        lines.append(f"  {arch:5s} converged at epoch {epoch}" if epoch is not None else
                     f"  {arch:5s} NOT converged by the cap ({conv['stopped_epoch']} epochs)")
    why = "every network converged" if conv["all_converged"] else "the cap"
    lines.append(f"stopped at epoch {conv['stopped_epoch']} ({why}); normalised errors there "
                 "(mean ± std over seeds); compositional /positions, non-compositional /r²")
    for arch, a in summary["archs"].items():
        for split in ("train", "seen", "heldout"):
            f = a["final"][split]
            lines.append(f"  {arch:5s} {split:7s} compositional {_pm(f['compositional'])}   "
                         f"non-compositional {_pm(f['noncompositional'])}")
        lines.append(f"  {arch:5s} systematic generalisation gap (held-out − seen "
                     f"compositional) {_pm(a['gap'])}")
    v = summary["verdict"]
    if "gap" in v:
        for name in ("gap", "error"):
            m = v[name]
            sem = m["dense_minus_split_sem"]
            lines.append(f"  dense − split {m['metric']}: {m['dense_minus_split_mean']:.4f} ± "
                         f"{'n/a' if sem is None else f'{sem:.4f}'} (sem, {m['n_seeds']} "
                         f"seeds) → {m['status']}")
        lines.append(f"claim at epoch {conv['stopped_epoch']}: {v['claim']} — "
                     f"{v['status'].upper()} ({v['rule']}; overall holds only when both "
                     "metrics hold)")
        o = summary["over_time"]

        def since(epoch: int | None) -> str:
            return f"from epoch {epoch} on" if epoch is not None else "not at the end"

        lines.append(f"claim over time (holds at every evaluation from): gap "
                     f"{since(o['gap']['holds_from'])}, error {since(o['error']['holds_from'])}, "
                     f"both {since(o['holds_from'])}")
    else:
        lines.append(f"claim: {v['claim']} — {v['status']} ({v['reason']})")
    return "\n".join(lines)


def _pm(ms: dict) -> str:
    return f"{ms['mean']:.4f} ± {ms['std']:.4f}"
