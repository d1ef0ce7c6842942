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

``[run]`` also takes the learning ``rule`` (a preset of :mod:`modspec.numerics.rules`,
default ``"gradient-descent"``) and its coefficients ``gamma`` and ``nabla``; all three may
be swept. A ``[rule]`` table (``name``, ``gamma``, ``nabla``, as in a ``--config`` file) says
the same.

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
import inspect
import itertools
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from modspec.theory.architectures import PRESETS, Network, architecture
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.errors import ModspecError, bad
from modspec.theory.families import FAMILIES, family_network, from_mapping
from modspec.theory.inputfile import InputFileError, read_toml

__all__ = ["COMPUTE", "DATASET_KEYS", "LIST_KEYS", "MAX_EPOCHS", "MAX_POINTS", "RULE_TABLE",
           "RUN_KEYS", "Point", "family_keys", "grid_points", "read_grid"]

#: What a point can compute.
COMPUTE = ("theory", "simulate", "train")
#: Keys of ``[dataset]`` (family ``compositional``) with their defaults (the dataset D0).
DATASET_KEYS: dict[str, Any] = {"nx": 3, "ny": 1, "kx": 3, "ky": 1, "r": 1.0,
                                "rx": None, "ry": None}
#: Keys of ``[run]`` with their defaults (``compute`` is required).
RUN_KEYS: dict[str, Any] = {"arch": "dense", "depth": 2, "lr": None, "epochs": None,
                            "hidden": 50, "init_std": 2e-4, "seeds": 1, "seed": 0,
                            "train_objects": None, "record_every": None, "a0": None,
                            "rule": "gradient-descent", "gamma": None, "nabla": None,
                            "compute": None}
#: Keys of a ``[rule]`` table (as in a ``--config`` file) -> the ``[run]`` keys they stand for.
RULE_TABLE = {"name": "rule", "gamma": "gamma", "nabla": "nabla"}
#: Dataset parameters whose one value is a list (swept by a list of such lists).
LIST_KEYS = ("outputs", "inputs", "variants")
#: The fields of a point that are left out of its key at their defaults (so the keys of
#: compositional gradient-descent points are those of before these fields existed).
_NEW_FIELDS = {"family": "compositional", "data": (), "rule": "gradient-descent",
               "gamma": None, "nabla": None}


def family_keys(family: str) -> tuple[str, ...]:
    """The ``[dataset]`` keys of a family (besides ``family``)."""
    if family == "compositional":
        return tuple(DATASET_KEYS)
    if family == "declared":
        return ("space", "inputs", "outputs")
    if family == "contexts":
        from modspec.theory.contexts import KEYS

        return tuple(KEYS)
    return tuple(inspect.signature(FAMILIES[family]).parameters)


#: The most points one grid may have (each is computed and stored as one row).
MAX_POINTS = 100_000
#: The most epochs a point may run: simulations and the discrete theory step every epoch.
MAX_EPOCHS = 10**8


@dataclass(frozen=True)
class Point:
    """One point of a grid: a dataset, a network, a run, what to compute.

    Plain numbers and strings only, so it pickles small and hashes stably (:attr:`key`).
    A compositional point has ``nx … ry`` (``rx``/``ry`` resolved: ``r`` when not given);
    a point of another ``family`` has them None and its parameters in ``data``
    (``(name, value)`` pairs, as the grid file gives them). ``train_objects`` is a count or
    None; ``rule`` a preset name with its coefficients ``gamma``/``nabla`` (None: the
    preset's).
    """

    nx: int | None
    ny: int | None
    kx: int | None
    ky: int | None
    rx: float | None
    ry: float | None
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
    family: str = "compositional"
    data: tuple[tuple[str, Any], ...] = ()
    rule: str = "gradient-descent"
    gamma: float | None = None
    nabla: float | None = None

    @property
    def key(self) -> str:
        """SHA-256 of the point's full specification and the modspec version (canonical
        JSON): a point stored by another version is computed again."""
        from modspec._version import __version__

        spec = {k: v for k, v in asdict(self).items()
                if k not in _NEW_FIELDS or v != _NEW_FIELDS[k]}
        text = json.dumps({**spec, "modspec": __version__}, sort_keys=True,
                          separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def params(self) -> dict[str, Any]:
        """The parameters as a flat dict, the store's columns: a compositional point's
        ``nx … ry``, another family's ``family`` and its own parameters; the run's (with
        ``rule``, and ``gamma``/``nabla`` when given); ``compute`` joined by ``+``."""
        out = asdict(self)
        out["compute"] = "+".join(self.compute)
        data = dict(out.pop("data"))
        if self.family != "compositional":
            for name in ("nx", "ny", "kx", "ky", "rx", "ry"):
                del out[name]
            out = {"family": self.family, **data, **out}
        else:
            del out["family"]
        for name in ("gamma", "nabla"):
            if out[name] is None:
                del out[name]
        return out

    def dataset(self) -> Any:
        """The point's dataset (:func:`modspec.theory.families.from_mapping` for a family
        other than the compositional one)."""
        if self.family == "compositional":
            return CompositionalDataset(nx=self.nx, ny=self.ny, kx=self.kx, ky=self.ky,
                                        rx=self.rx, ry=self.ry)
        return _dataset(self.family, self.data)

    def network(self) -> Network:
        if self.family == "compositional":
            return architecture(self.arch, self.depth)
        return family_network(self.arch, self.dataset(), self.depth)

    def learning_rule(self) -> Any:
        """The point's :class:`~modspec.theory.rules.Rule`."""
        from modspec.theory.rules import as_rule

        return as_rule(self.rule, self.gamma, self.nabla)

    def objects(self) -> list[int] | None:
        """The training objects: ``train_objects`` of the dataset's P drawn with ``seed``
        (sorted), or None for all."""
        if self.train_objects is None:
            return None
        import numpy as np

        rng = np.random.default_rng(self.seed)
        return sorted(int(j) for j in rng.choice(int(self.dataset().P), self.train_objects,
                                                 replace=False))


def _dataset(family: str, data: tuple[tuple[str, Any], ...]) -> Any:
    """A dataset of ``family`` from its parameters (checked: one line naming a bad one)."""
    try:
        return from_mapping({"family": family, **dict(data)})
    except (TypeError, ValueError, AttributeError) as exc:
        raise ModspecError(f"{family}: {exc}") from None


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
    elif key in ("gamma", "nabla"):
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
    if family == "compositional" or key not in LIST_KEYS:
        return True
    return bool(value) and all(isinstance(v, list) and v and
                               all(isinstance(u, (list, dict)) for u in v) for v in value)


def grid_points(grid: dict[str, Any], where: str = "grid") -> list[Point]:
    """Every point of a grid (the parsed TOML), checked; see the module docstring."""
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
    family = dataset.pop("family", "compositional")
    families = ("compositional", *sorted(set(FAMILIES) - {"compositional"}), "declared")
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
    axes: dict[str, list[Any]] = {}
    for table, values in (("dataset", dataset), ("run", run)):
        for key, value in values.items():
            swept = _swept(key, value, family if table == "dataset" else "compositional")
            options = value if swept else [value]
            if not options:
                raise bad(f"{table}.{key}", value, "an empty list sweeps nothing: give values")
            if family == "compositional" or table == "run":
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
    defaults = DATASET_KEYS if family == "compositional" else {}
    for combo in itertools.product(*axes.values()):
        values = {**defaults, **RUN_KEYS, **dict(zip(axes, combo, strict=True))}
        points.append(_point(values, tuple(items), family, keys))
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


def _point(v: dict[str, Any], compute: tuple[str, ...], family: str = "compositional",
           keys: tuple[str, ...] = ()) -> Point:
    epochs = int(v["epochs"])
    record_every = v["record_every"] or max(1, epochs // 200)
    if family == "compositional":
        r = float(v["r"])
        rx = float(r if v["rx"] is None else v["rx"])
        ry = float(r if v["ry"] is None else v["ry"])
        sizes: dict[str, Any] = dict(nx=v["nx"], ny=v["ny"], kx=v["kx"], ky=v["ky"], rx=rx,
                                     ry=ry)
        data: tuple[tuple[str, Any], ...] = ()
    else:
        sizes = dict.fromkeys(("nx", "ny", "kx", "ky", "rx", "ry"))
        data = tuple((k, v[k]) for k in keys if k in v)
    point = Point(**sizes, arch=v["arch"], depth=v["depth"], lr=float(v["lr"]),
                  epochs=epochs, hidden=v["hidden"], init_std=float(v["init_std"]),
                  seeds=v["seeds"], seed=v["seed"], train_objects=v["train_objects"],
                  record_every=int(record_every),
                  a0=None if v["a0"] is None else float(v["a0"]), compute=compute,
                  family=family, data=data, rule=v["rule"],
                  gamma=None if v["gamma"] is None else float(v["gamma"]),
                  nabla=None if v["nabla"] is None else float(v["nabla"]))
    shown = [(f.name, getattr(point, f.name)) for f in fields(point)
             if f.name in ("nx", "ny", "kx", "ky", "rx", "ry") and family == "compositional"]
    shown += list(data) + [(f.name, getattr(point, f.name)) for f in fields(point)
                           if f.name in ("arch", "depth", "train_objects")]
    if point.rule != "gradient-descent":
        shown.append(("rule", point.rule))
    label = ", ".join(f"{k}={val!r}" for k, val in shown)
    try:
        dataset, network = point.dataset(), point.network()
        P = int(dataset.P)
        if point.train_objects is not None and point.train_objects > P:
            raise bad("train_objects", point.train_objects,
                      f"must be at most the dataset's P = {P} objects")
        if point.rule != "gradient-descent" or point.gamma is not None \
                or point.nabla is not None:
            from modspec.theory.rules import check_network

            check_network(point.learning_rule(), network, dataset)
        _check_starts(point)
        if "simulate" in point.compute or "train" in point.compute:
            from modspec.numerics.budget import check_memory, training_bytes

            check_memory(training_bytes(dataset, network, point.hidden,
                                        point.seeds, point.epochs, point.record_every),
                         f"seeds={point.seeds}, hidden={point.hidden}, epochs={point.epochs}")
    except ModspecError as exc:
        raise ModspecError(f"{exc} (at the grid point {label})") from None
    return point
