"""What a learning rule's derivation says about one dataset and network.

docs/theory/learning-rules.md. :func:`derive_rule` combines the dataset-free per-mode system
of a rule (:func:`modspec.theory.alignment.layer_system`) with what the dataset decides:

* whether the outputs are linear in the inputs, derived, not assumed: the loss at the
  converged map ``W* = Σyx Σx⁺`` (every mode at ``s/λ``) is ``tr (Σy − W* Σx W*ᵀ)/2`` up to
  normalisation, and ``Σy − W* Σx W*ᵀ = (Y − W* X)(Y − W* X)ᵀ/P ⪰ 0``; so a zero converged
  loss (SymPy simplifies the derived loss at the fixed points) means ``Σy = U diag(s²/λ) Uᵀ``:
  every mode's output variance is ``σy = s²/λ`` and ``Y Yᵀ`` is diagonal in the aligned
  basis, as the reduction needs. The compositional family (numeric or symbolic sizes) is
  such a dataset;
* the fixed points of the per-mode system with that ``σy`` (and their Jacobian eigenvalues);
* the rule's extra terms at ``W*`` (on ``c1 c2 = s/λ``), and whether they vanish there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import sympy as sp

from . import alignment as al
from . import symbols as sy
from .errors import bad
from .rules import Rule, as_rule, dense_two_layer

if TYPE_CHECKING:
    from .derivation import Derivation

__all__ = ["RuleDerivation", "as_rule", "derive_rule", "describe", "outputs_linear"]


@dataclass(frozen=True, eq=False)
class RuleDerivation:
    """A rule's derivation on a dataset (module docstring).

    ``system`` the per-mode, per-layer system (:class:`~modspec.theory.alignment.LayerSystem`);
    ``linear`` whether the outputs are linear in the inputs (so ``σy = s²/λ`` per mode);
    ``given`` the substitution used for ``σy``; ``fixed_points`` and ``at_optimum`` (layer →
    the extra terms at ``W*``, in τ-units) with ``σy`` substituted where known.
    """

    derivation: Derivation
    rule: Rule
    system: al.LayerSystem
    linear: bool
    given: dict
    fixed_points: tuple[al.FixedPoint, ...]
    at_optimum: dict[int, sp.Expr]

    @property
    def vanishes_at_optimum(self) -> dict[int, bool | None]:
        """Per layer: True when the extra terms are identically zero at ``W*``, False when
        they are not (they may still vanish at particular strengths: see ``at_optimum``)."""
        return {k: (True if sp.simplify(v) == 0 else False) for k, v in self.at_optimum.items()}


def outputs_linear(th: Derivation) -> bool:
    """True when the derived loss at the converged map is zero: ``Y = W* X`` on the training
    objects (module docstring)."""
    losses = th.observables.get("loss") if th.observables else None
    if not losses:
        return False
    fixed = {th.strengths[k]: m.fixed_point for k, m in th.modes.items()}
    return all(sp.simplify(e.xreplace(fixed)) == 0 for e in losses.values())


def derive_rule(th: Derivation, rule: Rule) -> RuleDerivation:
    """Derive ``rule`` on the dataset and network of ``th`` (a dense two-layer network)."""
    mods = th.network.modules
    if not rule.terms:
        depth = mods[0].depth if len(mods) == 1 else 2
    else:
        depth = 2
        if not dense_two_layer(th.network, th.dataset):
            raise bad("rule", rule.name, "runs on dense two-layer networks only (one module "
                      "of depth 2 from every input to every output)")
    system = al.layer_system(depth, rule)
    linear = outputs_linear(th) if not th.coupled else False
    given = {al.sigma_y: sy.s**2 / sy.lam} if linear else {}
    if not system.reducible:
        return RuleDerivation(th, rule, system, linear, given, (), {})
    # each coefficient with the sign of its value (a zero one drops its term), so that
    # stability can be decided
    signed = {sym: sp.Symbol(sym.name, positive=True) if value > 0
              else sp.Symbol(sym.name, negative=True) if value < 0 else sp.S.Zero
              for sym, value in rule.values.items()}
    back = {v: k for k, v in signed.items() if v != 0}
    points = tuple(replace(p, strengths=tuple(x.xreplace(back) for x in p.strengths),
                           map=p.map.xreplace(back),
                           eigenvalues=tuple(e.xreplace(back) for e in p.eigenvalues))
                   for p in al.fixed_points(system, {**given, **signed}))
    at = {k: sp.factor(sp.simplify(v.xreplace(given)))
          for k, v in al.at_optimum(system, rule).items()}
    return RuleDerivation(th, rule, system, linear, given, points, at)


def describe(rd: RuleDerivation) -> dict[str, Any]:
    """Plain data (strings of expressions, :func:`~modspec.theory.symbols.to_text`)."""
    from .symbols import to_text

    s = rd.system
    out: dict[str, Any] = {"rule": rd.rule.name, "coefficients": rd.rule.coefficients,
                           "reducible": s.reducible, "reason": s.reason or None,
                           "outputs_linear_in_inputs": rd.linear,
                           "sigma_y": to_text(rd.given[al.sigma_y]) if rd.given else None}
    if not s.reducible:
        return out
    c = [to_text(x) for x in s.strengths]
    out["per_mode_system"] = {
        "continuous": [f"d{ci}/dt = {to_text(e)}" for ci, e in zip(c, s.rhs, strict=True)],
        "per_epoch": [f"{ci} <- {to_text(e)}" for ci, e in zip(c, s.step, strict=True)],
    }
    out["fixed_points"] = [{"strengths": [to_text(x) for x in p.strengths],
                            "map": to_text(p.map),
                            "eigenvalues": [to_text(e) for e in p.eigenvalues],
                            "stable": p.stable,
                            "attracting_curve": p.attracting_curve}
                           | ({"solving": [to_text(e) for e in p.solving]} if p.solving else {})
                           for p in rd.fixed_points]
    out["at_optimum"] = {f"W{k}": to_text(v) for k, v in rd.at_optimum.items()}
    out["vanishes_at_optimum"] = {f"W{k}": v for k, v in rd.vanishes_at_optimum.items()}
    return out
