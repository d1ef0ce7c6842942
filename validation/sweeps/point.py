"""One point of a sweep's grid: a small, picklable specification of a dataset, a network, a
run and what to compute (:class:`Point`), built and checked from a combination of the grid's
values (:func:`point_of`; the grid itself is :mod:`.grid`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from modspec.theory.architectures import Network, architecture
from modspec.theory.errors import ModspecError, bad
from modspec.theory.families import family as registered
from modspec.theory.families import family_network, from_mapping

__all__ = ["Point", "point_of"]

#: The fields of a point that are left out of its key at their defaults (so the keys of
#: compositional gradient-descent points are those of before these fields existed).
_NEW_FIELDS = {"family": "compositional", "data": (), "rule": "gradient-descent",
               "gamma": None, "nabla": None, "init": "random", "lam": None,
               "init_scale": None}



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
    init: str = "random"                # or "lambda-balanced" (validation/sweeps/balanced.py)
    lam: float | None = None
    init_scale: float | None = None

    @property
    def inline(self) -> bool:
        """Whether the family's parameters are the point's own columns ``nx … ry``."""
        return registered(self.family).inline

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
        ``rule``, and ``gamma``/``nabla`` when given; ``init``, ``lam``, ``init_scale`` for a
        λ-balanced start); ``compute`` joined by ``+``."""
        out = asdict(self)
        out["compute"] = "+".join(self.compute)
        data = dict(out.pop("data"))
        if not self.inline:
            for name in ("nx", "ny", "kx", "ky", "rx", "ry"):
                del out[name]
            out = {"family": self.family, **data, **out}
        else:
            del out["family"]
        if out["init"] == "random":
            del out["init"]
        for name in ("gamma", "nabla", "lam", "init_scale"):
            if out[name] is None:
                del out[name]
        return out

    def dataset(self) -> Any:
        """The point's dataset (:func:`modspec.theory.families.from_mapping` for a family
        other than the compositional one)."""
        if self.inline:
            return registered(self.family).build(nx=self.nx, ny=self.ny, kx=self.kx,
                                                 ky=self.ky, rx=self.rx, ry=self.ry)
        return _dataset(self.family, self.data)

    def network(self) -> Network:
        if self.inline:
            return architecture(self.arch, self.depth)
        return family_network(self.arch, self.dataset(), self.depth)

    def learning_rule(self) -> Any:
        """The point's :class:`~modspec.theory.rules.Rule`."""
        from modspec.theory.rules import as_rule

        return as_rule(self.rule, self.gamma, self.nabla)

    def run_spec(self, compute: str = "simulate") -> Any:
        """The point's run, a :class:`~modspec.numerics.runspec.RunSpec` (its training
        objects drawn, :meth:`objects`; a λ-balanced start with its ``lam`` and
        ``init_scale``): the NumPy simulator's, or for ``compute="train"`` PyTorch's on the
        CPU, recording every epoch."""
        from modspec.numerics.runspec import RunSpec

        sizes = {k: getattr(self, k) for k in ("nx", "ny", "kx", "ky", "rx", "ry")
                 if getattr(self, k) is not None}
        where = (dict(backend="torch", device="cpu", record_every=1) if compute == "train"
                 else dict(backend="numpy", record_every=self.record_every))
        start = {"init": self.init} | {k: getattr(self, k) for k in ("lam", "init_scale")
                                        if getattr(self, k) is not None}
        return RunSpec(data={"family": self.family, **dict(self.data), **sizes},
                       arch=self.arch, depth=self.depth, hidden=self.hidden,
                       init_std=self.init_std, a0=self.a0, lr=self.lr, epochs=self.epochs,
                       seeds=self.seeds, seed=self.seed, train_objects=self.objects(),
                       rule=self.rule, gamma=self.gamma, nabla=self.nabla, **start, **where)

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


def point_of(v: dict[str, Any], compute: tuple[str, ...], family: str = "compositional",
             keys: tuple[str, ...] = ()) -> Point:
    """The point of one combination ``v`` of a grid's values (every key of the family's
    ``[dataset]`` and of ``[run]``), checked as a whole: its dataset and network exist, its
    training objects, rule, starts and memory fit; a problem names the point."""
    epochs = int(v["epochs"])
    record_every = v["record_every"] or max(1, epochs // 200)
    if registered(family).inline:
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
                  nabla=None if v["nabla"] is None else float(v["nabla"]), init=v["init"],
                  **{k: None if v[k] is None else float(v[k]) for k in ("lam", "init_scale")})
    shown = [(f.name, getattr(point, f.name)) for f in fields(point)
             if f.name in ("nx", "ny", "kx", "ky", "rx", "ry") and point.inline]
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
        from modspec.validation.sweeps.balanced import check_point

        check_point(point)
        if "simulate" in point.compute or "train" in point.compute:
            from modspec.numerics.budget import check_training

            check_training(dataset, network, point.hidden, point.seeds, point.epochs,
                           point.record_every)
    except ModspecError as exc:
        raise ModspecError(f"{exc} (at the grid point {label})") from None
    return point
