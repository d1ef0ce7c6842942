"""A symbolic derivation at a point: :func:`substitute` (``Derivation.subs``).

Every expression of a symbolic :class:`~modspec.theory.derivation.Derivation` is substituted
with exact numbers, the way the numeric dataset at that point would be derived:

* each module's spectrum is :meth:`Spectrum.subs <modspec.theory.spectra.Spectrum.subs>`: a
  mode whose multiplicity or input variance vanishes there is dropped, one whose singular
  value vanishes becomes silent, so the modes are those of the numeric dataset; their
  singular vectors are the numeric dataset's (by label);
* the closed forms ``a(t)`` and the observables are the symbolic expressions at the point,
  with the strength of every mode that does not exist there set to 0 (terms that would be
  ``0/0`` carry their mode's condition, :mod:`~modspec.theory.validity`); the converged map
  is every substituted mode at its fixed point;
* the dataset is the numeric one at the point; a rule's derivation is derived again on it.

Only free symbols may be given (checked and named as the family checks them, one line).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import sympy as sp

from .dataset import CompositionalDataset
from .derived import DerivedOnUse
from .errors import bad
from .projectors import sample_space
from .spectra import module_spectra

if TYPE_CHECKING:
    from .derivation import Derivation

__all__ = ["numeric_dataset", "substitute"]


def substitute(th: Derivation, values: Mapping[Any, Any] | None = None, **kw: Any
               ) -> Derivation:
    """``th`` at the point ``values`` (module docstring); keys as
    :meth:`Spectrum.subs <modspec.theory.spectra.Spectrum.subs>` takes them."""
    if not th.symbolic:
        raise bad("derivation", th.network.name, "is numeric: Derivation.subs substitutes "
                  "into a symbolic derivation (derive a symbolic dataset)")
    mapping = th.modules[0].spectrum.substitution(values, **kw)
    dataset = numeric_dataset(th.dataset, mapping)
    vectors = _vectors(dataset, th.network) if not dataset.is_symbolic else {}
    modules, zero = [], {}
    for i, md in enumerate(th.modules):
        spec = md.spectrum.subs(mapping)
        spec = replace(spec, modes=tuple(
            replace(m, U=vectors.get((i, m.label), (None, None))[0],
                    V=vectors.get((i, m.label), (None, None))[1]) for m in spec.modes),
            dataset=dataset)
        kept = {m.label for m in spec.modes}
        zero |= {th.strengths[k]: sp.Integer(0) for label, k in md.keys.items()
                 if label not in kept}
        modules.append(replace(md, spectrum=spec,
                               keys={lb: k for lb, k in md.keys.items() if lb in kept}))
    keys = {k for md in modules for k in md.keys.values()}
    at = {**mapping, **zero}
    observables: Mapping[str, Any] = (
        {} if th.coupled else DerivedOnUse(lambda: _at(dict(th.observables), at)))
    new = replace(th, dataset=dataset, space=sample_space(dataset), modules=tuple(modules),
                  strengths={k: v for k, v in th.strengths.items() if k in keys},
                  trajectories={k: None if e is None else _at(e, at)
                                for k, e in th.trajectories.items() if k in keys},
                  observables=observables, closed_form_end=_converged(th, dataset, modules),
                  steps=[*th.steps, "substituted " + ", ".join(
                      f"{k} = {v}" for k, v in mapping.items())], rule=None)
    if th.rule is not None:
        from .rule_derivation import derive_rule

        new = replace(new, rule=derive_rule(new, th.rule.rule))
    return new


def numeric_dataset(dataset: Any, mapping: Mapping[sp.Symbol, sp.Expr]) -> Any:
    """The dataset whose parameters are those of ``dataset`` at ``mapping`` (numbers where
    they have no symbol left: sizes as integers, scales as floats; parameters that are not
    expressions, such as parity outputs, as they are)."""
    given = dataset.params if isinstance(dataset.params, Mapping) else dict(dataset.params)
    params = {k: _number(v.xreplace(mapping)) if isinstance(v, sp.Basic) else v
              for k, v in given.items()}
    if isinstance(dataset, CompositionalDataset):
        return dataset.subs(**params)
    from .families import FAMILIES

    if dataset.family not in FAMILIES:
        raise bad("dataset", dataset.family, f"has no substitution; Derivation.subs takes "
                  f"the families {', '.join(FAMILIES)}")
    return FAMILIES[dataset.family](**params)


def _number(value: sp.Expr) -> Any:
    if value.free_symbols:
        return value
    return int(value) if value.is_Integer else float(value)


def _vectors(dataset: Any, network: Any) -> dict[tuple[int, str], tuple[Any, Any]]:
    """The singular vectors ``(U, V)`` of every mode of the numeric dataset, by module
    index and label."""
    spectra = module_spectra(dataset, network, sample_space(dataset))
    return {(i, m.label): (m.U, m.V) for i, spec in enumerate(spectra) for m in spec.modes}


def _at(obj: Any, at: Mapping[sp.Symbol, sp.Expr]) -> Any:
    """``obj`` (an expression, or dicts of them) at ``at``, simplified; other values kept."""
    if isinstance(obj, Mapping):
        return {k: _at(v, at) for k, v in obj.items()}
    if isinstance(obj, sp.Basic):
        return sp.simplify(obj.subs(at))
    return obj


def _converged(th: Derivation, dataset: Any, modules: list[Any]) -> dict[str, Any]:
    """The converged map at the point, from the substituted spectra (every mode at its fixed
    point, as for the numeric dataset); a coupled network's stays to be computed."""
    if th.coupled:
        return dict(th.closed_form_end)
    from .converged import converged_map_of

    return converged_map_of(sample_space(dataset), [md.spectrum for md in modules])
