"""Settings of the claim experiments of docs/theory/dataset.md: :class:`ClaimsConfig` (the
run every experiment starts from, a :class:`~modspec.numerics.runspec.RunSpec`, and what the
claims add), the non-linear defaults :data:`RELU` and the faster variant :func:`quick`. The
claims themselves: :mod:`.claims`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from modspec.numerics.runspec import RunSpec
from modspec.theory.defaults import D0

__all__ = ["RELU", "ClaimsConfig", "quick"]

#: The fields of a :class:`RunSpec`: a setting of that name belongs to the claims' run.
_RUN = frozenset(f.name for f in fields(RunSpec))
#: The settings as ``claims.json`` lists them, in its order.
_KEYS = ("nonlinearity", "bias", "seeds", "seed", "hidden", "lr", "epochs", "init_std",
         "shallow_epochs", "deep_depth", "deep_lr", "deep_epochs", "deep_init_std", "heldout",
         "device", "dtype", "record_every", "time", "tolerances")


@dataclass(frozen=True)
class ClaimsConfig:
    """Settings of the claim experiments (defaults: linear networks on D0).

    ``run``: what every experiment shares, one :class:`RunSpec` trained by PyTorch (its
    defaults those of :mod:`modspec.theory.defaults`): seeds, hidden width, ``lr``/``epochs``/
    ``init_std`` of the depth-2 runs (lr 0.005: τ = 25 epochs on D0, so the discrete steps
    follow the gradient flow to ~s/(2τ) ≈ 2.5 %), non-linearity, biases, recording, device,
    dtype and ``time``, the theory compared with: "discrete" (gradient descent epoch by
    epoch, exact at any lr: the default) or "continuous" (the gradient flow,
    docs/theory/dynamics.md). Each experiment names its wiring, depth and data on it
    (:meth:`run_spec`). What the claims add: ``shallow_epochs``; ``deep_*`` for the depth-3
    run (a deeper network needs a larger initialisation to leave its plateau in reasonable
    time); ``heldout``, objects left out of training in the held-out runs; ``tolerances``.
    Build one from flat settings with :meth:`of` (``ClaimsConfig.of(seeds=2, lr=0.02)``).
    """

    run: RunSpec = RunSpec(backend="torch")
    shallow_epochs: int = 800
    deep_depth: int = 3
    deep_lr: float = 0.02
    deep_epochs: int = 3000
    deep_init_std: float = 5e-3
    heldout: tuple[int, ...] = (2, 5)
    tolerances: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, **settings: Any) -> ClaimsConfig:
        """The default configuration with ``settings`` (:meth:`replace`)."""
        return cls().replace(**settings)

    def replace(self, **changes: Any) -> ClaimsConfig:
        """A copy with ``changes``: a field of :class:`RunSpec` (``lr``, ``seeds``, …)
        changes :attr:`run` (checked there), any other this configuration's own."""
        run = {name: changes.pop(name) for name in list(changes) if name in _RUN}
        return replace(self, run=self.run.replace(**run), **changes)

    @property
    def linear(self) -> bool:
        return self.run.nonlinearity is None

    def as_dict(self) -> dict[str, Any]:
        """The settings as flat plain values (``claims.json``'s ``config``)."""
        return {name: getattr(self.run if name in _RUN else self, name) for name in _KEYS}

    def run_spec(self, arch: str, depth: int = 2, *, data: Any = D0,
                 train_objects: Sequence[int] | None = None, lr: float | None = None,
                 epochs: int | None = None, init_std: float | None = None,
                 linear_only: bool = False) -> RunSpec:
        """One experiment of the claims: :attr:`run` with wiring ``arch`` at ``depth`` on
        ``data`` (``lr``/``epochs``/``init_std`` replace the run's; ``linear_only``: a linear
        network without biases whatever it says)."""
        run = self.run
        return run.replace(data=data, arch=arch, depth=depth, train_objects=train_objects,
                           init_std=init_std or run.init_std, lr=lr or run.lr,
                           epochs=epochs or run.epochs,
                           nonlinearity=None if linear_only else run.nonlinearity,
                           bias=run.bias and not linear_only)


#: Non-linear defaults: ReLU, hidden 50, small initialisation; more epochs (ReLU units pass
#: gradient for about half of the inputs, so learning is about twice as slow).
RELU = ClaimsConfig.of(nonlinearity="relu", epochs=5000, record_every=10)


def quick(config: ClaimsConfig, factor: int = 4) -> ClaimsConfig:
    """A faster variant: ``factor``× the learning rates, ``1/factor`` of the epochs.

    Keeps end points and orderings; trajectories then carry a larger discretisation error
    (≈ s/(2τ) with τ = 1/(P·lr)), so use it for qualitative checks.
    """
    return config.replace(lr=config.run.lr * factor, epochs=config.run.epochs // factor,
                          shallow_epochs=max(1, config.shallow_epochs // factor),
                          deep_lr=config.deep_lr * 2, deep_epochs=config.deep_epochs // 2)
