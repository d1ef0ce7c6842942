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

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any

import numpy as np
import sympy as sp

from . import dynamics
from . import symbols as sy
from .architectures import Module, Network
from .dataset import MAX_LOG2, CompositionalDataset, Dataset, block_index
from .declaration import DeclaredDataset
from .errors import ModspecError, bad
from .observables import (
    block_pairs,
    converged_strengths,
    loss_expressions,
    map_summary,
    network_quadrant_norms,
    quadrant_name,
    rule_error_sq,
    where_exists,
)
from .projectors import SampleSpace, sample_space
from .spectra import Mode, Spectrum, _differ_somewhere, module_spectra
from .work_budget import check_work

__all__ = ["DOMAIN", "Derivation", "DerivedOnUse", "LOSS_NORMALISATION", "ModuleDerivation",
           "coupled_map", "derive", "map_blocks", "mode_key", "network_map", "strength_symbol",
           "validity"]

LOSS_NORMALISATION = ("per sample: mean over samples of the summed squared error over the "
                      "block's output units")


@dataclass(frozen=True, eq=False)
class ModuleDerivation:
    """The derivation for one module.

    ``spectrum`` holds the module's modes (from its own covariances); ``mode_ode`` is
    ``τ da/dt = f(a)`` for its depth; ``solution`` the closed form ``a(t)`` in the symbols
    ``t, tau, a0, s, lambda`` (``None`` for depth > 2, or when the module is coupled to
    another); ``implicit`` the elementary implicit solution ``t(a)`` in ``a, a0, tau, s,
    lambda`` for depth > 2 (``None`` otherwise); ``fixed_points`` the roots of ``f`` with their
    stability; ``keys`` maps each mode label to its result key (``"pi1"`` or ``"A:pi1"``).
    """

    module: Module
    spectrum: Spectrum
    mode_ode: sp.Eq
    solution: sp.Expr | None
    fixed_points: tuple[dynamics.FixedPoint, ...]
    keys: dict[str, str]
    implicit: sp.Expr | None = None

    @property
    def name(self) -> str:
        return self.module.name


class DerivedOnUse(Mapping[str, Any]):
    """A read-only mapping computed by ``compute()`` the first time it is read, then kept."""

    def __init__(self, compute: Callable[[], Mapping[str, Any]]) -> None:
        self._compute: Callable[[], Mapping[str, Any]] | None = compute
        self._value: Mapping[str, Any] = {}

    def _get(self) -> Mapping[str, Any]:
        if self._compute is not None:
            self._value, self._compute = self._compute(), None
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __repr__(self) -> str:
        return repr(self._get())


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

    @property
    def half_rise_times(self) -> dict[str, sp.Expr]:
        """Result key → time (epochs) at which the mode reaches half its fixed point from
        ``a0`` (symbols ``tau``, ``a0`` and the dataset's), for every depth
        (:func:`dynamics.half_rise_time`); empty for coupled networks."""
        if self.coupled:
            return {}
        return {md.keys[m.label]: dynamics.half_rise_time(md.module.depth).subs(
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

    def to_latex(self) -> str:
        """A complete LaTeX fragment (``align*`` blocks, amsmath) of every step."""
        from .latex import derivation_latex

        return derivation_latex(self)

    def _repr_latex_(self) -> str:
        from .latex import derivation_latex

        return derivation_latex(self, notebook=True)


# --------------------------------------------------------------------- validity
#: Where the symbolic results hold: the family's parameter domain, as relations that plain
#: ``sympy.sympify`` reads.
DOMAIN = ("nx >= 1", f"nx <= {MAX_LOG2}", "ny >= 0", "ny <= nx", "kx >= 0",
          f"kx <= 2**{MAX_LOG2}", "ky >= 0", f"ky <= 2**{MAX_LOG2}", "rx >= 0", "ry >= 0")


def validity(th: Derivation) -> dict[str, Any]:
    """The range of validity of a symbolic derivation, as text :func:`sympy.sympify` reads.

    ``domain``: the parameter values the expressions hold for (sizes are integers, and non-zero
    ``kx·rx²``, ``ky·ry²`` lie within ``2**±255``, :data:`modspec.theory.dataset.MAX_LOG2`; for
    the hierarchical and parity families their own, :func:`modspec.theory.families.domain`);
    ``modes``: for each mode key, where the mode exists. The observables hold on the whole
    domain: a term that would be ``0/0`` where its mode vanishes carries that mode's condition
    (``Piecewise``), so substituting a point gives the value of the numeric data there.
    """
    family = getattr(th.dataset, "family", "compositional")
    if family in ("hierarchical", "parity", "contexts"):
        from .families import domain

        where = list(domain(th.dataset))
    else:
        where = list(DOMAIN)
    return {"domain": where,
            "modes": {key: sy.to_text(m.condition) for key, m in th.modes.items()}}


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
    :class:`~modspec.numerics.rules.LearningRule` or a SymPy
    :class:`~modspec.theory.rules.Rule`) adds that rule's derivation as :attr:`Derivation.rule`
    (:func:`modspec.theory.rule_derivation.derive_rule`, docs/theory/learning-rules.md).
    """
    if rule is not None:
        from dataclasses import replace

        from .rule_derivation import as_rule, derive_rule

        th = derive(dataset, network, cache)
        return replace(th, rule=derive_rule(th, as_rule(rule)))
    if not isinstance(network, Network):
        raise bad("network", type(network).__name__, "must be a modspec Network")
    steps: list[str] = []
    check_work(dataset)
    space = sample_space(dataset)
    check_work(dataset, space)
    coupled = network.coupled
    steps.append("loss: L = 1/2 sum over samples of ||y - y_hat||^2, y_hat = sum of the "
                 f"modules' outputs ({len(network.modules)} module(s))")
    steps.append("matrix flow: tau dW_i/dt = -(1/P) dL/dW_i by SymPy matrix calculus, "
                 "rewritten in Sigma_x = X X^T/P, Sigma_yx = Y X^T/P")
    if coupled:
        shared = [b for b in space.output_blocks if len(network.writers(b)) > 1]
        steps.append(f"coupled: output block(s) {shared} are written by several modules; "
                     "their errors mix, so the modules do not decouple and no closed form is "
                     "claimed: integrate the coupled matrix flow numerically")
    else:
        steps.append("decoupled: modules write disjoint output blocks, the loss is a sum of "
                     "module losses and each module learns independently")

    modules: list[ModuleDerivation] = []
    strengths: dict[str, sp.Symbol] = {}
    trajectories: dict[str, sp.Expr | None] = {}
    for module, spec in zip(network.modules, module_spectra(dataset, network, space),
                            strict=True):
        keys = {m.label: mode_key(network, module, m.label) for m in spec.modes}
        sol = None if coupled else dynamics.mode_solution(module.depth, cache=cache)
        implicit = (dynamics.mode_time(module.depth) if sol is None and not coupled
                    else None)
        md = ModuleDerivation(module, spec, dynamics.mode_ode(module.depth), sol,
                              dynamics.fixed_points(module.depth), keys, implicit)
        modules.append(md)
        steps.append(f"module {module.name} ({module.label}, depth {module.depth}): "
                     f"{len(spec.modes)} mode(s) {[m.label for m in spec.modes]}"
                     + ("" if coupled else f"; each obeys {md.mode_ode}"))
        for m in spec.modes:
            key = keys[m.label]
            strengths[key] = strength_symbol(key)
            trajectories[key] = (None if sol is None
                                 else sol.subs({sy.s: m.s, sy.lam: m.lam}, simultaneous=True))
        if not coupled:
            steps.append(f"module {module.name}: " + (
                f"closed form a(t) = {sol} (checked by substitution)" if sol is not None else
                f"depth {module.depth}: a(t) is not elementary; the implicit solution "
                f"t(a) = {implicit} is (checked by differentiation)"))

    observables: Mapping[str, Any] = {}
    conv: dict[str, Any]
    if coupled:
        conv = {"coupled": True, "closed_form": False,
                "note": "modules share an output block: the dynamics couple and no closed "
                        "form is claimed; W* comes from the exact coupled matrix flow"}
    else:
        spectra = [md.spectrum for md in modules]
        symbols = [{m.label: strengths[md.keys[m.label]] for m in md.spectrum.modes}
                   for md in modules]
        observables = DerivedOnUse(partial(_observables, space, spectra, symbols))
        steps.append("observables: ||W[i->o]||^2 = sum_modes m a^2 (cy_o/cy)(cx_i/cx); "
                     f"losses {LOSS_NORMALISATION}")
        conv = _converged(space, spectra)
        steps.append("converged: every mode at its stable fixed point a* = s/lambda, i.e. "
                     "each module's minimum-norm map Sigma_yx Sigma_x^+")
    return Derivation(dataset, network, space, coupled, tuple(modules), strengths,
                      trajectories, observables, conv, steps)


# ------------------------------------------------------------------ observables
def _has_family_blocks(space: SampleSpace) -> bool:
    return {"Ox", "Gx"} <= set(space.input_blocks) and {"Oy", "Gy"} <= set(space.output_blocks)


def _rule_atoms(space: SampleSpace) -> dict[str, tuple[sp.Expr, sp.Expr, sp.Expr]]:
    return {a.label: (a.rank, a.gram["Oy"], a.gram["Ox"]) for a in space.atoms}


def _observables(space: SampleSpace, spectra: list[Spectrum],
                 symbols: list[Mapping[str, sp.Expr]]) -> dict[str, Any]:
    pairs = block_pairs(space.input_blocks, space.output_blocks)
    out: dict[str, Any] = {"quadrant_norms": network_quadrant_norms(spectra, symbols, pairs),
                           "loss": loss_expressions(space, spectra, symbols)}
    if _has_family_blocks(space):
        out["systematicity"] = {
            "Gx->Oy": out["quadrant_norms"]["Gx->Oy"],
            "rule_error": sp.sqrt(rule_error_sq(spectra, symbols, _rule_atoms(space))),
            "Ox->Gy": out["quadrant_norms"]["Ox->Gy"],
        }
    return out


def _converged(space: SampleSpace, spectra: list[Spectrum]) -> dict[str, Any]:
    fixed = [converged_strengths(spec) for spec in spectra]
    conv: dict[str, Any] = {"coupled": False, "closed_form": True,
                            "method": "closed form: every mode at its fixed point s/lambda"}
    norms = network_quadrant_norms(spectra, fixed,
                                   block_pairs(space.input_blocks, space.output_blocks))
    conv["quadrant_norms"] = norms
    conv["report"], conv["systematic"] = {}, None
    if _has_family_blocks(space):
        rule = sp.simplify(sp.sqrt(rule_error_sq(spectra, fixed, _rule_atoms(space))))
        conv["report"] = {"Gx->Oy": norms["Gx->Oy"], "rule_error": rule,
                          "Ox->Gy": norms["Ox->Gy"]}
        conv["systematic"] = bool(sp.simplify(norms["Gx->Oy"]) == 0
                                  and sp.simplify(rule) == 0)
    conv["blocks"] = map_blocks(space, spectra, fixed)
    return conv


def map_blocks(space: SampleSpace, spectra: list[Spectrum],
               strengths: list[Mapping[str, sp.Expr]]) -> dict[str, dict[str, sp.Expr]]:
    """Blocks of ``W = Σ_modes a U Vᵀ`` as atom coefficients.

    On atom g a module contributes ``a · u vᵀ`` with ``v = X g/√cx``, ``u = Y g/√cy``, so
    ``W[i→o] = Σ_g c_g · Y_o Π_g X_iᵀ`` with ``c_g = a / sqrt(cx cy)``. At the fixed point
    ``a* = sqrt(cy/cx)`` this is ``1/cx``: e.g. for the family ``W*[Ox→Oy] = P/(P + kx rx²) S``.
    Only atoms on which both blocks are non-zero are listed (the others add nothing).
    """
    blocks: dict[str, dict[str, sp.Expr]] = {}
    per_mode: dict[tuple[int, str], sp.Expr] = {}     # c of a mode: the same in every block
    for inp, out in block_pairs(space.input_blocks, space.output_blocks):
        coeff: dict[str, sp.Expr] = {}
        for i, (spec, a) in enumerate(zip(spectra, strengths, strict=True)):
            for m in spec.modes:
                if inp not in m.cx or out not in m.cy:
                    continue
                if (i, m.label) not in per_mode:
                    per_mode[i, m.label] = where_exists(
                        m, sp.simplify(a[m.label] / sp.sqrt(m.cx_total * m.cy_total)))
                c = per_mode[i, m.label]
                for atom in m.atoms:
                    coeff[atom] = coeff.get(atom, sp.Integer(0)) + c
        touched = {g.label for g in space.atoms
                   if _nonzero(g.gram[inp] * g.gram[out])}
        coeff = {g: c for g, c in coeff.items() if g in touched}
        blocks[quadrant_name(inp, out)] = coeff
    return blocks


def _nonzero(expr: sp.Expr) -> bool:
    """``simplify(expr) != 0``, skipping ``simplify`` when ``expr`` is already seen to be
    non-zero at a point its symbols allow (:func:`modspec.theory.spectra._differ_somewhere`)."""
    return _differ_somewhere(expr, sp.Integer(0)) or sp.simplify(expr) != 0


def coupled_map(dataset: CompositionalDataset | Dataset, network: Network,
                train_objects: Any = None) -> tuple[np.ndarray, str]:
    """``W*`` of a coupled network (trained on ``train_objects``, default all) and how it was
    obtained: exact at depth 1 (minimum parameter norm), else the registered integrator of
    the exact matrix flow (:func:`~modspec.theory.endpoints.coupled_end_point`)."""
    from .endpoints import coupled_end_point
    from .matrix_flow import minimum_norm_map

    if isinstance(dataset, (CompositionalDataset, DeclaredDataset)):
        dataset.require_fits()   # both routes work on the arrays X and Y
    if all(m.depth == 1 for m in network.modules):
        return (minimum_norm_map(dataset, network, train_objects),
                "exact: minimum-parameter-norm map (depth-1 flow from zero)")
    return coupled_end_point(dataset, network, train_objects)


def network_map(th: Derivation, values: Mapping[str, float]) -> np.ndarray:
    """Total map ``W`` (rows as ``Y``, columns as ``X``) of a numeric decoupled network with
    mode strengths ``values[key]``, from the analytic singular vectors."""
    ds = th.dataset
    if th.symbolic:
        raise ModspecError("network_map needs a numeric dataset")
    n_out, n_in = np.asarray(ds.Y).shape[0], np.asarray(ds.X).shape[0]
    W = np.zeros((n_out, n_in))
    for md in th.modules:
        rows = block_index(ds.output_blocks, md.module.outputs)
        cols = block_index(ds.input_blocks, md.module.inputs)
        for m in md.spectrum.modes:
            W[np.ix_(rows, cols)] += values[md.keys[m.label]] * m.U @ m.V.T
    return W
