"""The study's robustness measurement: do other learning rules reach the same map on D0?

Four rules, each gradient descent plus an extra term (:mod:`modspec.numerics.rules`), train a
dense two-layer network (hidden 50, initial weights ``N(0, (2e-4)²)``) on D0 at the study's
learning rates and epochs (:data:`SETTINGS`), several seeds each, with the batched NumPy
simulator. For every rule the end point's quadrant norms (mean ± std over seeds) are compared
with those of the converged map of gradient descent ``W*`` (``derive(D0, dense()).converged``),
and the end-point map itself with ``W*`` (Frobenius distance, mean ± std). A rule reaches the
same non-systematic map when the means of ``‖W[Gx→Oy]‖`` and ``‖W[Ox→Oy]‖`` (the rows the
claim is about) are within ``tol`` of ``W*``'s: ``‖W*[Gx→Oy]‖ = 2√6/11 ≈ 0.445``, whereas the
systematic map has ``W[Gx→Oy] = 0`` (docs/theory/dataset.md). Gradient descent itself is
run as the reference row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modspec.numerics.rules import PRESETS
from modspec.numerics.simulate import simulate
from modspec.theory import architectures
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.derivation import derive
from modspec.theory.errors import bad

__all__ = ["D0", "SETTINGS", "RuleOutcome", "rules_study"]

#: The study's dataset D0.
D0 = {"nx": 3, "ny": 1, "kx": 3, "ky": 1, "r": 1}

#: rule name -> (learning rate, epochs) of the study.
SETTINGS: dict[str, tuple[float, int]] = {
    "gradient-descent": (0.01, 1500),
    "hebbian": (0.01, 1500),
    "anti-hebbian": (0.01, 1500),
    "contrastive-hebbian": (0.005, 1500),
    "predictive-coding": (0.01, 3000),
}


@dataclass(frozen=True)
class RuleOutcome:
    """One rule's end point over seeds, against gradient descent's converged map ``W*``."""

    rule: str
    lr: float
    epochs: int
    norms_mean: dict[str, float]
    norms_std: dict[str, float]
    target: dict[str, float]
    distance_mean: float
    distance_std: float
    same_map: bool

    def line(self) -> str:
        """One line: the claim's quadrants (mean ± std) and the distance to W*."""
        q = "  ".join(f"{k} {self.norms_mean[k]:.4f}±{self.norms_std[k]:.1e} "
                      f"(W* {self.target[k]:.4f})" for k in self.norms_mean)
        return (f"{self.rule:20s} lr={self.lr:g} epochs={self.epochs}  {q}  "
                f"|W-W*| {self.distance_mean:.4f}±{self.distance_std:.1e}  "
                f"same non-systematic map: {'yes' if self.same_map else 'no'}")


def rules_study(seeds: int = 5, seed: int = 0, hidden: int = 50, init_std: float = 2e-4,
                epoch_scale: float = 1.0, tol: float = 0.05,
                rules: tuple[str, ...] = tuple(SETTINGS)) -> list[RuleOutcome]:
    """Run each rule of ``rules`` at its study setting (epochs × ``epoch_scale``) for ``seeds``
    seeds from ``seed``; see the module docstring for what is reported and ``tol``."""
    dataset = CompositionalDataset(**D0)
    network = architectures.dense()
    derivation = derive(dataset, network)
    w_star = np.asarray(derivation.converged_map(), dtype=float)
    target = {q: float(v) for q, v in derivation.converged["quadrant_norms"].items()}
    out = []
    for name in rules:
        if name not in SETTINGS:
            raise bad("rules", name, f"must be among {', '.join(SETTINGS)}")
        lr, epochs = SETTINGS[name]
        epochs = max(1, int(round(epochs * epoch_scale)))
        run = simulate(dataset, network, lr=lr, epochs=epochs, hidden=hidden,
                       init_std=init_std, seeds=seeds, seed=seed, record_every=epochs,
                       rule=PRESETS[name])
        norms = {q: v[:, -1] for q, v in run.quadrant_norms.items()}
        dist = np.sqrt(np.sum((run.final_map - w_star) ** 2, axis=(-2, -1)))
        same = all(abs(float(norms[q].mean()) - target[q]) <= tol
                   for q in ("Gx->Oy", "Ox->Oy"))
        out.append(RuleOutcome(name, lr, epochs,
                               {q: float(v.mean()) for q, v in norms.items()},
                               {q: float(v.std()) for q, v in norms.items()}, target,
                               float(dist.mean()), float(dist.std()), same))
    return out
