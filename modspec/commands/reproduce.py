"""``modspec reproduce``: the whole study as one report (resumable)."""

from __future__ import annotations

import argparse
from collections.abc import Collection, Sequence
from pathlib import Path

from modspec.commands.options import SEED, add_out_option, image_source, rule_name
from modspec.theory.errors import bad

__all__ = ["check_parts", "derivation_tex", "register", "run"]


def check_parts(parts: Sequence[str] | None, known: Collection[str]) -> None:
    """Refuse unknown part names before any work (``None``: every part)."""
    unknown = [p for p in parts or () if p not in known]
    if unknown:
        raise bad("--parts", " ".join(unknown), f"must be among {', '.join(known)}")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce", help="run the whole study and write one report",
        description="Run every part of the study — spectra, dynamics, theory against NumPy and "
                    "PyTorch training, held-out generalisation, ReLU networks, Compositional "
                    "MNIST, learning rules beyond gradient descent — and write figures (PNG, "
                    "PDF), results.json, report.md, a self-contained report.html and "
                    "derivation.tex. Finished parts are saved as they complete; rerunning the "
                    "same command resumes.")
    add_out_option(p)
    p.add_argument("--quick", action="store_true",
                   help="the small configuration (about 6 minutes on 2 CPU cores)")
    p.add_argument("--seed", type=SEED, default=0, help="base random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="PyTorch device for the training parts")
    p.add_argument("--source", type=image_source, default="digits",
                   help="Compositional MNIST images: digits (scikit-learn's bundled 8×8 digits, "
                        "default) or idx:DIR (MNIST IDX files)")
    p.add_argument("--parts", nargs="+", default=None, metavar="PART",
                   help="run only these parts (default all); the report holds every part "
                        "finished in --out under the same configuration")
    p.add_argument("--rules", nargs="+", type=rule_name, default=None, metavar="NAME",
                   help="learning rules of the learning_rules part (default: hebbian "
                        "anti-hebbian contrastive-hebbian predictive-coding, each at the "
                        "study's coefficients, lr and epochs; gradient-descent always runs as "
                        "the reference)")
    p.set_defaults(func=run)


def derivation_tex() -> str:
    """The study's ``derivation.tex`` (:func:`modspec.theory.export.architectures_document`)."""
    from modspec.theory.export import architectures_document

    return architectures_document()


def run(args: argparse.Namespace) -> int:
    from modspec.validation.study.parts import PARTS
    from modspec.validation.study.run import run_study

    check_parts(args.parts, PARTS)
    if args.rules is not None and args.parts is not None and "learning_rules" not in args.parts:
        raise bad("--rules", " ".join(args.rules), "applies to the learning_rules part; add "
                  "learning_rules to --parts or drop --rules")

    if args.parts is None or "cmnist" in args.parts:
        from modspec.validation.cmnist.dataset import check_source

        check_source(args.source)               # the images, before any part runs
    from modspec.validation.training import resolve_device

    resolve_device(args.device)                 # a CUDA device this machine lacks, at once
    parts = run_study(Path(args.out), quick=args.quick, seed=args.seed, quiet=args.quiet,
                      device=args.device, parts=args.parts, source=args.source,
                      derivation_tex=derivation_tex, rules=args.rules)
    from modspec.theory.architectures import PRESETS
    from modspec.theory.defaults import D0
    from modspec.validation.provenance import settings_of, write_provenance

    write_provenance(args.out, "reproduce",
                     dataset={"D0": D0, "compositional_mnist": args.source},
                     network=list(PRESETS), rule=["gradient-descent", *(args.rules or [])],
                     settings=settings_of(args))
    claims = [c for p in parts for c in p.claims]
    passed = sum(c.passed for c in claims)
    if not args.quiet:
        print(f"{passed} of {len(claims)} claims pass; report: {Path(args.out) / 'report.html'}")
    return 0
