"""The ``modspec`` command line.

Each sub-command lives in its own module under :mod:`modspec.commands` and exposes
``register(subparsers)`` (adds its parser, sets ``func``). User errors print one line on
stderr and exit with status 2, before any work starts (option values, including those from a
``--config`` file, are checked by the parser's types); internal bugs stay tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from modspec._version import __version__
from modspec.theory.errors import ModspecError, bad
from modspec.theory.inputfile import InputFileError, read_toml

__all__ = ["COMMANDS", "RULE_TABLE", "OneLineParser", "build_parser", "config_tokens", "main",
           "one_line", "with_config"]

#: Sub-command modules, in help order. A module that fails to import (an optional extra is
#: missing) is simply not offered.
COMMANDS = ("derive", "predict", "simulate", "validate", "sweep", "cmnist", "reproduce",
            "relu")


#: Keys of a ``[rule]`` table -> the options they stand for (``--rule``, ``--gamma``,
#: ``--nabla``), read by the commands that have ``--rule``.
RULE_TABLE = {"name": "rule", "gamma": "gamma", "nabla": "nabla"}


#: What argparse takes for a negative number rather than an option: also ``-1e-3``, ``-.5``
#: and ``-inf`` (argparse's own pattern knows only ``-1`` and ``-1.5``, so ``--nabla -1e-3``
#: read as a missing value). No option of modspec starts with a digit or reads like ``-inf``.
NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$",
                             re.IGNORECASE)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2, and which
    reads every negative number (:data:`NEGATIVE_NUMBER`) as a value."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, one_line(f"{self.prog}: error: {message}") + "\n")


def one_line(text: str) -> str:
    """``text`` with every character that is not printable (a newline or a carriage return in
    a name a user gave, an escape sequence) written as its escape, so an error is one line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


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
            help="TOML file of option values (tables [dataset], [architecture], [rule] "
                 "(name, gamma, nabla: read by commands with --rule) and [<command>], or "
                 "top-level keys; true gives a flag, a list a list option), checked as on the "
                 "command line; options given on the line win")
    return parser


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(command)
    return None


def _read_toml(path: str) -> dict[str, Any]:
    try:
        return read_toml(path)
    except InputFileError as exc:
        raise bad("--config", path, exc.reason) from None


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float))


def _rule_table(table: dict[str, Any], path: str) -> dict[str, Any]:
    """The ``[rule]`` table as option names (:data:`RULE_TABLE`); an unknown key is one line."""
    for key, value in table.items():
        if key not in RULE_TABLE:
            raise ModspecError(f"config key {key!r} = {value!r} in [rule] of {path} is "
                               f"invalid: must be one of {', '.join(RULE_TABLE)}")
    return {RULE_TABLE[key]: value for key, value in table.items()}


def config_tokens(path: str, command: str, parser: argparse.ArgumentParser) -> list[str]:
    """The options of a TOML file as command-line tokens for ``parser``.

    Keys are option names (``train-objects`` or ``train_objects``), top level or in the tables
    ``[dataset]``, ``[architecture]`` and ``[<command>]`` (other tables are left to other
    commands). A ``[rule]`` table (``name``, ``gamma``, ``nabla``: :data:`RULE_TABLE`) gives
    ``--rule``, ``--gamma`` and ``--nabla`` to the commands that have ``--rule``. A boolean
    gives a flag (``symbolic = true`` is ``--symbolic``; false leaves it off), a list gives
    the values of a list option, anything else one value. The tokens are parsed by the same
    parser as the command line, so a value from the file is checked exactly as the same value
    typed there, required options may come from the file, and options on the command line,
    parsed after them, win.
    """
    actions = {a.dest: a for a in parser._actions
               if a.option_strings and a.dest not in ("help", "config")}
    flat: dict[str, Any] = {}
    for key, value in _read_toml(path).items():
        if isinstance(value, dict):
            if key in ("dataset", "architecture", command):
                flat.update(value)
            elif key == "rule" and "rule" in actions:
                flat.update(_rule_table(value, path))
        else:
            flat[key] = value
    tokens: list[str] = []
    for key, value in flat.items():
        action = actions.get(key.replace("-", "_"))
        where = f"config key {key!r} = {value!r} in {path} is invalid"
        if action is None:
            options = ", ".join(sorted(a.option_strings[-1] for a in actions.values()))
            raise ModspecError(f"{where}: not an option of 'modspec {command}' ({options})")
        option = max(action.option_strings, key=len)
        if action.nargs == 0:                       # a flag: store_true and friends
            if not isinstance(value, bool):
                raise ModspecError(f"{where}: {option} is a flag: must be true or false")
            tokens += [option] if value else []
        elif action.nargs in ("+", "*"):
            items = value if isinstance(value, list) else [value]
            if not all(_scalar(v) for v in items):
                raise ModspecError(f"{where}: {option} takes a list of plain values")
            tokens += [option, *(str(v) for v in items)]
        else:
            if not _scalar(value):
                raise ModspecError(f"{where}: {option} takes one value")
            tokens.append(f"{option}={value}")
    return tokens


def with_config(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """``argv`` with the options of its ``--config`` file inserted after the command name."""
    index = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if index is None:
        return argv
    command = argv[index]
    command_parser = _subparser(parser, command)
    if command_parser is None:
        return argv
    pre = OneLineParser(prog=f"modspec {command}", add_help=False)
    pre.add_argument("--config")
    path = pre.parse_known_args(argv[index + 1:])[0].config
    if path is None:
        return argv
    return [*argv[:index + 1], *config_tokens(path, command, command_parser),
            *argv[index + 1:]]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(with_config(argv, parser))
    except ModspecError as exc:  # a --config file that cannot be used
        command = next((a for a in argv if not a.startswith("-")), "")
        print(one_line(f"modspec {command}: error: {exc}"), file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help, --version, or a bad option (one line, status 2)
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except ModspecError as exc:
        print(one_line(f"modspec {args.command}: error: {exc}"), file=sys.stderr)
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
