"""Learning rules: gradient descent plus an extra term, for a dense two-layer network.

A rule is gradient descent with two optional extra terms, each with its coefficient. Per epoch,
full batch over the P training objects (``X`` inputs × P, ``Y`` outputs × P), with
``τ = 1/(P·lr)``, ``E = Σyx − W2 W1 Σx``, the hidden activity ``H = W1 X`` and the output
``Ŷ = W2 W1 X``:

    W1 ← W1 + (1/τ) W2ᵀ E + Hebbian term
    W2 ← W2 + (1/τ) [ E W1ᵀ + γ (Y Yᵀ − Ŷ Ŷᵀ) W2 ]

where ``Y Yᵀ`` and ``Ŷ Ŷᵀ`` are sums over the training objects (not divided by P), and the
Hebbian term (not scaled by 1/τ) is, with coefficient ∇,

* ∇ > 0 (Oja's subspace rule): ``∇ · H (Xᵀ − Hᵀ W1)``, i.e. ``∇ Σ_p h_p (x_p − W1ᵀ h_p)ᵀ``;
* ∇ < 0 (anti-Hebbian): ``∇ · diag(1 / (1 − ‖W1[i,:]‖²)) · H Xᵀ`` (row i of W1);
* ∇ = 0: none.

γ = ∇ = 0 is gradient descent, the default: it adds nothing, so a run under it is the run of
plain gradient descent, number for number. The study's four other settings are named presets
(:data:`PRESETS`). Both terms are written for arrays stacked over leading batch axes (seeds)
and use only ``@``, ``.mT`` and elementwise arithmetic, so the same function steps NumPy
arrays (:func:`modspec.numerics.simulate.simulate`) and PyTorch tensors
(:func:`modspec.validation.training.train`). See docs/theory/learning-dynamics.md for the
gradient-descent part.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from modspec.theory.errors import bad

__all__ = ["GRADIENT_DESCENT", "LearningRule", "PRESETS", "check_rule_network", "learning_rule",
           "rule_terms"]


@dataclass(frozen=True)
class LearningRule:
    """A learning rule: its name, the output term's coefficient γ and the Hebbian ∇."""

    name: str = "gradient-descent"
    gamma: float = 0.0
    nabla: float = 0.0

    def __post_init__(self) -> None:
        for param, value in (("gamma", self.gamma), ("nabla", self.nabla)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not math.isfinite(value):
                raise bad(param, value, f"must be a finite number (rule {self.name!r})")
        object.__setattr__(self, "gamma", float(self.gamma))
        object.__setattr__(self, "nabla", float(self.nabla))

    @property
    def is_gradient_descent(self) -> bool:
        """True when both extra terms vanish (γ = ∇ = 0)."""
        return self.gamma == 0.0 and self.nabla == 0.0


GRADIENT_DESCENT = LearningRule()

#: The study's settings: name -> the rule with its default coefficients.
PRESETS: dict[str, LearningRule] = {
    "gradient-descent": GRADIENT_DESCENT,
    "hebbian": LearningRule("hebbian", nabla=1e-3),
    "anti-hebbian": LearningRule("anti-hebbian", nabla=-1e-3),
    "contrastive-hebbian": LearningRule("contrastive-hebbian", gamma=1.0),
    "predictive-coding": LearningRule("predictive-coding", gamma=-1.0),
}


def learning_rule(rule: Any = None, gamma: float | None = None,
                  nabla: float | None = None) -> LearningRule:
    """The rule named ``rule`` (a preset name, a :class:`LearningRule`, or None for gradient
    descent), with ``gamma``/``nabla`` replacing its coefficients when given."""
    if rule is None:
        rule = GRADIENT_DESCENT
    elif isinstance(rule, str):
        if rule not in PRESETS:
            raise bad("rule", rule, f"must be one of {', '.join(PRESETS)}")
        rule = PRESETS[rule]
    elif not isinstance(rule, LearningRule):
        raise bad("rule", type(rule).__name__, "must be a rule name or a LearningRule")
    if gamma is None and nabla is None:
        return rule
    return LearningRule(rule.name, rule.gamma if gamma is None else gamma,
                        rule.nabla if nabla is None else nabla)


def check_rule_network(rule: LearningRule, network: Any, dataset: Any) -> None:
    """Refuse a rule beyond gradient descent on anything but one two-layer module reading
    every input block and writing every output block, in the dataset's order (so that its
    layers act on the rows of ``X`` and ``Y`` as they are)."""
    if rule.is_gradient_descent:
        return
    mods = network.modules
    if not (len(mods) == 1 and mods[0].depth == 2
            and tuple(mods[0].inputs) == tuple(dataset.input_blocks)
            and tuple(mods[0].outputs) == tuple(dataset.output_blocks)):
        raise bad("rule", rule.name, "runs on dense two-layer networks only (one module of "
                  "depth 2 from every input to every output); gradient-descent runs on all")


def rule_terms(rule: LearningRule, W1: Any, W2: Any, X: Any, Y: Any, tau: float
               ) -> tuple[Any, Any]:
    """The extra terms ``(ΔW1, ΔW2)`` added to one epoch of gradient descent.

    ``W1`` (..., hidden, inputs) and ``W2`` (..., outputs, hidden) are the weights before the
    epoch; ``X`` (inputs, P) and ``Y`` (outputs, P) the training objects; ``τ = 1/(P·lr)``.
    ``ΔW1`` is the Hebbian term, ``ΔW2 = (γ/τ) (Y Yᵀ − Ŷ Ŷᵀ) W2`` (see the module docstring);
    a term whose coefficient is zero is returned as ``0``.
    """
    H = W1 @ X                                                   # (..., hidden, P)
    if rule.nabla > 0:
        d1 = rule.nabla * (H @ (X.mT - H.mT @ W1))
    elif rule.nabla < 0:
        rows = (W1 * W1).sum(-1)[..., None]                      # ‖W1[i,:]‖², (..., hidden, 1)
        d1 = rule.nabla * (H @ X.mT) / (1 - rows)
    else:
        d1 = 0
    if rule.gamma != 0:
        Yhat = W2 @ H
        d2 = (rule.gamma / tau) * ((Y @ Y.mT - Yhat @ Yhat.mT) @ W2)
    else:
        d2 = 0
    return d1, d2
