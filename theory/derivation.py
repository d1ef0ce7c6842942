"""The derivation of a network's learning dynamics, from dataset and architecture to observables.

:func:`derive` chains the steps of docs/theory/learning-dynamics.md for any architecture built from
:class:`~modspec.theory.architectures.Module` s:

1. **Loss and matrix flow.** ``L = ½ Σ_samples ‖y − ŷ‖²`` with ``ŷ`` the sum of the modules'
   outputs; SymPy's matrix calculus gives ``τ dW_i/dt = −(1/P) ∂L/∂W_i`` for every layer of
   every module, written in the covariances ``Σx = X Xᵀ/P`` and ``Σyx = Y Xᵀ/P``
   (:mod:`modspec.theory.matrix_flow`).
2. **Decoupling.** Modules that write disjoint output blocks have separate losses and learn
   independently; modules that share an output block are *coupled* (their errors mix), and
   the derivation stops at the exact coupled matrix flow (no closed form is claimed).
3. **Modes.** Each decoupled module's covariances share singular vectors (projector algebra,
   :mod:`modspec.theory.spectra`): with ``W_m = U diag(a) Vᵀ`` every mode strength obeys
   ``τ da/dt = L a^(2−2/L) (s − λ a)`` for a module of depth L.
4. **Solutions.** Closed forms ``a(t)`` by separation of variables for L ≤ 2 (checked by
   substitution); for L > 2 the elementary implicit solution ``t(a)`` (checked by
   differentiation); half-rise times for every depth; fixed points and their stability
   (:mod:`modspec.theory.dynamics`).
5. **Observables.** Quadrant norms, block losses and the systematicity report as exact
   SymPy expressions in the mode-strength symbols (:mod:`modspec.theory.observables`); at the
   fixed points they give the converged map ``W*``.

Time ``t`` and ``τ = 1/(P·lr)`` are in epochs of full-batch gradient descent. Losses are per
sample: the mean over samples of the summed squared error over a block's output units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any

import numpy as np
import sympy as sp

from . import dynamics
from . import symbols as sy
from .architectures import Module, Network
from .converged import (
    LOSS_NORMALISATION,
    converged_map_of,
    coupled_map,
    map_blocks,
    network_map,
    observables_of,
)
from .dataset import CompositionalDataset, Dataset
from .derived import DerivedOnUse, ModuleDerivation
from .errors import ModspecError, bad
from .observables import map_summary
from .projectors import SampleSpace, sample_space
from .spectra import Mode, module_spectra
from .validity import DOMAIN, validity
from .work_budget import check_observables, check_work

#: ``DOMAIN``/``validity`` (:mod:`~modspec.theory.validity`), ``ModuleDerivation``/
#: ``DerivedOnUse`` (:mod:`~modspec.theory.derived`), ``coupled_map``/``map_blocks``/
#: ``network_map`` (:mod:`~modspec.theory.converged`) are public here as before.
__all__ = ["DOMAIN", "Derivation", "DerivedOnUse", "LOSS_NORMALISATION", "ModuleDerivation",
           "coupled_map", "derive", "map_blocks", "mode_key", "network_map", "strength_symbol",
           "validity"]


@dataclass(frozen=True, eq=False)
class Derivation:
    """Everything :func:`derive` found; see the module docstring for the steps.

    ``strengths`` maps result keys to mode-strength symbols; ``trajectories`` to the closed
    form ``a(t)`` of that mode (``s`` and ``λ`` substituted; ``None`` without a closed form);
    ``observables`` holds ``quadrant_norms`` and ``loss`` as expressions in the strength symbols
    (and, for the Ox/Gx/Oy/Gy blocks, ``systematicity``); absent for coupled networks. It is
    derived when first read (:class:`DerivedOnUse`): ``modspec derive`` never shows it, and
    its simplification grows with the number of output blocks (a hierarchy's levels).
    ``closed_form_end`` is what the derivation found in closed form about ``W*`` (empty
    apart from ``coupled``/``closed_form`` flags for coupled networks); :attr:`converged` is
    the converged map's description for every network.
    """

    dataset: CompositionalDataset | Dataset
    network: Network
    space: SampleSpace
    coupled: bool
    modules: tuple[ModuleDerivation, ...]
    strengths: dict[str, sp.Symbol]
    trajectories: dict[str, sp.Expr | None]
    observables: Mapping[str, Any]
    closed_form_end: dict[str, Any]
    steps: list[str] = field(default_factory=list)
    #: A learning rule's derivation on this dataset and network
    #: (:class:`~modspec.theory.rule_derivation.RuleDerivation`), when derived with a rule.
    rule: Any = None

    # ------------------------------------------------------------------ views
    @cached_property
    def matrix_odes(self) -> dict[str, list[sp.Eq]]:
        """The exact matrix flow ``τ dW_i/dt = …`` of every module in the covariances, derived
        by SymPy matrix calculus (:func:`~modspec.theory.matrix_flow.matrix_odes`; about a
        second, so derived when first asked for)."""
        from .matrix_flow import matrix_odes

        return matrix_odes(self.network, self.dataset)

    @cached_property
    def converged(self) -> dict[str, Any]:
        """The converged map ``W*`` and how it was obtained.

        ``quadrant_norms``, ``systematic``, ``report`` (``‖W[Gx→Oy]‖``, ``‖W[Ox→Oy] − S‖``,
        ``‖W[Ox→Gy]‖``), ``method``; for decoupled networks exact expressions (symbolic or
        numeric) and ``blocks`` (for each quadrant ``{atom: c}`` with
        ``W*[i→o] = Σ_g c_g · Y_o Π_g X_iᵀ``). A coupled network has no mode-wise closed form:
        its ``W*`` is the exact minimum-parameter-norm map at depth 1
        (:func:`~modspec.theory.matrix_flow.minimum_norm_map`), and deeper the end point of
        the integrated matrix flow (:mod:`modspec.theory.endpoints`), numbers in both cases
        (``map`` holds the matrix), on any numeric dataset, with the norms of every block pair
        (``report`` and ``systematic`` only where the blocks ``Ox, Gx, Oy, Gy`` exist);
        ``quadrant_norms`` is ``None`` for a symbolic dataset.
        """
        if not self.coupled:
            return self.closed_form_end
        out = dict(self.closed_form_end)
        if self.symbolic:
            return out | {"quadrant_norms": None, "systematic": None,
                          "method": "none: a coupled network's W* needs a numeric dataset"}
        W, method = coupled_map(self.dataset, self.network)
        return out | map_summary(self.dataset, W) | {"method": method, "map": W}

    @property
    def modes(self) -> dict[str, Mode]:
        """Result key → :class:`Mode` over all modules."""
        return {md.keys[m.label]: m for md in self.modules for m in md.spectrum.modes}

    @property
    def symbolic(self) -> bool:
        return bool(getattr(self.dataset, "is_symbolic", False))

    @cached_property
    def half_rise_times(self) -> dict[str, sp.Expr]:
        """Result key → time (epochs) at which the mode reaches half its fixed point from
        ``a0`` (symbols ``tau``, ``a0`` and the dataset's), for every depth
        (:func:`dynamics.half_rise_time`); empty for coupled networks."""
        if self.coupled:
            return {}
        times = {d: dynamics.half_rise_time(d) for d in {md.module.depth for md in self.modules}}
        return {md.keys[m.label]: times[md.module.depth].subs(
                    {sy.s: m.s, sy.lam: m.lam}, simultaneous=True)
                for md in self.modules for m in md.spectrum.modes}

    def module(self, name: str) -> ModuleDerivation:
        for md in self.modules:
            if md.name == name:
                return md
        raise bad("module", name, f"must be one of {[md.name for md in self.modules]}")

    def converged_map(self) -> np.ndarray:
        """The converged map ``W*`` (rows as ``Y``, columns as ``X``) of a numeric decoupled
        network, assembled from the analytic singular vectors at the fixed points."""
        if self.symbolic:
            raise ModspecError("converged_map needs a numeric dataset: substitute numbers "
                               "(W* of a symbolic dataset is in Derivation.converged)")
        if self.coupled:
            raise ModspecError(
                f"architecture {self.network.name!r} is coupled: W* has no mode-wise closed "
                "form; integrate the matrix flow (modspec.numerics)")
        values = {k: float(m.fixed_point) for k, m in self.modes.items()}
        return network_map(self, values)

    def subs(self, values: Mapping[Any, Any] | None = None, **kw: Any) -> Derivation:
        """This symbolic derivation at a point (``th.subs(nx=3, ny=1, kx=3, ky=1, r=1)``):
        the derivation of the numeric dataset there, every expression substituted, the modes
        that do not exist there dropped (:func:`modspec.theory.substitute.substitute`)."""
        from .substitute import substitute

        return substitute(self, values, **kw)

    def to_latex(self) -> str:
        """A complete LaTeX fragment (``align*`` blocks, amsmath) of every step
        (:class:`~modspec.theory.latex.LatexPrinter`)."""
        from .latex import derivation_latex

        return derivation_latex(self)

    def _repr_latex_(self) -> str:
        from .latex import derivation_latex

        return derivation_latex(self, notebook=True)


# -------------------------------------------------------------------------- keys
def mode_key(network: Network, module: Module, label: str) -> str:
    """``label`` for a single-module network, else ``"<module>:<label>"``."""
    return label if len(network.modules) == 1 else f"{module.name}:{label}"


def strength_symbol(key: str) -> sp.Symbol:
    """The mode-strength symbol of a result key: ``a_pi1``, ``a_A_pi1_pi2`` (non-negative)."""
    safe = "".join(c if c.isalnum() else "_" for c in key)
    return sp.Symbol(f"a_{safe}", nonnegative=True)


# -------------------------------------------------------------------------- derive
def derive(dataset: CompositionalDataset | Dataset, network: Network,
           cache: bool = True, rule: Any = None) -> Derivation:
    """Derive the learning dynamics of ``network`` trained on ``dataset``.

    ``dataset`` may be numeric or symbolic (:meth:`CompositionalDataset.symbolic`). With
    ``cache=True`` the closed-form mode solutions (the slow step, seconds) are read from the
    on-disk cache of :mod:`modspec.theory.cache` when present and re-verified by substitution
    into their ODE; results are identical either way. ``rule`` (a preset name, a
:class:`~modspec.theory.rules.Rule`) adds that rule's derivation as :attr:`Derivation.rule`
    (:func:`modspec.theory.rule_derivation.derive_rule`, docs/theory/learning-rules.md).
    """
    if rule is not None:
        from dataclasses import replace

        from .rule_derivation import derive_rule
        from .rules import as_rule

        th = derive(dataset, network, cache)
        return replace(th, rule=derive_rule(th, as_rule(rule)))
    if not isinstance(network, Network):
        raise bad("network", type(network).__name__, "must be a modspec Network")
    check_work(dataset, network=network)
    space = sample_space(dataset)
    check_work(dataset, space, network)
    coupled = network.coupled
    steps = _opening_steps(network, space)
    modules: list[ModuleDerivation] = []
    strengths: dict[str, sp.Symbol] = {}
    trajectories: dict[str, sp.Expr | None] = {}
    for module, spec in zip(network.modules, module_spectra(dataset, network, space),
                            strict=True):
        md = _module_derivation(network, module, spec, coupled, cache, steps)
        modules.append(md)
        for m in spec.modes:
            key = md.keys[m.label]
            strengths[key] = strength_symbol(key)
            trajectories[key] = (None if md.solution is None else md.solution.subs(
                {sy.s: m.s, sy.lam: m.lam}, simultaneous=True))
    observables, conv = _results(space, modules, strengths, coupled, steps)
    return Derivation(dataset, network, space, coupled, tuple(modules), strengths,
                      trajectories, observables, conv, steps)


def _opening_steps(network: Network, space: SampleSpace) -> list[str]:
    """Steps 1–2 (loss, matrix flow) and whether the modules decouple."""
    steps = ["loss: L = 1/2 sum over samples of ||y - y_hat||^2, y_hat = sum of the "
             f"modules' outputs ({len(network.modules)} module(s))",
             "matrix flow: tau dW_i/dt = -(1/P) dL/dW_i by SymPy matrix calculus, "
             "rewritten in Sigma_x = X X^T/P, Sigma_yx = Y X^T/P"]
    if network.coupled:
        shared = [b for b in space.output_blocks if len(network.writers(b)) > 1]
        steps.append(f"coupled: output block(s) {shared} are written by several modules; "
                     "their errors mix, so the modules do not decouple and no closed form is "
                     "claimed: integrate the coupled matrix flow numerically")
    else:
        steps.append("decoupled: modules write disjoint output blocks, the loss is a sum of "
                     "module losses and each module learns independently")
    return steps


def _module_derivation(network: Network, module: Module, spec: Any, coupled: bool,
                       cache: bool, steps: list[str]) -> ModuleDerivation:
    """Steps 3–4 for one module: its modes, mode ODE and solution (steps appended)."""
    keys = {m.label: mode_key(network, module, m.label) for m in spec.modes}
    sol = None if coupled else dynamics.mode_solution(module.depth, cache=cache)
    implicit = dynamics.mode_time(module.depth) if sol is None and not coupled else None
    md = ModuleDerivation(module, spec, dynamics.mode_ode(module.depth), sol,
                          dynamics.fixed_points(module.depth), keys, implicit)
    steps.append(f"module {module.name} ({module.label}, depth {module.depth}): "
                 f"{len(spec.modes)} mode(s) {[m.label for m in spec.modes]}"
                 + ("" if coupled else f"; each obeys {md.mode_ode}"))
    if not coupled:
        steps.append(f"module {module.name}: " + (
            f"closed form a(t) = {sol} (checked by substitution)" if sol is not None else
            f"depth {module.depth}: a(t) is not elementary; the implicit solution "
            f"t(a) = {implicit} is (checked by differentiation)"))
    return md


def _results(space: SampleSpace, modules: list[ModuleDerivation],
             strengths: dict[str, sp.Symbol], coupled: bool, steps: list[str]
             ) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """Step 5: the observables (derived when read) and the converged map."""
    if coupled:
        return {}, {"coupled": True, "closed_form": False,
                    "note": "modules share an output block: the dynamics couple and no closed "
                            "form is claimed; W* comes from the exact coupled matrix flow"}
    spectra = [md.spectrum for md in modules]
    symbols = [{m.label: strengths[md.keys[m.label]] for m in md.spectrum.modes}
               for md in modules]
    observables = DerivedOnUse(partial(_observables, space, spectra, symbols))
    steps.append("observables: ||W[i->o]||^2 = sum_modes m a^2 (cy_o/cy)(cx_i/cx); "
                 f"losses {LOSS_NORMALISATION}")
    conv = converged_map_of(space, spectra)
    steps.append("converged: every mode at its stable fixed point a* = s/lambda, i.e. "
                 "each module's minimum-norm map Sigma_yx Sigma_x^+")
    return observables, conv


def _observables(space: SampleSpace, spectra: list[Any], symbols: list[Any]) -> dict[str, Any]:
    """The observables of a decoupled derivation, within their budget
    (:func:`~modspec.theory.work_budget.check_observables`)."""
    check_observables(spectra[0].dataset if spectra else None, space)
    return observables_of(space, spectra, symbols)
