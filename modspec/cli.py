"""The ``modspec`` command line.

Each sub-command lives in its own module under :mod:`modspec.commands` and exposes
``register(subparsers)`` (adds its parser, sets ``func``). User errors print one line on
stderr and exit with status 2; internal bugs stay tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tomllib
from collections.abc import Sequence
from typing import Any

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
    for command_parser in sub.choices.values():
        command_parser.add_argument(
            "--config", metavar="FILE", default=None,
            help="TOML file of option values (tables [dataset], [architecture] and "
                 "[<command>], or top-level keys); options given on the line win")
    return parser


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command]
    raise KeyError(command)


def load_config(path: str, command: str, allowed: set[str]) -> dict[str, Any]:
    """Option defaults from a TOML file: keys are option names (``-`` or ``_``)."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        reason = exc.strerror
        raise ModspecError(f"--config={path!r} is invalid: cannot read it ({reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModspecError(f"--config={path!r} is invalid: not TOML ({exc})") from None
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            if key in ("dataset", "architecture", command):
                flat.update(value)
        else:
            flat[key] = value
    out = {}
    for key, value in flat.items():
        dest = key.replace("-", "_")
        if dest not in allowed or dest in ("config", "func", "command"):
            options = ", ".join(sorted(allowed - {"config", "func", "help"}))
            raise ModspecError(f"config key {key!r} in {path} is invalid: must be an option "
                               f"of 'modspec {command}' ({options})")
        out[dest] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        if args.config:
            command_parser = _subparser(parser, args.command)
            allowed = {a.dest for a in command_parser._actions}
            command_parser.set_defaults(**load_config(args.config, args.command, allowed))
            args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except ModspecError as exc:
        print(f"modspec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (`modspec derive | head`): stop quietly, like SIGPIPE would
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print(f"modspec {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
