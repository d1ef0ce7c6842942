"""``modspec sweep`` of a gated network: the race's theory columns at every point of a grid.

docs/theory/gated.md §5. A grid of a gated network names the network (``--network FILE.toml``
or ``network = "FILE.toml"`` in ``[run]``, relative to the grid file) and its data
(``[dataset]`` with ``family = "gated"``: the tables of a data file, ``inputs``, ``targets``,
``matrices``, or ``file = "DATA.toml"``; or any family's parameters, its blocks bound to the
layers of the same names)::

    [dataset]
    family = "gated"
    file = "routing-data.toml"

    [run]
    network = "routing.toml"
    lr = [0.0007, 0.0014]       # a list is swept; the grid is the product
    epochs = 500
    start = [0.01, 0.08]        # the aligned start (default: the network's [training] start)
    time = ["discrete", "continuous"]
    compute = ["theory"]

Each point's row (one line of the sweep store, :mod:`modspec.validation.sweep_store`) holds
its parameters and the last epoch of :func:`~modspec.numerics.gated_predict.gated_prediction`:
``theory.<mode>:<pathway>`` (the pathway's strength on the mode), ``theory.<pathway>``
(``‖W_p‖_F``), ``theory.loss.<output layer>``, ``theory.half_rise.<mode>:<pathway>`` and
``theory.winner.<mode>`` (where the basis condition holds), ``theory.basis_condition``.
The network and data are derived once for the whole grid (:func:`gated_theory`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

from modspec.theory.errors import ModspecError, bad

__all__ = ["GATED_RUN", "is_gated_grid", "gated_points", "gated_row", "gated_sweep"]

#: Keys of a gated grid's ``[run]`` with their defaults (lr and epochs are required).
GATED_RUN: dict[str, Any] = {"network": None, "lr": None, "epochs": None, "start": None,
                             "time": "discrete", "compute": ["theory"]}


def _tables(grid: str | Path) -> dict[str, Any]:
    from .grid import read_grid

    return read_grid(str(grid))


def is_gated_grid(grid: str | Path, network: str | None = None) -> bool:
    """Whether the sweep of ``grid`` is of a gated network (``--network`` given, or the
    grid names one or has gated data)."""
    if network is not None:
        return True
    tables = _tables(grid)
    run, dataset = tables.get("run", {}), tables.get("dataset", {})
    # a table of the wrong shape is refused by the grid's own checks (validation/sweeps/grid.py)
    return (isinstance(run, dict) and "network" in run) or \
        (isinstance(dataset, dict) and dataset.get("family") == "gated")


def gated_points(tables: dict[str, Any], where: str = "grid") -> list[dict[str, Any]]:
    """The points of the ``[run]`` table: the product of its lists (``compute`` aside),
    checked before any work."""
    run = tables.get("run", {})
    unknown = sorted(set(run) - set(GATED_RUN))
    if unknown:
        raise ModspecError(f"{where}: [run] key {unknown[0]!r} is invalid for a gated network:"
                           f" must be one of {', '.join(GATED_RUN)}")
    if list(run.get("compute", ["theory"])) != ["theory"]:
        raise bad("compute", run.get("compute"), "must be ['theory'] for a gated network "
                  "(simulate and validate it with --network)")
    values = {k: run.get(k, v) for k, v in GATED_RUN.items() if k not in ("network", "compute")}
    for key in ("lr", "epochs"):
        if values[key] is None:
            raise ModspecError(f"{where}: [run] needs {key} for a gated network")
    axes = {k: v if isinstance(v, list) else [v] for k, v in values.items()}
    points = [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]
    for p in points:
        _check(p, where)
    return points


def _check(p: dict[str, Any], where: str) -> None:
    for key, low in (("lr", 0), ("start", 0)):
        v = p[key]
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                              or not v > low):
            raise bad(f"{where}: lr" if key == "lr" else f"{where}: start", v, "must be > 0")
    if isinstance(p["epochs"], bool) or not isinstance(p["epochs"], int) or p["epochs"] < 1:
        raise bad(f"{where}: epochs", p["epochs"], "must be an integer ≥ 1")
    if p["time"] not in ("discrete", "continuous"):
        raise bad(f"{where}: time", p["time"], "must be discrete or continuous")


def _load(tables: dict[str, Any], grid: Path, network: str | None) -> tuple[Any, Any, str]:
    """The network, its data and a digest of both declarations."""
    from modspec.theory.gated_data import data_for, load_data
    from modspec.theory.gated_toml import load_network

    path = network or tables.get("run", {}).get("network")
    if path is None:
        raise ModspecError(f"{grid}: a gated grid needs --network or network = FILE in [run]")
    if not isinstance(path, str) or not path:
        raise bad("run.network", path, "must be the path of a network TOML file (a string)")
    path = Path(path) if network is not None else grid.parent / path
    net = load_network(path)
    spec = dict(tables.get("dataset", {}))
    if "file" in spec:
        data = load_data(grid.parent / str(spec.pop("file")))
    else:   # gated matrices, or any family's blocks bound to the layers by name
        data = data_for(spec, net)
    digest = hashlib.sha256(path.read_bytes() + json.dumps(
        {k: str(v.tolist()) for k, v in (*data.inputs.items(), *data.targets.items())},
        sort_keys=True).encode()).hexdigest()
    return net, data.check(net), digest


def _spec(net: Any, point: dict[str, Any], digest: str) -> tuple[dict[str, Any], str]:
    """The point with its start resolved, and its key (SHA-256 of the declarations, the
    point and the modspec version)."""
    from modspec import _version

    start = point["start"] if point["start"] is not None else (
        net.training.start if net.training is not None else None)
    if start is None:
        raise bad("start", None, "a gated grid needs start in [run] or a [training] start "
                  "in the network file")
    spec = {**point, "start": start}
    key = hashlib.sha256(json.dumps({"gated": digest, **spec, "modspec": _version.__version__},
                                    sort_keys=True).encode()).hexdigest()
    return spec, key


def gated_row(theory: Any, point: dict[str, Any], digest: str) -> dict[str, Any]:
    """The store row of one point (see the module docstring)."""
    from modspec.numerics.gated_predict import gated_prediction

    net = theory.network
    spec, key = _spec(net, point, digest)
    start = spec["start"]
    rec = gated_prediction(theory, float(point["lr"]), int(point["epochs"]), float(start),
                           init_std=float(start), time=point["time"])
    row: dict[str, Any] = {"key": key, "network": net.name, **spec,
                           "theory.basis_condition": theory.modes is not None}
    row.update({f"theory.{k}": float(v[-1]) for k, v in rec.modes.items()})
    row.update({f"theory.{k}": float(v[-1]) for k, v in rec.quadrant_norms.items()})
    row.update({f"theory.loss.{k}": float(v[-1]) for k, v in rec.loss.items()})
    for a, rises in rec.meta.get("half_rise", {}).items():
        row.update({f"theory.half_rise.{a}:{p}": t for p, t in rises.items()})
    row.update({f"theory.winner.{a}": w for a, w in rec.meta.get("winner", {}).items()})
    return row


def gated_sweep(grid: str | Path, out: str | Path, network: str | None = None) -> Any:
    """Every point of a gated grid not yet in the store ``out``, in this process (the race
    is derived once; each point is a prediction). Returns the sweep's
    :class:`~modspec.validation.sweeps.SweepResult`."""
    from modspec.numerics.gated_predict import gated_theory

    from .run import SweepResult
    from .store import grid_key, open_store

    grid = Path(grid)
    tables = _tables(grid)
    points = gated_points(tables, where=str(grid))
    net, data, digest = _load(tables, grid, network)
    for p in points:
        _spec(net, p, digest)                   # every start resolved before any work
    theory = gated_theory(net, data)
    computed = 0
    with open_store(out, grid_key("gated")) as store:
        for p in points:
            if _spec(net, p, digest)[1] not in store.done:
                store.append(gated_row(theory, p, digest))
                computed += 1
    return SweepResult(len(points), len(points) - computed, computed, Path(out))
