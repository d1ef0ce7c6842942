"""What the parsed options name: the :class:`~modspec.numerics.runspec.RunSpec`, dataset,
network and learning rule of a command line, and its object lists checked against the dataset.
The options themselves are declared in :mod:`modspec.commands.options`.

A bad value is a :class:`~modspec.theory.errors.ModspecError` naming the option, the value and
what is allowed (one line, exit status 2), raised before any work starts.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from modspec.numerics.runspec import RunSpec
from modspec.theory.architectures import Network
from modspec.theory.errors import bad

if TYPE_CHECKING:  # imported lazily: SymPy is not needed to parse options or read caches
    from modspec.theory.dataset import CompositionalDataset
    from modspec.theory.declaration import DeclaredDataset

__all__ = ["check_objects_option", "dataset_from", "network_from", "objects_within",
           "parse_objects", "rule_from", "run_spec"]


def rule_from(args: argparse.Namespace) -> Any:
    """The :class:`~modspec.theory.rules.Rule` of ``--rule/--gamma/--nabla``."""
    from modspec.theory.rules import as_rule

    return as_rule(args.rule, args.gamma, args.nabla)


def _data(args: argparse.Namespace) -> Any:
    """The dataset the options name: the ``--dataset`` file's table, else ``--nx … --ry``."""
    if getattr(args, "dataset", None) is not None:
        return args.dataset
    return {k: getattr(args, k) for k in ("nx", "ny", "kx", "ky", "r", "rx", "ry")}


def run_spec(args: argparse.Namespace, **given: Any) -> RunSpec:
    """The :class:`~modspec.numerics.runspec.RunSpec` the options name, ``given`` overriding
    them: the dataset of :func:`_data`, ``--train-objects`` and every option named as a
    field of the specification (``--lr``, ``--hidden``, ``--rule`` …) that the command has
    and that is set; the rest take the defaults of :mod:`modspec.theory.defaults`."""
    from dataclasses import fields

    values = {f.name: getattr(args, f.name) for f in fields(RunSpec)
              if f.name not in ("data", "train_objects")
              and getattr(args, f.name, None) is not None}
    objects = parse_objects(getattr(args, "train_objects", None))
    return RunSpec(data=_data(args), train_objects=objects, **{**values, **given})


def dataset_from(args: argparse.Namespace) -> CompositionalDataset | DeclaredDataset:
    """Build (and validate) the dataset named by the options: the ``--dataset`` file's family
    when given, else the compositional family of ``--nx … --ry``."""
    return RunSpec(data=_data(args)).dataset()


def network_from(args: argparse.Namespace) -> Network:
    """Build (and validate) the architecture named by the options; with ``--dataset`` (other
    than the compositional family) the preset addresses that dataset's blocks
    (:func:`modspec.theory.families.family_network`)."""
    return RunSpec(data=_data(args), arch=args.arch, depth=args.depth).network()


def parse_objects(values: Any, option: str = "--train-objects") -> list[int] | None:
    """``["0,1", "4"]`` (or ``"0,1 4"``) → ``[0, 1, 4]``; ``None`` stays ``None``."""
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


def objects_within(values: Any, option: str, P: int, *, proper: bool = False) -> list[int] | None:
    """:func:`parse_objects`, checked against the dataset's ``P`` objects before any work.

    The objects must be distinct integers in ``[0, P)``, at least one; ``proper`` also asks
    for fewer than ``P`` (a held-out set must leave objects to train on).
    """
    objects = parse_objects(values, option)
    if objects is None:
        return None
    allowed = f"must be distinct integers in [0, {P})"
    if proper:
        allowed += f", fewer than {P}"
    if (not objects or len(set(objects)) != len(objects)
            or any(o < 0 or o >= P for o in objects) or (proper and len(objects) >= P)):
        raise bad(option, ",".join(map(str, objects)), allowed)
    return objects


def check_objects_option(args: argparse.Namespace, option: str = "--train-objects", *,
                         proper: bool = False) -> list[int] | None:
    """The objects of ``option`` checked against the dataset the options name, before any work.

    See :func:`objects_within`; a symbolic dataset (``--symbolic``) has no objects to choose.
    """
    values = getattr(args, option.lstrip("-").replace("-", "_"))
    if values is None:
        return None
    if getattr(args, "symbolic", False):
        raise bad(option, " ".join(map(str, values)), "needs a numeric dataset (drop --symbolic)")
    return objects_within(values, option, int(dataset_from(args).P), proper=proper)
