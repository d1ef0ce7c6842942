"""The grid of a sweep: a TOML file read into a list of small, picklable point specifications.

A grid file has two tables (docs/tutorials/sweep.md)::

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

import hashlib
import itertools
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from modspec.theory.architectures import PRESETS, Network, architecture
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.errors import ModspecError, bad
from modspec.theory.inputfile import InputFileError, read_toml

__all__ = ["COMPUTE", "DATASET_KEYS", "MAX_EPOCHS", "MAX_POINTS", "RUN_KEYS", "Point",
           "grid_points", "read_grid"]

#: What a point can compute.
COMPUTE = ("theory", "simulate", "train")
#: Keys of ``[dataset]`` (family ``compositional``) with their defaults (the dataset D0).
DATASET_KEYS: dict[str, Any] = {"nx": 3, "ny": 1, "kx": 3, "ky": 1, "r": 1.0,
                                "rx": None, "ry": None}
#: Keys of ``[run]`` with their defaults (``compute`` is required).
RUN_KEYS: dict[str, Any] = {"arch": "dense", "depth": 2, "lr": None, "epochs": None,
                            "hidden": 50, "init_std": 2e-4, "seeds": 1, "seed": 0,
                            "train_objects": None, "record_every": None, "a0": None,
                            "compute": None}


#: The most points one grid may have (each is computed and stored as one row).
MAX_POINTS = 100_000
#: The most epochs a point may run: simulations and the discrete theory step every epoch.
MAX_EPOCHS = 10**8


@dataclass(frozen=True)
class Point:
    """One point of a grid: a compositional dataset, a network, a run, what to compute.

    Plain numbers and strings only, so it pickles small and hashes stably (:attr:`key`).
    ``rx``/``ry`` are resolved (``r`` when not given); ``train_objects`` is a count or None.
    """

    nx: int
    ny: int
    kx: int
    ky: int
    rx: float
    ry: float
    arch: str
    depth: int
    lr: float
    epochs: int
    hidden: int
    init_std: float
    seeds: int
    seed: int
    train_objects: int | None
    record_every: int
    a0: float | None
    compute: tuple[str, ...]

    @property
    def key(self) -> str:
        """SHA-256 of the point's full specification and the modspec version (canonical
        JSON): a point stored by another version is computed again."""
        from modspec._version import __version__

        text = json.dumps({**asdict(self), "modspec": __version__}, sort_keys=True,
                          separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def params(self) -> dict[str, Any]:
        """The parameters as a flat dict (``compute`` joined by ``+``), the store's columns."""
        out = asdict(self)
        out["compute"] = "+".join(self.compute)
        return out

    def dataset(self) -> CompositionalDataset:
        return CompositionalDataset(nx=self.nx, ny=self.ny, kx=self.kx, ky=self.ky,
                                    rx=self.rx, ry=self.ry)

    def network(self) -> Network:
        return architecture(self.arch, self.depth)

    def objects(self) -> list[int] | None:
        """The training objects: ``train_objects`` of the ``2**nx`` drawn with ``seed``
        (sorted), or None for all."""
        if self.train_objects is None:
            return None
        import numpy as np

        rng = np.random.default_rng(self.seed)
        return sorted(int(j) for j in rng.choice(2**self.nx, self.train_objects,
                                                 replace=False))


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
    elif key == "arch" and value not in PRESETS:
        return f"must be one of {', '.join(sorted(PRESETS))}"
    return None


def grid_points(grid: dict[str, Any], where: str = "grid") -> list[Point]:
    """Every point of a grid (the parsed TOML), checked; see the module docstring."""
    unknown_tables = set(grid) - {"dataset", "run"}
    if unknown_tables:
        name = sorted(unknown_tables)[0]
        raise ModspecError(f"{where}: table or key [{name}] is invalid: a grid has the "
                           "tables [dataset] and [run]")
    if not isinstance(grid.get("dataset", {}), dict) or not isinstance(grid.get("run"), dict):
        raise ModspecError(f"{where}: [dataset] and [run] must be tables; [run] is required")
    dataset = dict(grid.get("dataset", {}))
    run = dict(grid.get("run", {}))
    family = dataset.pop("family", "compositional")
    if family != "compositional":
        raise bad("dataset.family", family, "must be 'compositional'")
    for table, allowed, values in (("dataset", DATASET_KEYS, dataset), ("run", RUN_KEYS, run)):
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
    axes: dict[str, list[Any]] = {}
    for table, values in (("dataset", dataset), ("run", run)):
        for key, value in values.items():
            options = value if isinstance(value, list) else [value]
            if not options:
                raise bad(f"{table}.{key}", value, "an empty list sweeps nothing: give values")
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
    points = []
    for combo in itertools.product(*axes.values()):
        values = {**DATASET_KEYS, **RUN_KEYS, **dict(zip(axes, combo, strict=True))}
        points.append(_point(values, tuple(items)))
    return points


def _check_starts(point: Point) -> None:
    """The point's starts (``a0``, and the effective start of weights drawn with ``init_std``)
    within the bound of :func:`modspec.numerics.discrete.check_start`."""
    import numpy as np

    from modspec.numerics.discrete import check_start, converged_scale
    from modspec.numerics.expectation import expected_a0

    a_star = converged_scale(point.dataset())
    if point.a0 is not None:
        check_start("a0", point.a0, point.a0, a_star)
    with np.errstate(over="ignore"):
        drawn = (expected_a0(point.depth, point.hidden, np.float64(point.init_std))
                 if point.depth > 1 else point.init_std)
    check_start("init_std", point.init_std, drawn, a_star)


def _point(v: dict[str, Any], compute: tuple[str, ...]) -> Point:
    r = float(v["r"])
    rx = float(r if v["rx"] is None else v["rx"])
    ry = float(r if v["ry"] is None else v["ry"])
    epochs = int(v["epochs"])
    record_every = v["record_every"] or max(1, epochs // 200)
    point = Point(nx=v["nx"], ny=v["ny"], kx=v["kx"], ky=v["ky"], rx=rx, ry=ry,
                  arch=v["arch"], depth=v["depth"], lr=float(v["lr"]), epochs=epochs,
                  hidden=v["hidden"], init_std=float(v["init_std"]), seeds=v["seeds"],
                  seed=v["seed"], train_objects=v["train_objects"],
                  record_every=int(record_every),
                  a0=None if v["a0"] is None else float(v["a0"]), compute=compute)
    label = ", ".join(f"{f.name}={getattr(point, f.name)!r}" for f in fields(point)
                      if f.name in ("nx", "ny", "kx", "ky", "rx", "ry", "arch", "depth",
                                    "train_objects"))
    try:
        point.dataset()
        point.network()
        if point.train_objects is not None and point.train_objects > 2**point.nx:
            raise bad("train_objects", point.train_objects,
                      f"must be at most the 2**nx = {2**point.nx} objects")
        _check_starts(point)
        if "simulate" in point.compute or "train" in point.compute:
            from modspec.numerics.budget import check_memory, training_bytes

            check_memory(training_bytes(point.dataset(), point.network(), point.hidden,
                                        point.seeds, point.epochs, point.record_every),
                         f"seeds={point.seeds}, hidden={point.hidden}, epochs={point.epochs}")
    except ModspecError as exc:
        raise ModspecError(f"{exc} (at the grid point {label})") from None
    return point
