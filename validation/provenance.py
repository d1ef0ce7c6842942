"""``provenance.json``: what an output folder was made from.

Every folder that ``modspec validate``, ``modspec cmnist`` and ``modspec reproduce`` write
holds a small ``provenance.json`` (written atomically): the command, the modspec version, the
dataset (its parameters and, when it came from a file, the TOML table as read), the network
(modules with their inputs, outputs and depth), the learning rule and the run's settings. It
is plain JSON, read back with :func:`read_provenance`; nothing in it is evaluated.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
from pathlib import Path
from typing import Any

__all__ = ["FILE", "describe_network", "provenance", "read_provenance", "settings_of",
           "write_provenance"]

#: The file name in an output folder.
FILE = "provenance.json"


def describe_network(network: Any) -> Any:
    """A network (or a list of them, or a name) as plain data: ``{"name", "modules": [...]}``."""
    if network is None or isinstance(network, str):
        return network
    if isinstance(network, (list, tuple)):
        return [describe_network(n) for n in network]
    if dataclasses.is_dataclass(network):
        return dataclasses.asdict(network)
    return str(network)


def settings_of(args: Any) -> dict[str, Any]:
    """The plain settings of a command line's parsed options (numbers, strings, lists)."""
    return {k: v for k, v in vars(args).items()
            if k != "func" and isinstance(v, (str, int, float, bool, list, tuple, type(None)))}


def _rule(rule: Any) -> Any:
    if rule is None or isinstance(rule, str):
        return rule or "gradient-descent"
    if isinstance(rule, (list, tuple)):
        return [_rule(r) for r in rule]
    if dataclasses.is_dataclass(rule):
        return {"name": getattr(rule, "name", type(rule).__name__),
                **{f.name: getattr(rule, f.name) for f in dataclasses.fields(rule)}}
    return str(rule)


def provenance(command: str, *, dataset: Any = None, dataset_toml: Any = None,
               network: Any = None, rule: Any = None,
               settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The record: ``command``, ``modspec`` (version), ``python``, ``dataset`` (its
    ``describe()`` or the mapping given), ``dataset_toml`` (the table of a dataset file, or
    ``None``), ``network``, ``rule`` and ``settings``."""
    from modspec import _version

    from .study.report import jsonable

    described = dataset.describe() if hasattr(dataset, "describe") else dataset
    if dataclasses.is_dataclass(described) and not isinstance(described, type):
        described = dataclasses.asdict(described)
    return jsonable({"command": command, "modspec": _version.__version__,
                     "python": platform.python_version(),
                     "dataset": described, "dataset_toml": dataset_toml,
                     "network": describe_network(network), "rule": _rule(rule),
                     "settings": settings or {}})


def write_provenance(out: str | os.PathLike[str], command: str, **record: Any) -> Path:
    """Write :func:`provenance` as ``out/provenance.json`` (atomically). Returns its path."""
    from modspec.theory.cache import atomic_write_text

    path = Path(out) / FILE
    atomic_write_text(path, json.dumps(provenance(command, **record), indent=2,
                                       allow_nan=False, default=str) + "\n")
    return path


def read_provenance(out: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``provenance.json`` of a folder, as JSON."""
    return json.loads((Path(out) / FILE).read_text(encoding="utf-8"))
