"""One run, specified once: the dataset, the network, the start, the schedule, the rule.

A :class:`RunSpec` is everything that decides a run of gradient descent (or of a learning
rule) before it is made, as plain, picklable values: the dataset as its family and
parameters (``data``), the network as a preset wiring ``arch`` of modules ``depth`` layers
deep with ``hidden`` units per hidden layer, the start (``init``: small random weights
``N(0, init_std²)``, or a seeded λ-balanced start ``W2ᵀW2 − W1W1ᵀ = lam·I`` whose Gaussian
layer has std ``init_scale``, docs/theory/any-start.md; ``a0``, a theory's initial mode
strength), the schedule (``lr``, ``epochs``, so ``τ = 1/(P_train·lr)`` epochs), the seeds
(``seeds`` networks, the first drawn from ``seed``), the training objects, the learning
rule (a preset name with its coefficients ``gamma``/``nabla``, or a
:class:`~modspec.theory.rules.Rule`), the theory's ``time`` (``"discrete"``:
gradient descent epoch by epoch; ``"continuous"``: the gradient flow), what is recorded
(``record_every``) and, where a trainer reads them, the network's non-linearity and biases
and the ``backend``/``device``/``dtype``.

The command line's options (``modspec.commands.options.run_spec``), a sweep's points
(``Point.run_spec``), the claims' configuration (``ClaimsConfig.run_spec``) build one;
:func:`~modspec.numerics.simulate.simulate`, :func:`~modspec.validation.training.train` and
:func:`~modspec.validation.pipeline.validate` take one in place of their arguments
(``simulate(spec)``; keywords given beside it override its values). Defaults are those of
:mod:`modspec.theory.defaults` (the dataset D0). Two specifications of the same run are
equal: the compositional family's scales are stored resolved (``rx``/``ry``, default ``r``).

Nothing here imports SymPy until a dataset or a rule is built, so the command line reads
options into a specification cheaply.
"""

from __future__ import annotations

import functools
import inspect
import json
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from modspec.theory.architectures import MAX_DEPTH, PRESETS, Network, architecture
from modspec.theory.defaults import D0, EPOCHS, HIDDEN, INIT_STD, LR, SEED, SEEDS
from modspec.theory.errors import bad, check_integer, check_number

__all__ = ["INITS", "RunSpec", "accepts_run_spec", "check_device", "data_of"]

#: Kinds of start: small random weights, or a seeded λ-balanced start.
INITS = ("random", "lambda-balanced")
_TIMES = ("discrete", "continuous")
_BACKENDS = ("auto", "torch", "numpy")
_DTYPES = ("float64", "float32")
_NONLINEARITIES = (None, "relu", "tanh")
#: Fields a trainer reads that the NumPy simulator cannot honour (left at their defaults
#: for it).
_TRAINER_ONLY = ("nonlinearity", "bias", "dtype")
#: Fields passed on to a producer as they are.
_RUN_FIELDS = ("lr", "epochs", "hidden", "init_std", "seeds", "seed", "record_every", "time",
               "nonlinearity", "bias", "backend", "device", "dtype")


def check_device(device: Any) -> str:
    """A PyTorch device named as modspec takes it: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``
    (whether it exists is asked only when training, :mod:`modspec.validation.devices`)."""
    name, _, index = str(device).partition(":")
    if not isinstance(device, str) or not (device in ("auto", "cpu", "cuda")
                                           or (name == "cuda" and index.isdigit())):
        raise bad("device", device, "must be auto, cpu, cuda or cuda:N")
    return device


def _choice(name: str, value: Any, allowed: tuple) -> Any:
    if value not in allowed:
        raise bad(name, value, f"must be one of {', '.join(map(str, allowed))}")
    return value


def data_of(dataset: Any) -> tuple[tuple[str, Any], ...]:
    """A dataset as ``(("family", name), (parameter, value), …)``, parameters sorted by name.

    ``dataset``: a mapping (a parsed ``--dataset`` file or a grid's ``[dataset]``: its
    ``family``, default ``compositional``, and parameters), such pairs, or a dataset built
    from a family (:class:`~modspec.theory.dataset.CompositionalDataset`, or one of
    :mod:`modspec.theory.families`, which records its family and parameters). The
    compositional family's scales are resolved: ``rx`` and ``ry`` (each default ``r``),
    without ``r``; a compositional dataset's ``output_features``, when chosen, are kept.
    Parameters are not checked here; :meth:`RunSpec.dataset` checks them.
    """
    if isinstance(dataset, Mapping):
        params = dict(dataset)
    elif isinstance(dataset, tuple) and all(isinstance(p, tuple) and len(p) == 2
                                            for p in dataset):
        params = dict(dataset)
    elif getattr(dataset, "params", None):
        params = {"family": getattr(dataset, "family", "compositional"), **dict(dataset.params)}
        if getattr(dataset, "output_features", None) is not None:   # a compositional choice
            params["output_features"] = tuple(dataset.output_features)
    else:
        raise bad("dataset", type(dataset).__name__, "a run specification names its dataset "
                  "by family and parameters: a mapping, or a dataset of a named family")
    family = params.pop("family", "compositional")
    from modspec.theory.families import family as registered

    if registered(family).inline:
        r = params.pop("r", 1)
        if params.get("rx") is not None and params.get("ry") is not None:
            check_number("r", r, 0)              # unused beside rx and ry, but checked
        for side in ("rx", "ry"):
            value = r if params.get(side) is None else params[side]
            params[side] = float(value) if isinstance(value, numbers.Real) else value
    return (("family", family), *sorted(params.items()))


@dataclass(frozen=True)
class RunSpec:
    """One run (see the module docstring); every value is checked when it is made."""

    data: Any = data_of(D0)
    arch: str = "dense"
    depth: int = 2
    hidden: int = HIDDEN
    init: str = "random"
    init_std: float = INIT_STD
    init_scale: float = 1.0
    lam: float = 0.0
    a0: float | None = None
    lr: float = LR
    epochs: int = EPOCHS
    seeds: int = SEEDS
    seed: int = SEED
    train_objects: tuple[int, ...] | None = None
    rule: Any = "gradient-descent"
    gamma: float | None = None
    nabla: float | None = None
    time: str = "discrete"
    record_every: int = 1
    nonlinearity: str | None = None
    bias: bool = False
    backend: str = "auto"
    device: str = "auto"
    dtype: str = "float64"

    def __post_init__(self) -> None:
        checked = {"data": data_of(self.data), **self._checked_numbers(),
                   **self._checked_choices()}
        if self.train_objects is not None:
            checked["train_objects"] = tuple(
                check_integer("train_objects", j, 0) for j in self.train_objects)
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def _checked_numbers(self) -> dict[str, Any]:
        out = {name: check_integer(name, getattr(self, name), low, high) for name, low, high in
               (("depth", 1, MAX_DEPTH), ("hidden", 1, None), ("epochs", 0, None),
                ("seeds", 1, None), ("seed", 0, 2**32 - 1), ("record_every", 1, None))}
        out |= {"lr": check_number("lr", self.lr, 0, strict=True),
                "init_std": check_number("init_std", self.init_std, 0),
                "init_scale": check_number("init_scale", self.init_scale, 0),
                "lam": check_number("lam", self.lam)}
        for name in ("a0", "gamma", "nabla"):
            value = getattr(self, name)
            out[name] = None if value is None else check_number(name, value)
        return out

    def _checked_choices(self) -> dict[str, Any]:
        nonlinearity = None if self.nonlinearity == "linear" else self.nonlinearity
        check_device(self.device)
        if not isinstance(self.bias, bool):
            raise bad("bias", self.bias, "must be True or False")
        if not isinstance(self.rule, str) and (self.gamma, self.nabla) != (None, None):
            raise bad("rule", getattr(self.rule, "name", self.rule), "takes its coefficients "
                      "from its own definition; gamma/nabla apply to the preset rules")
        return {"arch": _choice("arch", self.arch, tuple(sorted(PRESETS))),
                "init": _choice("init", self.init, INITS),
                "time": _choice("time", self.time, _TIMES),
                "backend": _choice("backend", self.backend, _BACKENDS),
                "dtype": _choice("dtype", self.dtype, _DTYPES),
                "nonlinearity": _choice("nonlinearity", nonlinearity, _NONLINEARITIES)}

    # ------------------------------------------------------------------ what it names
    @property
    def family(self) -> str:
        """The dataset's family (``compositional``, ``hierarchical``, …)."""
        return dict(self.data)["family"]

    @property
    def key(self) -> str:
        """The specification as canonical JSON (equal specifications, equal keys)."""
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), default=repr)

    def __hash__(self) -> int:
        return hash(self.key)

    def as_dict(self) -> dict[str, Any]:
        """Plain values: the dataset as a table ``{"family": …, parameter: value}``."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["data"] = dict(self.data)
        if out["train_objects"] is not None:
            out["train_objects"] = list(out["train_objects"])
        if not isinstance(self.rule, str):
            out["rule"] = getattr(self.rule, "name", repr(self.rule))
        return out

    def replace(self, **changes: Any) -> RunSpec:
        """A copy with ``changes`` (checked again)."""
        return replace(self, **changes)

    def dataset(self) -> Any:
        """The dataset (:func:`modspec.theory.families.from_mapping`; checked there, one line
        naming a bad parameter). A compositional dataset with equal scales is built from
        ``r``, so that a bad scale is named as the user gave it."""
        params = dict(self.data)
        from modspec.theory.families import family as registered

        if registered(params["family"]).inline and params.get("rx") == params.get("ry"):
            params["r"] = params.pop("rx")
            del params["ry"]
        if "output_features" in params:     # chosen in Python, not a family parameter
            from modspec.theory.dataset import CompositionalDataset

            return CompositionalDataset(**{k: v for k, v in params.items() if k != "family"})
        from modspec.theory.families import from_mapping

        return from_mapping(params)

    def network(self, dataset: Any = None) -> Network:
        """The preset wiring ``arch`` at ``depth``: on the compositional family's blocks the
        preset of :mod:`modspec.theory.architectures` (no dataset needed), on another
        family's that of :func:`modspec.theory.families.family_network`."""
        from modspec.theory.families import family as registered
        from modspec.theory.families import family_network

        if registered(self.family).inline:
            return architecture(self.arch, self.depth)

        return family_network(self.arch, self.dataset() if dataset is None else dataset,
                              self.depth)

    def objects(self) -> list[int] | None:
        """The training objects as a list (None: every object)."""
        return None if self.train_objects is None else list(self.train_objects)

    def learning_rule(self) -> Any:
        """The :class:`~modspec.theory.rules.Rule` of ``rule``/``gamma``/``nabla``."""
        from modspec.theory.rules import as_rule

        return as_rule(self.rule, self.gamma, self.nabla)

    @property
    def is_gradient_descent(self) -> bool:
        """Gradient descent itself: no rule, no coefficients given."""
        return self.rule == "gradient-descent" and (self.gamma, self.nabla) == (None, None)

    def initial_weights(self, dataset: Any, network: Network) -> Any:
        """The seeded λ-balanced weights of a ``lambda-balanced`` start
        (:func:`modspec.numerics.any_start.lambda_balanced_weights`); None for a random
        start, whose weights the producer draws from ``seed`` with ``init_std``."""
        if self.init == "random":
            return None
        from .any_start import lambda_balanced_weights

        return lambda_balanced_weights(dataset, network, self.hidden, self.lam,
                                       self.init_scale, self.seeds, self.seed)

    def arguments(self, weights: bool = True) -> dict[str, Any]:
        """The keyword arguments of a producer (``train`` takes them all): the dataset and
        network built, the training objects as a list, the rule resolved and, for a
        λ-balanced start, its weights (``weights``) or ``lam``/``init_scale`` (to be drawn
        by the callee)."""
        dataset = self.dataset()
        network = self.network(dataset)
        out = {name: getattr(self, name) for name in _RUN_FIELDS}
        out |= {"dataset": dataset, "network": network, "rule": self.learning_rule(),
                "train_objects": self.objects()}
        if weights:
            out["init"] = self.initial_weights(dataset, network)
        elif self.init != "random":
            out |= {"lam": self.lam, "init_scale": self.init_scale}
        return out


def accepts_run_spec(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Let ``fn`` (a producer: ``simulate``, ``train``, ``validate``) take a :class:`RunSpec`
    in place of its arguments: ``fn(spec, **keywords)`` calls ``fn`` with the spec's
    :meth:`~RunSpec.arguments` that it takes, ``keywords`` overriding them. A value of the
    spec that ``fn`` cannot honour (a non-linearity, biases or float32 for the NumPy
    simulator) is refused in one line; the theory's ``time`` is read only by a callee that
    takes it. Called without a spec, ``fn`` is called as it is."""
    params = inspect.signature(fn).parameters
    open_ = any(p.kind is p.VAR_KEYWORD for p in params.values())
    default = {f.name: f.default for f in fields(RunSpec)}

    @functools.wraps(fn)
    def call(*args: Any, **keywords: Any) -> Any:
        if not args or not isinstance(args[0], RunSpec):
            return fn(*args, **keywords)
        spec = args[0]
        if len(args) > 1:
            raise bad(next(iter(list(params)[1:]), "argument"), args[1],
                      "is given by the run specification: pass the spec alone (keywords "
                      "override its values)")
        values = spec.arguments(weights="init" in params)
        for name in _TRAINER_ONLY:
            if name not in params and not open_ and name not in keywords \
                    and values[name] != default[name]:
                raise bad(name, values[name], f"{fn.__name__} runs linear networks without "
                          "biases in float64 only; train runs the others")
        kept = {k: v for k, v in values.items() if k in params or open_}
        return fn(**{**kept, **keywords})

    return call
