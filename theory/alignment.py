"""The aligned-ansatz reduction: from a rule's matrix dynamics to per-mode, per-layer dynamics.

docs/theory/learning-rules.md. For a dense network of depth L with layers ``W_1 … W_L``, the
aligned ansatz is

    W_l = R_l C_l R_{l−1}ᵀ,   R_0 = V, R_L = U,   Σx = V Λ Vᵀ,  Σyx = U S Vᵀ,  Σy = U Σ_y Uᵀ

with ``R_l`` matrices of orthonormal columns (``R_lᵀ R_l = I``) and ``C_l, Λ, S, Σ_y``
diagonal (one entry per mode). Substituting it into the derived right-hand side of every
layer (:func:`modspec.theory.rules.gradient_terms` plus the rule's terms) and rotating back,
``R_lᵀ · rhs_l · R_{l−1}``, SymPy expands every product and cancels each adjacent
``R_kᵀ R_k``. When every remaining factor is diagonal, the rotated right-hand side is diagonal
**for any number of modes and any bases** — a symbolic fact, not an assumption — and its
diagonal, read per mode, is the per-layer system in the strengths ``c_1 … c_L`` of one mode.
For gradient descent this gives, for every depth,

    τ dc_l/dt = (Π_{k≠l} c_k) (s − λ Π_k c_k).

When a factor stays that is not diagonal in the aligned basis (the anti-Hebbian row-norm
factor ``diag(1/(1 − ‖W1[i,:]‖²))`` is diagonal in the *standard* basis of the hidden layer,
not in ``R_1``'s), the reduction is checked on explicit matrices: two modes, rotations by
rational angles (``tan θ/2``), and rational values of every symbol; a non-zero off-diagonal
entry there proves the rule does not stay aligned, and the reason says so.

From the per-layer system: :func:`conserved` (the imbalances ``c_l² − c_m²``, whose time
derivative SymPy shows to vanish), :func:`balanced_rhs` (``c_l = a^{1/L}`` gives
``τ da/dt = L a^{2−2/L} (s − λ a)``, the mode ODE of :mod:`modspec.theory.dynamics`),
:func:`fixed_points` with the eigenvalues of their Jacobian, and :func:`at_optimum` (whether
the extra terms vanish at ``W* = Σyx Σx⁺``, i.e. on ``Π c_l = s/λ``).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp

from . import symbols as sy
from .architectures import check_depth
from .errors import bad
from .polyroots import solve_pair
from .rules import GRADIENT_DESCENT, P, Rule, Sigma_x, Sigma_y, Sigma_yx, gradient_terms

__all__ = ["FixedPoint", "LayerSystem", "at_optimum", "balanced_rhs", "conserved",
           "fixed_points", "layer_system", "sigma_y", "strength"]

#: Per-mode output variance ``uᵀ (Y Yᵀ/P) u`` (``s²/λ`` when the outputs are linear in X).
sigma_y = sp.Symbol("sigma_y", nonnegative=True)


def strength(layer: int) -> sp.Symbol:
    """``c_l``: the strength of one mode in layer ``l`` (``W_l = R_l diag(c_l) R_{l−1}ᵀ``)."""
    return sp.Symbol(f"c_{layer}", real=True)


@dataclass(frozen=True)
class LayerSystem:
    """The per-mode dynamics of every layer under a rule (see the module docstring).

    ``scaled[l]`` is the part of ``τ dc_l/dt`` (gradient descent and the rule's scaled
    terms), ``unscaled[l]`` the per-epoch part; so ``dc_l/dt = scaled/τ + unscaled`` in
    continuous time and ``c_l ← c_l + scaled/τ + unscaled`` is one epoch, exactly. Both are
    in the symbols ``c_1 … c_L`` (:func:`strength`), ``s``, ``lambda``, ``sigma_y``, ``P`` and
    the rule's coefficients. ``reducible`` is False (and the expressions empty) when the rule
    does not keep the aligned ansatz; ``reason`` says why.
    """

    depth: int
    rule: str
    strengths: tuple[sp.Symbol, ...]
    scaled: tuple[sp.Expr, ...] = ()
    unscaled: tuple[sp.Expr, ...] = ()
    reducible: bool = True
    reason: str = ""

    @property
    def rhs(self) -> tuple[sp.Expr, ...]:
        """``dc_l/dt`` in continuous time (``τ`` explicit)."""
        return tuple(a / sy.tau + b for a, b in zip(self.scaled, self.unscaled, strict=True))

    @property
    def step(self) -> tuple[sp.Expr, ...]:
        """The exact per-epoch map ``c_l ↦ c_l + scaled/τ + unscaled``."""
        return tuple(c + f for c, f in zip(self.strengths, self.rhs, strict=True))


# ------------------------------------------------------------------------ the reduction
class _Aligned:
    """The ansatz's matrix symbols for a dense network whose layers are ``weights``."""

    def __init__(self, weights: Sequence[sp.MatrixSymbol]) -> None:
        L = len(weights)
        n = sp.Symbol("r", positive=True, integer=True)     # the number of modes
        rows = [weights[0].shape[1]] + [W.shape[0] for W in weights]
        self.R = [sp.MatrixSymbol(f"R_{k}", rows[k], n) for k in range(L + 1)]
        self.C = [sp.MatrixSymbol(f"C_{k}", n, n) for k in range(1, L + 1)]
        self.Lam, self.S, self.Sy = (sp.MatrixSymbol(name, n, n)
                                     for name in ("Lambda", "S", "Sigma_y_modes"))
        self.sub = {W: self.R[k + 1] * self.C[k] * self.R[k].T for k, W in enumerate(weights)}
        self.sub.update({Sigma_x: self.R[0] * self.Lam * self.R[0].T,
                         Sigma_yx: self.R[L] * self.S * self.R[0].T,
                         Sigma_y: self.R[L] * self.Sy * self.R[L].T})
        self.scalar = {C: strength(k + 1) for k, C in enumerate(self.C)}
        self.scalar.update({self.Lam: sy.lam, self.S: sy.s, self.Sy: sigma_y})

    def rotated(self, layer: int, rhs: sp.MatrixExpr) -> sp.MatrixExpr:
        """``R_lᵀ · rhs(ansatz) · R_{l−1}``, expanded."""
        out = self.R[layer].T * _substitute(rhs, self.sub) * self.R[layer - 1]
        return sp.expand(out.doit())

    def diagonal(self, expr: sp.MatrixExpr) -> sp.Expr | None:
        """The per-mode scalar of a product of diagonal factors (after cancelling every
        ``R_kᵀ R_k``), or None when a factor that is not diagonal remains."""
        if expr == 0 or isinstance(expr, sp.ZeroMatrix):
            return sp.Integer(0)
        total = sp.Integer(0)
        for term in (expr.args if isinstance(expr, sp.MatAdd) else (expr,)):
            coeff, mats = term.as_coeff_mmul()
            args = list(mats.args) if isinstance(mats, sp.MatMul) else [mats]
            scal = [a for a in args if not getattr(a, "is_Matrix", False)]
            factors = [a.arg if isinstance(a, sp.Transpose) and a.arg in self.scalar else a
                       for a in args if getattr(a, "is_Matrix", False)]
            factors = _cancel_orthogonal(factors)
            if not all(f in self.scalar for f in factors):
                return None
            total += sp.Mul(coeff, *scal, *[self.scalar[f] for f in factors])
        return sp.expand(total)


def _substitute(expr: sp.MatrixExpr, sub: dict) -> sp.MatrixExpr:
    return expr.xreplace(sub)


def _cancel_orthogonal(factors: list[Any]) -> list[Any]:
    """Remove adjacent ``R_kᵀ R_k`` pairs (orthonormal columns) until none is left."""
    out: list[Any] = []
    for f in factors:
        if out and isinstance(out[-1], sp.Transpose) and out[-1].arg == f \
                and f.name.startswith("R_"):
            out.pop()
        else:
            out.append(f)
    return out


def _counterexample(layer: int, rhs: sp.MatrixExpr, weights: Sequence[sp.MatrixSymbol],
                    values: dict) -> str | None:
    """Evaluate the rotated right-hand side exactly on two modes, rational rotations and
    rational values; return a description of a non-zero off-diagonal entry, or None."""
    rng = random.Random(0)
    for _ in range(3):
        al = _Aligned(weights)
        dims = {d: 2 for M in (*al.R, *weights, Sigma_x, Sigma_yx, Sigma_y)
                for d in M.shape if isinstance(d, sp.Symbol)}
        dims.update({d: 1 for M in weights for d in M.shape[0].free_symbols}
                    if weights[-1].shape[0].is_Add else {})
        for M in weights:
            for d in M.shape:
                if d.is_Add:
                    dims.update({s: 1 for s in d.free_symbols})
        dims[sp.Symbol("r", positive=True, integer=True)] = 2

        def rot() -> sp.ImmutableMatrix:
            t = sp.Rational(rng.randint(1, 9), rng.randint(10, 19))
            return sp.ImmutableMatrix([[1 - t**2, -2 * t], [2 * t, 1 - t**2]]) / (1 + t**2)

        def diag() -> sp.ImmutableMatrix:
            return sp.ImmutableMatrix(sp.diag(*[sp.Rational(rng.randint(1, 9), 10)
                                                for _ in range(2)]))

        explicit = {**{M: rot() for M in al.R}, **{M: diag() for M in
                                                    (*al.C, al.Lam, al.S, al.Sy)}}
        rotated = (al.R[layer].T * _substitute(rhs, al.sub) * al.R[layer - 1]).xreplace(dims)
        explicit = {M.xreplace(dims): v for M, v in explicit.items()}
        scalars = {sym: sp.Rational(rng.randint(1, 9), 7)
                   for sym in sorted(rhs.free_symbols, key=str)
                   if isinstance(sym, sp.Symbol) and sym not in dims}
        scalars[P] = 3
        M = sp.ImmutableMatrix(rotated.xreplace(explicit).xreplace(scalars).doit())
        off = sp.nsimplify(M[0, 1])
        if off != 0:
            return (f"the rotated right-hand side of W{layer} has off-diagonal entry {off} "
                    f"for two modes at rational angles (not diagonal in the aligned basis)")
    return None


@functools.cache
def _gd_layer_system(depth: int) -> tuple[sp.Expr, ...]:
    weights, rhs = gradient_terms(depth)
    al = _Aligned(weights)
    out = []
    for layer, W in enumerate(weights, start=1):
        value = al.diagonal(al.rotated(layer, rhs[W.name]))
        if value is None:
            raise RuntimeError(f"gradient descent did not stay aligned in layer {layer}")
        out.append(value)
    return tuple(out)


@functools.lru_cache(maxsize=64)
def layer_system(depth: int, rule: Rule = GRADIENT_DESCENT) -> LayerSystem:
    """The per-mode, per-layer system of a dense network of ``depth`` under ``rule`` (module
    docstring). Gradient descent reduces at every depth; a rule's extra terms are defined on
    the dense two-layer network, so a rule with terms needs ``depth = 2``."""
    L = check_depth(depth)
    strengths = tuple(strength(k) for k in range(1, L + 1))
    gd = _gd_layer_system(L)
    if not rule.terms:
        return LayerSystem(L, rule.name, strengths, gd, tuple(sp.Integer(0) for _ in gd))
    if L != 2:
        raise bad("depth", depth, f"must be 2 for rule {rule.name!r} (its terms are "
                  "defined on the dense two-layer network)")
    return _rule_system(rule)


def _rule_system(rule: Rule) -> LayerSystem:
    weights, _ = gradient_terms(2)
    al = _Aligned(weights)
    gd = _gd_layer_system(2)
    scaled, unscaled = [], []
    for layer in (1, 2):
        parts = []
        for flag in (True, False):
            expr = rule.terms_of(layer, flag)
            value = al.diagonal(al.rotated(layer, expr))
            if value is None:
                why = _counterexample(layer, expr, weights, {}) or (
                    f"the term of W{layer} could not be shown to stay diagonal in the "
                    "aligned basis")
                return LayerSystem(2, rule.name, (strength(1), strength(2)), reducible=False,
                                   reason=why)
            parts.append(value)
        scaled.append(sp.expand(gd[layer - 1] + parts[0]))
        unscaled.append(parts[1])
    return LayerSystem(2, rule.name, (strength(1), strength(2)), tuple(scaled),
                       tuple(unscaled))


# ------------------------------------------------------------------------ consequences
def conserved(system: LayerSystem) -> dict[tuple[int, int], sp.Expr]:
    """``{(l, m): d(c_l² − c_m²)/dt}`` simplified: zero for every pair under gradient
    descent (the layer imbalances are conserved)."""
    c, f = system.strengths, system.rhs
    return {(i + 1, j + 1): sp.simplify(2 * c[i] * f[i] - 2 * c[j] * f[j])
            for i in range(len(c)) for j in range(i + 1, len(c))}


@functools.cache
def balanced_rhs(depth: int) -> sp.Expr:
    """``f(a)`` in ``τ da/dt = f(a)`` for balanced layers, derived from the per-layer system:
    with ``a = Π c_l``, ``τ da/dt = Σ_l (Π_{k≠l} c_k) τ dc_l/dt``, and ``c_l = a^{1/L}``
    (balanced; kept so by the conserved imbalances). In the positive symbol ``a``."""
    L = check_depth(depth)
    a = sp.Symbol("a", positive=True)
    system = layer_system(L)
    c = system.strengths
    da = sp.Add(*[sp.Mul(*[c[k] for k in range(L) if k != j]) * system.scaled[j]
                  for j in range(L)])
    root = a ** sp.Rational(1, L)
    f = sp.factor(sp.powsimp(sp.expand(da.xreplace({ck: root for ck in c})), force=True))
    return sp.powsimp(f)


@dataclass(frozen=True)
class FixedPoint:
    """A fixed point of a per-mode system: the strengths, the map ``a = Π c_l`` there, the
    eigenvalues of the Jacobian of ``dc/dt`` and whether it is stable (all real parts < 0,
    decided from the eigenvalues or, for two strengths, from the Jacobian's trace and
    determinant; None when SymPy cannot decide the signs, or on a curve of fixed points)."""

    strengths: tuple[sp.Expr, ...]
    map: sp.Expr
    eigenvalues: tuple[sp.Expr, ...]
    stable: bool | None
    #: a curve of fixed points (free strengths) whose other eigenvalues all have negative
    #: real part: neutral along the curve, attracting across it
    attracting_curve: bool = False
    #: fixed points without a closed form (:class:`~modspec.theory.polyroots.Implicit`):
    #: the real roots of these equations; ``strengths`` are then the bare symbols
    solving: tuple[sp.Expr, ...] = ()


def fixed_points(system: LayerSystem, given: dict | None = None) -> tuple[FixedPoint, ...]:
    """Roots of the per-mode system with their stability (Jacobian eigenvalues), from SymPy.
    A curve of fixed points (gradient descent: ``Π c_l = s/λ``) is returned parametrised by
    the strengths SymPy leaves free; roots without a closed form
    (:func:`~modspec.theory.polyroots.solve_pair`) as the equations they solve. ``given``
    substitutes symbols first (e.g. ``{sigma_y: s**2/lambda}`` for outputs linear in the
    inputs: the output term's fixed points depend on it)."""
    if not system.reducible:
        return ()
    c = system.strengths
    f = [sp.together(e.xreplace(given or {})) for e in system.rhs]
    J = sp.Matrix(f).jacobian(c)
    found, implicit = solve_pair(f, c)
    out = []
    for sol in found:
        point = tuple(sp.simplify(sol.get(ci, ci)) for ci in c)
        sub = dict(zip(c, point, strict=True))
        eig = tuple(sp.simplify(e) for e in J.xreplace(sub).applyfunc(sp.simplify)
                    .eigenvals(multiple=True))
        signs = [sp.re(e).is_negative for e in eig]
        stable = True if all(signs) else (False if any(sp.re(e).is_positive for e in eig)
                                          else None)
        if stable is None and len(c) == 2:
            # Routh–Hurwitz: both real parts negative iff trace < 0 and determinant > 0
            Jp = J.xreplace(sub)
            tr, det = sp.simplify(Jp.trace()), sp.factor(sp.simplify(Jp.det()))
            if tr.is_negative and det.is_positive:
                stable = True
            elif tr.is_positive or det.is_negative:
                stable = False
        free = set().union(*[sp.sympify(x).free_symbols for x in point]) & set(c)
        # on a curve the free strengths are non-zero (the others are finite there)
        nonzero = {ci: sp.Symbol(ci.name, real=True, nonzero=True) for ci in free}
        across = [e.xreplace(nonzero) for e in eig if not (e == 0)]
        attracting = (bool(free) and stable is None and len(across) < len(eig)
                      and all(sp.re(e).is_negative for e in across))
        out.append(FixedPoint(point, sp.simplify(sp.Mul(*point)), eig, stable, attracting))
    return tuple(out) + tuple(FixedPoint(tuple(c), sp.Mul(*c), (), None, solving=s.equations)
                              for s in implicit)


def at_optimum(system: LayerSystem, rule: Rule) -> dict[int, sp.Expr]:
    """The rule's extra terms per layer (``τ``-units: ``scaled + τ·unscaled`` minus gradient
    descent) at the map ``W* = Σyx Σx⁺``, i.e. on ``c_1 c_2 = s/λ`` (``c_2 = s/(λ c_1)``):
    zero where they vanish there."""
    if not system.reducible:
        return {}
    gd = _gd_layer_system(system.depth)
    c = system.strengths
    on = {c[-1]: sy.s / (sy.lam * sp.Mul(*c[:-1]))}
    return {k + 1: sp.factor(sp.simplify((system.scaled[k] - gd[k]
                                          + sy.tau * system.unscaled[k]).xreplace(on)))
            for k in range(system.depth)}
