"""The grid of a sweep: a TOML file read into a list of small, picklable point specifications.

A grid file has two tables (docs/tutorials/sweep.md), and optionally a third, ``[rule]``::

    [dataset]
    family = "compositional"
    nx = 3
    ny = 1
    kx = [0, 1, 2, 3]        # a list is swept
    ky = 1
    r = [0.5, 1.0, 2.0]      # or rx / ry separately

    [run]
    arch = ["dense", "segregated"]
    depth = 2
    lr = 0.02
    epochs = 400
    hidden = 50
    init_std = 2e-4
    seeds = 5                # independent initialisations per point (mean and std over them)
    seed = 0                 # the random seed of the first one
    compute = ["theory", "simulate"]

Other dataset families (``family = "hierarchical"``, ``"parity"``, ``"contexts"``,
``"declared"``: whatever :func:`modspec.theory.families.from_mapping` reads) take their own
parameters in ``[dataset]`` (``levels``, ``branching``, ``features``, ``r`` …; the
architecture is the family's preset wiring, :func:`~modspec.theory.families.family_network`).
A parameter whose value is itself a list (parity ``outputs``, declared ``inputs`` and
``outputs``, contexts ``variants``) is swept by a list of such lists.

``[run]`` also takes the learning ``rule`` (a preset of :data:`modspec.theory.rules.PRESETS`,
default ``"gradient-descent"``) and its coefficients ``gamma`` and ``nabla``; all three may
be swept. A ``[rule]`` table (``name``, ``gamma``, ``nabla``, as in a ``--config`` file) says
the same.

``init = "lambda-balanced"`` with ``lam`` and ``init_scale`` starts every point from seeded
λ-balanced weights, with the exact theory and the lazy–rich measures of
:mod:`modspec.validation.sweeps.balanced`.

Any value written as a list is swept; the grid is the product of the lists, in the order
the keys are written (the last one varies fastest). ``compute`` is the one list that is not
swept: it says what every point computes, a subset of ``theory``, ``simulate``, ``train``.
Optional ``[run]`` keys: ``train_objects`` (how many objects to train on, drawn without
replacement from the point's ``seed``; the others are held out), ``record_every`` (record the
simulated observables every k-th epoch; default ``max(1, epochs // 200)``) and ``a0`` (the
theory's initial mode strength; default: the expected effective start of the random weights,
:func:`modspec.numerics.expectation.expected_a0`).

The whole grid is checked before any work: an unknown key, an empty list, a value of the
wrong kind, or one invalid point inside a valid-looking grid (``ny > nx``) is one
:class:`~modspec.theory.errors.ModspecError` line naming the parameter, the value and the
point.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

from modspec.theory.architectures import PRESETS
from modspec.theory.defaults import D0, HIDDEN, INIT_STD, SEED
from modspec.theory.errors import ModspecError, bad
from modspec.theory.families import family as registered
from modspec.theory.families import names
from modspec.theory.inputfile import InputFileError, read_toml

from .point import Point, point_of

__all__ = ["COMPUTE", "DATASET_KEYS", "LIST_KEYS", "MAX_EPOCHS", "MAX_POINTS", "RULE_TABLE",
           "RUN_KEYS", "family_keys", "grid_points", "read_grid"]

#: What a point can compute.
COMPUTE = ("theory", "simulate", "train")
#: Keys of ``[dataset]`` (family ``compositional``) with their defaults (the dataset D0).
DATASET_KEYS: dict[str, Any] = {**D0, "r": float(D0["r"]), "rx": None, "ry": None}
#: Keys of ``[run]`` with their defaults (``compute`` is required).
RUN_KEYS: dict[str, Any] = {"arch": "dense", "depth": 2, "lr": None, "epochs": None,
                            "hidden": HIDDEN, "init_std": INIT_STD, "seeds": 1, "seed": SEED,
                            "train_objects": None, "record_every": None, "a0": None,
                            "rule": "gradient-descent", "gamma": None, "nabla": None,
                            "init": "random", "lam": None, "init_scale": None,
                            "compute": None}
#: Keys of a ``[rule]`` table (as in a ``--config`` file) -> the ``[run]`` keys they stand for.
RULE_TABLE = {"name": "rule", "gamma": "gamma", "nabla": "nabla"}
#: Dataset parameters whose one value is a list (swept by a list of such lists).
LIST_KEYS = ("outputs", "inputs", "variants")

def family_keys(family: str) -> tuple[str, ...]:
    """The ``[dataset]`` keys of a family (besides ``family``), as it registered them."""
    return tuple(registered(family).keys)


#: The most points one grid may have (each is computed and stored as one row).
MAX_POINTS = 100_000
#: The most epochs a point may run: simulations and the discrete theory step every epoch.
MAX_EPOCHS = 10**8


# ------------------------------------------------------------------------ reading
def read_grid(path: str | Path) -> dict[str, dict[str, Any]]:
    """The ``[dataset]`` and ``[run]`` tables of a grid file (one-line errors otherwise)."""
    try:
        data = read_toml(path)
    except InputFileError as exc:
        raise bad("GRID", str(path), exc.reason) from None
    return data


def _kind_ok(key: str, value: Any) -> str | None:
    """What is wrong with one value of ``key`` (None when it is fine)."""
    if isinstance(value, (list, dict)):
        return ("must be a plain value; a list of plain values is swept, lists in lists and "
                "tables are not")
    real = isinstance(value, (int, float)) and not isinstance(value, bool)
    whole = isinstance(value, int) and not isinstance(value, bool)
    if key in ("nx", "hidden", "seeds", "epochs", "depth", "ny", "kx", "ky", "seed",
               "train_objects", "record_every"):
        low = 1 if key in ("nx", "hidden", "seeds", "depth", "train_objects",
                           "record_every") else 0
        if not whole or value < low:
            return f"must be an integer ≥ {low}"
        if key == "seed" and value > 2**32 - 1:
            return "must be an integer in [0, 2**32 - 1]"
        if key == "nx" and value > 12:
            return "must be an integer in [1, 12] (2**nx objects)"
        if key == "epochs" and value > MAX_EPOCHS:
            return (f"must be an integer in [0, {MAX_EPOCHS:.0e}] (every epoch is computed; "
                    "more would run for days)")
    elif key in ("r", "rx", "ry", "init_std", "lr", "a0"):
        strict = key in ("lr", "init_std", "a0")  # zero weights, a zero start: never move
        if not real or not math.isfinite(value) or value < 0 or (strict and value == 0):
            return "must be a finite number " + ("> 0" if strict else "≥ 0") + (
                " (from zero the network sits on a saddle and never learns)"
                if key in ("init_std", "a0") else "")
    elif key == "init_scale" and (not real or not math.isfinite(value) or value < 0):
        return "must be a finite number ≥ 0"
    elif key == "init" and value not in ("random", "lambda-balanced"):
        return "must be one of random, lambda-balanced"
    elif key in ("gamma", "nabla", "lam"):
        if not real or not math.isfinite(value):
            return "must be a finite number"
    elif key == "rule":
        from modspec.theory.rule_presets import COEFFICIENTS as RULES

        if value not in RULES:
            return f"must be one of {', '.join(RULES)}"
    elif key == "arch" and value not in PRESETS:
        return f"must be one of {', '.join(sorted(PRESETS))}"
    return None


def _swept(key: str, value: Any, family: str) -> bool:
    """Whether a ``[dataset]``/``[run]`` value is a list of values to sweep: any list, except
    for a parameter whose one value is a list (:data:`LIST_KEYS` of a family other than the
    compositional one), which is swept by a list of lists of lists or tables."""
    if not isinstance(value, list):
        return False
    if key not in registered(family).list_keys:
        return True
    return bool(value) and all(isinstance(v, list) and v and
                               all(isinstance(u, (list, dict)) for u in v) for v in value)


def grid_points(grid: dict[str, Any], where: str = "grid") -> list[Point]:
    """Every point of a grid (the parsed TOML), checked; see the module docstring."""
    dataset, run = _tables(grid, where)
    family = dataset.pop("family", "compositional")
    families = sorted(names(), key=lambda n: (not registered(n).inline,
                                              not registered(n).listed, n))
    if family not in families:
        raise bad("dataset.family", family, f"must be one of {', '.join(families)}")
    keys = family_keys(family)
    for table, allowed, values in (("dataset", keys, dataset), ("run", RUN_KEYS, run)):
        for key in values:
            if key not in allowed:
                raise bad(f"{table}.{key}", values[key],
                          f"not a key of [{table}] (allowed: {', '.join(allowed)})")
    compute = run.pop("compute", None)
    items = compute if isinstance(compute, list) else [compute]
    if not items or any(c not in COMPUTE for c in items) or len(set(items)) != len(items):
        raise bad("run.compute", compute,
                  f"must be a non-empty list of distinct values from {', '.join(COMPUTE)}")
    for key in ("lr", "epochs"):
        if key not in run:
            raise bad(f"run.{key}", None, "is required")
    if "r" in dataset and "rx" in dataset and "ry" in dataset:
        raise bad("dataset.r", dataset["r"], "has no effect when rx and ry are both given "
                  "(it is their default): give r, or rx and ry")
    axes = _axes(dataset, run, family)
    points = []
    defaults = DATASET_KEYS if registered(family).inline else {}
    for combo in itertools.product(*axes.values()):
        values = {**defaults, **RUN_KEYS, **dict(zip(axes, combo, strict=True))}
        points.append(point_of(values, tuple(items), family, keys))
    return points


def _tables(grid: dict[str, Any], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Copies of the ``[dataset]`` and ``[run]`` tables, ``[rule]``'s keys moved into
    ``[run]`` (a key given in both is refused); any other table is refused."""
    unknown_tables = set(grid) - {"dataset", "run", "rule"}
    if unknown_tables:
        name = sorted(unknown_tables)[0]
        raise ModspecError(f"{where}: table or key [{name}] is invalid: a grid has the "
                           "tables [dataset], [run] and [rule]")
    if not isinstance(grid.get("dataset", {}), dict) or not isinstance(grid.get("run"), dict) \
            or not isinstance(grid.get("rule", {}), dict):
        raise ModspecError(f"{where}: [dataset], [run] and [rule] must be tables; [run] is "
                           "required")
    dataset = dict(grid.get("dataset", {}))
    run = dict(grid.get("run", {}))
    for key, value in grid.get("rule", {}).items():       # [rule] name/gamma/nabla
        if key not in RULE_TABLE:
            raise bad(f"rule.{key}", value,
                      f"not a key of [rule] (allowed: {', '.join(RULE_TABLE)})")
        if RULE_TABLE[key] in run:
            raise bad(f"rule.{key}", value, f"is given as run.{RULE_TABLE[key]} too: "
                                            "give it once")
        run[RULE_TABLE[key]] = value
    return dataset, run


def _axes(dataset: dict[str, Any], run: dict[str, Any], family: str) -> dict[str, list[Any]]:
    """The values of every key, in the order written (one value: a list of one), each
    checked (:func:`_kind_ok`); a grid of more than :data:`MAX_POINTS` points is refused."""
    axes: dict[str, list[Any]] = {}
    for table, values in (("dataset", dataset), ("run", run)):
        for key, value in values.items():
            swept = _swept(key, value, family if table == "dataset" else "compositional")
            options = value if swept else [value]
            if not options:
                raise bad(f"{table}.{key}", value, "an empty list sweeps nothing: give values")
            if registered(family).inline or table == "run":
                for v in options:
                    problem = _kind_ok(key, v)
                    if problem:
                        raise bad(f"{table}.{key}", v, problem)
            axes[key] = options
    size = math.prod(len(options) for options in axes.values())
    if size > MAX_POINTS:
        counts = " × ".join(str(len(o)) for o in axes.values() if len(o) > 1)
        raise bad("grid", f"{counts} = {size} points", f"must have at most {MAX_POINTS} "
                  "points: split it into several grids (each stores into its own file)")
    return axes


