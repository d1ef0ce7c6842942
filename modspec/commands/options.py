"""Options shared by sub-commands: the dataset and the architecture."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from modspec.theory.architectures import PRESETS, Network, architecture

if TYPE_CHECKING:  # imported lazily: SymPy is not needed to parse options or read caches
    from modspec.theory.dataset import CompositionalDataset


def add_dataset_options(parser: argparse.ArgumentParser) -> None:
    """``--nx --ny --kx --ky --r --rx --ry`` (defaults: the reference dataset D0)."""
    g = parser.add_argument_group("dataset (theory.md §2; defaults give D0)")
    g.add_argument("--nx", type=int, default=3, help="compositional input features (≥ 1)")
    g.add_argument("--ny", type=int, default=1, help="compositional output features (≤ nx)")
    g.add_argument("--kx", type=int, default=3, help="identity repeats in the input (≥ 0)")
    g.add_argument("--ky", type=int, default=1, help="identity repeats in the output (≥ 0)")
    g.add_argument("--r", type=float, default=1.0, help="identity scale (≥ 0)")
    g.add_argument("--rx", type=float, default=None, help="input identity scale (default r)")
    g.add_argument("--ry", type=float, default=None, help="output identity scale (default r)")


def add_architecture_options(parser: argparse.ArgumentParser) -> None:
    """``--arch`` and ``--depth``."""
    g = parser.add_argument_group("architecture")
    g.add_argument("--arch", choices=sorted(PRESETS), default="dense",
                   help="modular architecture (default dense)")
    g.add_argument("--depth", type=int, default=2, help="layers per module (default 2)")


def dataset_from(args: argparse.Namespace) -> CompositionalDataset:
    """Build (and validate) the dataset named by the options."""
    from modspec.theory.dataset import CompositionalDataset

    return CompositionalDataset(nx=args.nx, ny=args.ny, kx=args.kx, ky=args.ky, r=args.r,
                                rx=args.rx, ry=args.ry)


def network_from(args: argparse.Namespace) -> Network:
    """Build (and validate) the architecture named by the options."""
    return architecture(args.arch, args.depth)


def write_json(payload: Any, stream: Any = None) -> None:
    """Print ``payload`` as indented JSON."""
    json.dump(payload, stream or sys.stdout, indent=2)
    (stream or sys.stdout).write("\n")


def add_objects_option(parser: Any, name: str = "--train-objects", default: Any = None,
                       help: str = "objects to train on, by index (spaces or commas: "
                                   "0 1 2 4 7 or 0,1,2,4,7); the rest are held out") -> None:
    """An option that takes a list of object indices, written with spaces or commas."""
    parser.add_argument(name, nargs="+", default=default, metavar="J", help=help)


def parse_objects(values: Any, option: str = "--train-objects") -> list[int] | None:
    """``["0,1", "4"]`` (or ``"0,1 4"``) → ``[0, 1, 4]``; ``None`` stays ``None``."""
    from modspec.theory.errors import bad

    if values is None:
        return None
    if isinstance(values, (str, int)):
        values = [values]
    out = []
    for item in values:
        for part in str(item).replace(",", " ").split():
            try:
                out.append(int(part))
            except ValueError:
                raise bad(option, part, "must be integers (object indices)") from None
    return out
