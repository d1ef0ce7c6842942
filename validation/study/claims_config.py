"""Settings of the claim experiments of docs/theory/dataset.md: :class:`ClaimsConfig` (each
experiment a :class:`~modspec.numerics.runspec.RunSpec`), the non-linear defaults :data:`RELU`
and the faster variant :func:`quick`. The claims themselves: :mod:`.claims`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from modspec.numerics.runspec import RunSpec
from modspec.theory.defaults import D0, EPOCHS, HIDDEN, INIT_STD, LR, SEED, SEEDS

__all__ = ["RELU", "ClaimsConfig", "quick"]


@dataclass(frozen=True)
class ClaimsConfig:
    """Settings of the claim experiments (defaults: linear networks on D0).

    ``lr``/``epochs``/``init_std`` for depth-2 and shallow runs (lr 0.005: τ = 25 epochs on D0,
    so the discrete steps follow the gradient flow to ~s/(2τ) ≈ 2.5 %); ``deep_*`` for the
    depth-3 run (a deeper network needs a larger initialisation to leave its plateau in
    reasonable time). ``heldout``: objects left out of training in the held-out runs.
    ``time``: the theory compared with, "discrete" (gradient descent epoch by epoch, exact
    at any lr: the default) or "continuous" (the gradient flow, docs/theory/dynamics.md).
    """

    nonlinearity: str | None = None
    bias: bool = False
    seeds: int = SEEDS
    seed: int = SEED
    hidden: int = HIDDEN
    lr: float = LR
    epochs: int = EPOCHS
    init_std: float = INIT_STD
    shallow_epochs: int = 800
    deep_depth: int = 3
    deep_lr: float = 0.02
    deep_epochs: int = 3000
    deep_init_std: float = 5e-3
    heldout: tuple[int, ...] = (2, 5)
    device: str = "auto"
    dtype: str = "float64"
    record_every: int = 1
    time: str = "discrete"
    tolerances: dict[str, float] = field(default_factory=dict)

    @property
    def linear(self) -> bool:
        return self.nonlinearity in (None, "linear")

    def run_spec(self, arch: str, depth: int = 2, *, data: Any = D0,
                 train_objects: Sequence[int] | None = None, lr: float | None = None,
                 epochs: int | None = None, init_std: float | None = None,
                 linear_only: bool = False) -> RunSpec:
        """One experiment of the claims: ``arch`` at ``depth`` on ``data``, trained by
        PyTorch with these settings (``lr``/``epochs``/``init_std`` replace this
        configuration's; ``linear_only``: a linear network without biases whatever it says)."""
        return RunSpec(data=data, arch=arch, depth=depth, hidden=self.hidden,
                       init_std=init_std or self.init_std, lr=lr or self.lr,
                       epochs=epochs or self.epochs, seeds=self.seeds, seed=self.seed,
                       train_objects=train_objects, time=self.time,
                       record_every=self.record_every,
                       nonlinearity=None if linear_only else self.nonlinearity,
                       bias=self.bias and not linear_only, backend="torch",
                       device=self.device, dtype=self.dtype)


#: Non-linear defaults: ReLU, hidden 50, small initialisation; more epochs (ReLU units pass
#: gradient for about half of the inputs, so learning is about twice as slow).
RELU = ClaimsConfig(nonlinearity="relu", epochs=5000, record_every=10)



def quick(config: ClaimsConfig, factor: int = 4) -> ClaimsConfig:
    """A faster variant: ``factor``× the learning rates, ``1/factor`` of the epochs.

    Keeps end points and orderings; trajectories then carry a larger discretisation error
    (≈ s/(2τ) with τ = 1/(P·lr)), so use it for qualitative checks.
    """
    return replace(config, lr=config.lr * factor, epochs=config.epochs // factor,
                   shallow_epochs=max(1, config.shallow_epochs // factor),
                   deep_lr=config.deep_lr * 2, deep_epochs=config.deep_epochs // 2)
