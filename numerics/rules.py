"""Learning rules in the simulator and the trainer: the array code of a rule's SymPy terms.

A rule is gradient descent plus extra matrix terms written in SymPy
(:mod:`modspec.theory.rules`, the one definition of a rule: the study's presets and any rule a
user writes). Per epoch, full batch over the P training objects, with ``τ = 1/(P·lr)``::

    W_l ← W_l + (1/τ) (gradient-descent term + scaled terms of l) + unscaled terms of l

:class:`LearningRule` is how the library passes a rule around: the study's family by name and
coefficients (``LearningRule("hebbian", nabla=1e-3)``, :data:`PRESETS`), or a user's SymPy
:class:`~modspec.theory.rules.Rule` (:meth:`LearningRule.of`); either way its ``definition``
is the SymPy rule. :func:`rule_terms` runs the terms' array code, GENERATED from that
definition (:mod:`modspec.numerics.codegen`, ``printer="array"``: only ``@``, ``.mT`` and
elementwise arithmetic, so the same code steps stacked NumPy arrays in
:func:`modspec.numerics.simulate.simulate` and PyTorch tensors in
:func:`modspec.validation.training.train`), cached and checksummed like all generated code.

γ = ∇ = 0 is gradient descent, the default: it adds nothing, so a run under it is the run of
plain gradient descent, number for number. See docs/theory/learning-rules.md.
"""

from __future__ import annotations

import functools
import math
import numbers
import sys
from dataclasses import dataclass, field
from typing import Any

from modspec.theory.errors import bad
from modspec.theory.names import check_rule_name

__all__ = ["GRADIENT_DESCENT", "LearningRule", "PRESETS", "check_rule_network", "compiled_terms",
           "learning_rule", "rule_terms"]


@dataclass(frozen=True)
class LearningRule:
    """A learning rule: its name, the output term's coefficient γ and the Hebbian ∇ (the
    study's family, :func:`modspec.theory.rules.study_rule`), or a user's SymPy rule
    (``user``, built with :meth:`of`)."""

    name: str = "gradient-descent"
    gamma: float = 0.0
    nabla: float = 0.0
    user: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_rule_name(self.name)
        for param, value in (("gamma", self.gamma), ("nabla", self.nabla)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not math.isfinite(value):
                raise bad(param, value, f"must be a finite number (rule {self.name!r})")
            if value != 0 and abs(value) < sys.float_info.min:   # subnormal: exact algebra
                raise bad(param, value, f"must be 0 or at least {sys.float_info.min:.3g} "
                          f"in size (rule {self.name!r}; a subnormal coefficient is 0 in "
                          "all but name)")
        object.__setattr__(self, "gamma", float(self.gamma))
        object.__setattr__(self, "nabla", float(self.nabla))

    @classmethod
    def of(cls, rule: Any) -> LearningRule:
        """The learning rule of a SymPy :class:`~modspec.theory.rules.Rule`."""
        from modspec.theory import rules as theory

        if not isinstance(rule, theory.Rule):
            raise bad("rule", type(rule).__name__, "must be a rule name, a LearningRule or a "
                      "modspec.theory.rules.Rule")
        return cls(rule.name, rule.values.get(theory.gamma, 0.0),
                   rule.values.get(theory.nabla, 0.0), user=rule)

    @functools.cached_property
    def definition(self) -> Any:
        """The SymPy rule (:class:`modspec.theory.rules.Rule`) this rule runs."""
        if self.user is not None:
            return self.user
        from modspec.theory.rules import study_rule

        return study_rule(self.name, self.gamma, self.nabla)

    @property
    def is_gradient_descent(self) -> bool:
        """True when every extra term vanishes (γ = ∇ = 0 for the study's family)."""
        if self.user is not None:
            return self.user.is_gradient_descent
        return self.gamma == 0.0 and self.nabla == 0.0

    @property
    def coefficients(self) -> dict[str, float]:
        """``{name: value}`` of the coefficients, as a run records them."""
        if self.user is not None:
            return self.user.coefficients
        return {"gamma": self.gamma, "nabla": self.nabla}

    @property
    def label(self) -> str:
        """``name (coefficient=value, …)``, how messages name the rule."""
        values = ", ".join(f"{k}={v:g}" for k, v in self.coefficients.items())
        return f"{self.name} ({values})" if values else self.name


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
    """The rule named ``rule`` (a preset name, a :class:`LearningRule`, a SymPy
    :class:`~modspec.theory.rules.Rule`, or None for gradient descent), with ``gamma``/``nabla``
    replacing its coefficients when given (the study's family only)."""
    if rule is None:
        rule = GRADIENT_DESCENT
    elif isinstance(rule, str):
        if rule not in PRESETS:
            raise bad("rule", rule, f"must be one of {', '.join(PRESETS)}")
        rule = PRESETS[rule]
    elif not isinstance(rule, LearningRule):
        rule = LearningRule.of(rule)
    if gamma is None and nabla is None:
        return rule
    if rule.user is not None:
        raise bad("rule", rule.name, "takes its coefficients from its own definition; "
                  "--gamma/--nabla apply to the study's rules")
    if rule.name == GRADIENT_DESCENT.name:
        for param, value, rules in (("gamma", gamma, "contrastive-hebbian or predictive-coding"),
                                    ("nabla", nabla, "hebbian or anti-hebbian")):
            if value is not None and value != 0:
                raise bad(param, value, f"does not apply to gradient-descent, which has no "
                          f"extra terms: choose a rule that has one (--rule {rules})")
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


_OUTPUTS = (("W1", 1, True), ("W1_per_epoch", 1, False), ("W2", 2, True),
            ("W2_per_epoch", 2, False))


@functools.lru_cache(maxsize=64)
def _compile(terms: tuple, symbols: tuple) -> tuple[Any, tuple[str, ...]]:
    import sympy as sp

    from modspec.theory import rules as theory

    from .codegen import generate

    rule = theory.Rule("compiled", terms, dict.fromkeys(symbols, 0.0))
    outputs = {}
    for name, layer, scaled in _OUTPUTS:
        expr = rule.terms_of(layer, scaled)
        if not isinstance(expr, sp.ZeroMatrix):
            outputs[name] = expr
    if not outputs:
        return None, ()
    args = [theory.W1, theory.W2, theory.Sigma_x, theory.Sigma_yx, theory.Sigma_y, theory.P,
            *symbols]
    gen = generate(outputs, args, name="rule_terms", printer="array",
                   description="Extra terms of a learning rule (modspec.theory.rules): "
                   "'W1'/'W2' are scaled by 1/tau, '*_per_epoch' are added as they are.",
                   units={"P": "objects"})
    return gen, tuple(outputs)


def compiled_terms(rule: LearningRule) -> tuple[Any, tuple[str, ...], tuple[float, ...]]:
    """The generated array function of the rule's extra terms, the names of its outputs
    (``W1``, ``W1_per_epoch``, ``W2``, ``W2_per_epoch``: scaled by 1/τ or per epoch) and the
    coefficient values in its argument order (after ``W1, W2, Σx, Σyx, Σy, P``)."""
    definition = rule.definition
    symbols = tuple(sorted(definition.values, key=lambda s: s.name))
    gen, names = _compile(definition.terms, symbols)
    return gen, names, tuple(definition.values[s] for s in symbols)


def rule_terms(rule: LearningRule, W1: Any, W2: Any, X: Any, Y: Any, tau: float
               ) -> tuple[Any, Any]:
    """The extra terms ``(ΔW1, ΔW2)`` added to one epoch of gradient descent.

    ``W1`` (..., hidden, inputs) and ``W2`` (..., outputs, hidden) are the weights before the
    epoch; ``X`` (inputs, P) and ``Y`` (outputs, P) the training objects (NumPy arrays or
    PyTorch tensors); ``τ = 1/(P·lr)``. The terms are the generated code of the rule's SymPy
    definition (:func:`compiled_terms`), in the covariances ``Σx = X Xᵀ/P``, ``Σyx = Y Xᵀ/P``,
    ``Σy = Y Yᵀ/P``; a layer without a term gets ``0``.
    """
    gen, names, values = compiled_terms(rule)
    if gen is None:
        return 0, 0
    P = X.shape[-1]
    out = dict(zip(names, gen(W1, W2, X @ X.mT / P, Y @ X.mT / P, Y @ Y.mT / P, P, *values),
                   strict=True))
    d1 = out.get("W1", 0) / tau + out.get("W1_per_epoch", 0)
    d2 = out.get("W2", 0) / tau + out.get("W2_per_epoch", 0)
    return d1, d2
