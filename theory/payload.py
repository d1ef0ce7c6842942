"""The JSON contract of ``modspec derive``: :class:`JsonPrinter` and :func:`payload`.

The contract itself is documented in :mod:`modspec.theory.export`, which renders it in every
format. Expressions of a symbolic dataset are strings plain ``sympy.sympify`` reads
(:func:`~modspec.theory.symbols.to_text`); numbers are floats.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sympy as sp

from .derivation import Derivation, ModuleDerivation
from .errors import ModspecError, bad
from .printing import Printer
from .symbols import to_text
from .validity import validity

__all__ = ["JsonPrinter", "payload", "rule_of", "strict_json"]


def _conv(symbolic: bool) -> Callable[[Any], Any]:
    def conv(e: Any) -> Any:
        if e is None:
            return None
        return to_text(e) if symbolic else float(e)
    return conv


def _mult(symbolic: bool) -> Callable[[Any], Any]:
    return to_text if symbolic else int


def rule_of(th: Derivation, rule: Any) -> Any:
    """The rule derivation to print: ``rule`` (a :class:`~modspec.theory.rules.Rule`, derived
    on ``th``, or already a derivation), else ``th.rule``."""
    if rule is None:
        return th.rule
    from .rule_derivation import RuleDerivation, derive_rule

    return rule if isinstance(rule, RuleDerivation) else derive_rule(th, rule)


class JsonPrinter(Printer):
    """The JSON contract of ``modspec derive`` (module docstring) as plain Python data.

    Settings: ``train_objects`` (adds ``heldout``), ``rule`` (a rule or its derivation,
    printed instead of ``Derivation.rule``)."""

    format = "json"
    _default_settings = {"train_objects": None, "rule": None}

    def _print_Derivation(self, th: Derivation) -> dict[str, Any]:  # noqa: N802
        modules, dynamics = [], {}
        for md in th.modules:
            modules.append(self._print(md, th=th))
            dynamics[md.name] = self._dynamics(th, md)
        out: dict[str, Any] = {"dataset": th.dataset.describe(),
                               "architecture": th.network.name, "coupled": th.coupled,
                               "modules": modules, "converged": _converged(th),
                               "dynamics": dynamics}
        if th.symbolic:
            out["validity"] = validity(th)
            depth_free = _any_depth(th)
            if depth_free is not None:
                out["any_depth"] = depth_free
        if th.coupled:
            out["note"] = th.converged["note"]
        if self._settings["train_objects"] is not None:
            out["heldout"] = _heldout(th, self._settings["train_objects"])
        rule = rule_of(th, self._settings["rule"])
        if rule is not None:
            out["rule"] = self._print(rule)
        return out

    def _print_ModuleDerivation(self, md: ModuleDerivation,  # noqa: N802
                                th: Derivation) -> dict[str, Any]:
        conv, mult = _conv(th.symbolic), _mult(th.symbolic)
        modes = [{"label": "+".join(m.label for m in g), "s": conv(g[0].s),
                  "lambda": conv(g[0].lam),
                  "multiplicity": mult(sp.Add(*[m.multiplicity for m in g])),
                  "fixed_point": None if th.coupled else conv(g[0].fixed_point)}
                 for g in md.spectrum.distinct_modes()]
        return {"name": md.name, "inputs": list(md.module.inputs),
                "outputs": list(md.module.outputs), "depth": md.module.depth, "modes": modes}

    @staticmethod
    def _dynamics(th: Derivation, md: ModuleDerivation) -> dict[str, Any]:
        half = th.half_rise_times
        groups = md.spectrum.distinct_modes()
        return {
            "mode_ode": None if th.coupled else to_text(md.mode_ode),
            "closed_form": None if md.solution is None else to_text(md.solution),
            "implicit": None if md.implicit is None else to_text(md.implicit),
            "half_rise": {"+".join(m.label for m in g): to_text(half[md.keys[g[0].label]])
                          for g in groups if md.keys[g[0].label] in half},
            "matrix_odes": [to_text(eq) for eq in th.matrix_odes[md.name]],
        }

    def _print_RuleDerivation(self, rd: Any) -> dict[str, Any]:  # noqa: N802
        from .rule_derivation import describe

        return describe(rd)

    def _print_Rule(self, rule: Any) -> dict[str, Any]:  # noqa: N802
        return {"rule": rule.name, "coefficients": rule.coefficients}


def payload(th: Derivation, train_objects: list[int] | None = None,
            rule: Any = None) -> dict[str, Any]:
    """The JSON contract of ``modspec derive`` (see the module docstring); ``rule`` (a
    :class:`~modspec.theory.rules.Rule`) adds its derivation
    (:func:`modspec.theory.rule_derivation.derive_rule`)."""
    return JsonPrinter(train_objects=train_objects, rule=rule).doprint(th)


def _any_depth(th: Derivation) -> dict[str, Any] | None:
    """For the symbolic hierarchical family's dense network: its modes for any number of
    levels ``D`` (:func:`~modspec.theory.families.hierarchical_levels`), the root and a generic
    level ``g``; ``None`` otherwise."""
    from .families import family_of

    any_depth = family_of(th.dataset).any_depth
    if (any_depth is None or len(th.modules) != 1
            or th.modules[0].spectrum.outputs != tuple(th.dataset.output_blocks)):
        return None
    modes = [{"label": m.label, "s": to_text(m.s), "lambda": to_text(m.lam),
              "multiplicity": to_text(m.multiplicity), "fixed_point": to_text(m.fixed_point),
              "condition": to_text(m.condition)} for m in any_depth()]
    return {"levels": "D", "modes": modes,
            "note": "the dense network's modes for any number of levels D: the root (level0) "
                    "and a generic level g, 1 <= g <= D - 1 (level_g)"}


def _converged(th: Derivation) -> dict[str, Any]:
    c = th.converged
    if c.get("quadrant_norms") is None:
        return {"quadrant_norms": None, "systematic": None, "method": c["method"]}
    conv = _conv(th.symbolic)
    out = {"quadrant_norms": {k: conv(v) for k, v in c["quadrant_norms"].items()},
           "systematic": c["systematic"],
           "report": {k: conv(v) for k, v in c["report"].items()},
           "method": c["method"]}
    if "quadrant_norms_std" in c:  # a coupled network's end point over several starts
        out["quadrant_norms_std"] = c["quadrant_norms_std"]
        out["starts"] = c["starts"]
    return out


def _heldout(th: Derivation, objects: list[int]) -> dict[str, Any]:
    from .heldout import heldout

    if th.symbolic:
        raise bad("train_objects", objects, "needs a numeric dataset (drop --symbolic)")
    h = heldout(th.dataset, th.network, objects)
    return h.as_dict() | {"method": h.method}


def strict_json(data: Any) -> str:
    """``data`` as indented, strict JSON: JSON has no NaN or Infinity, so a value that is not
    finite is refused (ModspecError, one line at the command line) instead of printed."""
    try:
        return json.dumps(data, indent=2, allow_nan=False)
    except ValueError:
        raise ModspecError("the result holds NaN or Infinity, which JSON cannot represent: the "
                           "options are outside the range where the numbers are finite; "
                           "nothing was written") from None
