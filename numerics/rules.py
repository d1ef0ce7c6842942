"""Learning rules in the simulator and the trainer: the array code of a rule's SymPy terms.

A rule is gradient descent plus extra matrix terms written in SymPy: one object,
:class:`modspec.theory.rules.Rule`, and one preset table, :data:`modspec.theory.rules.PRESETS`
(the study's rules; :func:`modspec.theory.rules.as_rule` resolves a name with γ/∇). Per
epoch, full batch over the P training objects, with ``τ = 1/(P·lr)``::

    W_l ← W_l + (1/τ) (gradient-descent term + scaled terms of l) + unscaled terms of l

:func:`rule_terms` runs the terms' array code, GENERATED from the rule's terms
(:mod:`modspec.numerics.codegen`, ``printer="array"``: only ``@``, ``.mT`` and elementwise
arithmetic, so the same code steps stacked NumPy arrays in
:func:`modspec.numerics.simulate.simulate` and PyTorch tensors in
:func:`modspec.validation.training.train`), cached and checksummed like all generated code.

γ = ∇ = 0 is gradient descent, the default: it adds nothing, so a run under it is the run of
plain gradient descent, number for number. See docs/theory/learning-rules.md.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modspec.theory.rules import Rule

__all__ = ["compiled_terms", "rule_terms"]


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


def compiled_terms(rule: Rule) -> tuple[Any, tuple[str, ...], tuple[float, ...]]:
    """The generated array function of the rule's extra terms, the names of its outputs
    (``W1``, ``W1_per_epoch``, ``W2``, ``W2_per_epoch``: scaled by 1/τ or per epoch) and the
    coefficient values in its argument order (after ``W1, W2, Σx, Σyx, Σy, P``)."""
    symbols = tuple(sorted(rule.values, key=lambda s: s.name))
    gen, names = _compile(rule.terms, symbols)
    return gen, names, tuple(rule.values[s] for s in symbols)


def rule_terms(rule: Rule, W1: Any, W2: Any, X: Any, Y: Any, tau: float
               ) -> tuple[Any, Any]:
    """The extra terms ``(ΔW1, ΔW2)`` added to one epoch of gradient descent.

    ``W1`` (..., hidden, inputs) and ``W2`` (..., outputs, hidden) are the weights before the
    epoch; ``X`` (inputs, P) and ``Y`` (outputs, P) the training objects (NumPy arrays or
    PyTorch tensors); ``τ = 1/(P·lr)``. The terms are the generated code of the rule's SymPy
    terms (:func:`compiled_terms`), in the covariances ``Σx = X Xᵀ/P``, ``Σyx = Y Xᵀ/P``,
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
