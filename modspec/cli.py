"""The ``modspec`` command line.

Each sub-command lives in its own module under :mod:`modspec.commands` and exposes
``register(subparsers)`` (adds its parser, sets ``func``). User errors print one line on
stderr and exit with status 2; internal bugs stay tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from modspec._version import __version__
from modspec.theory.errors import ModspecError

#: Sub-command modules, in help order. A module that fails to import (an optional extra is
#: missing) is simply not offered.
COMMANDS = ("derive", "predict", "simulate", "validate", "cmnist", "reproduce")


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="modspec",
        description="Exact learning dynamics of modular linear networks: derive, predict, "
                    "simulate, validate.",
    )
    parser.add_argument("--version", action="version", version=f"modspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"modspec.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"modspec.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except ModspecError as exc:
        print(f"modspec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"modspec {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
