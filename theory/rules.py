"""Learning rules in SymPy: gradient descent plus extra matrix terms, per layer.

A rule is gradient descent on the squared loss (derived in :mod:`modspec.theory.matrix_flow`)
plus extra terms, each a SymPy matrix expression for one layer of a dense two-layer network
in the symbols of this module,

    W1, W2            the layers (hidden × inputs, outputs × hidden)
    X, Y              the training objects (inputs × P, outputs × P)
    Sigma_x, Sigma_yx, Sigma_y    X Xᵀ/P, Y Xᵀ/P, Y Yᵀ/P
    H = W1 X          the hidden activity,   Yhat = W2 W1 X   the output,   P the number of objects

with SymPy coefficient symbols (γ, ∇, κ, …) and a flag saying whether the term is scaled by
``1/τ`` (``τ = 1/(P·lr)``). Per epoch (full batch), with ``G_l`` the gradient-descent term of
layer l (``τ dW_l/dt = G_l`` is gradient flow)::

    W_l ← W_l + (1/τ) (G_l + Σ scaled terms of l) + Σ unscaled terms of l

and in continuous time ``dW_l/dt = (G_l + scaled)/τ + unscaled`` (one epoch is one unit of
time). The study's rules (:data:`PRESETS`, docs/theory/learning-rules.md) are such
definitions, with ``E = Σyx − W2 W1 Σx``:

* contrastive-Hebbian-like / predictive-coding-like (γ = ±1): ``γ (Y Yᵀ − Ŷ Ŷᵀ) W2`` on W2,
  scaled by 1/τ;
* Hebbian, Oja's subspace rule (∇ > 0): ``∇ H (Xᵀ − Hᵀ W1)`` on W1, unscaled;
* anti-Hebbian (∇ < 0): ``∇ diag(1/(1 − ‖W1[i,:]‖²)) H Xᵀ`` on W1, unscaled — the row-norm
  factor is :class:`InverseRowNorms`, a SymPy matrix function with its own array printing
  (never an opaque callable).

A user's rule is a few lines::

    from modspec.theory import rules as r
    kappa = sp.Symbol("kappa")
    decay = r.Rule("weight-decay", (r.Term(1, -kappa * r.W1), r.Term(2, -kappa * r.W2)),
                   {kappa: 1e-3})

Sums over objects are written with X and Y (``H Xᵀ``, ``Y Yᵀ``) or with the covariances;
:func:`covariance_form` rewrites the former as ``P Σ`` so that a term depends on the data only
through ``Σx``, ``Σyx``, ``Σy`` (what the aligned-ansatz reduction of
:mod:`modspec.theory.alignment` and the generated array code need).
"""

from __future__ import annotations

import functools
import math
import numbers
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from .architectures import dense
from .errors import bad
from .matrix_flow import data_pairs, matrix_flow
from .names import check_name, check_rule_name
from .rule_networks import check_network, dense_two_layer
from .rule_presets import COEFFICIENTS

__all__ = ["GRADIENT_DESCENT", "H", "InverseRowNorms", "MAX_COEFFICIENT", "P", "PRESETS", "Rule",
           "Sigma_x", "Sigma_y", "Sigma_yx", "Term", "W1", "W2", "X", "Y", "Yhat", "as_rule",
           "check_network", "covariance_form", "dense_two_layer", "gamma", "gradient_terms",
           "nabla", "preset", "study_rule"]

_FLOW = matrix_flow(dense(2))
#: The layers of the dense two-layer network, as :func:`~modspec.theory.matrix_flow.matrix_flow`
#: names them (``W_1``: hidden × inputs, ``W_2``: outputs × hidden).
W1, W2 = _FLOW.weights["dense"]
X = next(m for m in _FLOW.loss.atoms(sp.MatrixSymbol) if m.name == "X")
Y = next(m for m in _FLOW.loss.atoms(sp.MatrixSymbol) if m.name == "Y")
#: The number of training objects (the symbol of the matrix flow: ``X`` is inputs × P).
P = X.shape[1]
Sigma_x = sp.MatrixSymbol("Sigma_x", X.shape[0], X.shape[0])
Sigma_yx = sp.MatrixSymbol("Sigma_yx", Y.shape[0], X.shape[0])
Sigma_y = sp.MatrixSymbol("Sigma_y", Y.shape[0], Y.shape[0])
H = W1 * X
Yhat = W2 * W1 * X
gamma = sp.Symbol("gamma", real=True)
nabla = sp.Symbol("nabla", real=True)

_LAYERS = {1: W1, 2: W2}
_MATRICES = {W1, W2, X, Y, Sigma_x, Sigma_yx, Sigma_y}


class InverseRowNorms(sp.MatrixExpr):
    """``diag(1 / (1 − ‖W[i,:]‖²))``: the anti-Hebbian row-norm factor of a matrix ``W``.

    A square diagonal matrix with one entry per row of ``W``. It has explicit entries (so the
    aligned-ansatz check can evaluate it on explicit matrices) and prints as array code
    ``(1/(1 - (W*W).sum(-1)))[..., None] * M`` when it multiplies ``M`` from the left
    (:mod:`modspec.numerics.codegen`).
    """

    def __new__(cls, W: sp.MatrixExpr) -> InverseRowNorms:
        return super().__new__(cls, sp.sympify(W))

    @property
    def arg(self) -> sp.MatrixExpr:
        return self.args[0]

    @property
    def shape(self) -> tuple[Any, Any]:
        return (self.arg.shape[0], self.arg.shape[0])

    def _entry(self, i: Any, j: Any, **kwargs: Any) -> sp.Expr:
        W = self.arg
        norm = sp.Add(*[W[i, k] ** 2 for k in range(W.shape[1])])
        return sp.KroneckerDelta(i, j) / (1 - norm)

    def _eval_transpose(self) -> InverseRowNorms:
        return self

    def doit(self, **hints: Any) -> Any:
        W = self.arg.doit(**hints)
        if isinstance(W, sp.MatrixBase):   # explicit entries: the diagonal matrix itself
            return sp.ImmutableMatrix(sp.diag(*[1 / (1 - sum(W[i, k] ** 2 for k in
                                                             range(W.shape[1])))
                                                for i in range(W.shape[0])]))
        return InverseRowNorms(W)

    def _latex(self, printer: Any) -> str:
        return (r"\operatorname{diag}\left(\frac{1}{1 - \lVert " + printer._print(self.arg)
                + r"_{i,:}\rVert^{2}}\right)")

    def _sympystr(self, printer: Any) -> str:
        return f"InverseRowNorms({printer._print(self.arg)})"


@dataclass(frozen=True)
class Term:
    """One extra term of a rule: ``expr`` added to layer ``layer`` (1 or 2), scaled by
    ``1/τ`` when ``scaled`` (as gradient descent is) or added per epoch as it is."""

    layer: int
    expr: Any
    scaled: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.layer, bool) or self.layer not in _LAYERS:
            raise bad("layer", self.layer, "must be 1 or 2 (the dense two-layer network)")
        if not isinstance(self.expr, sp.MatrixExpr):
            raise bad("term", self.expr, "must be a SymPy matrix expression in W1, W2, X, Y, "
                      "Sigma_x, Sigma_yx, Sigma_y (modspec.theory.rules)")
        target = _LAYERS[self.layer]
        if tuple(self.expr.shape) != tuple(target.shape):
            raise bad("term", str(self.expr), f"has shape {tuple(self.expr.shape)}; layer "
                      f"{self.layer} needs {tuple(target.shape)} (the shape of {target.name})")
        unknown = {m.name for m in self.expr.atoms(sp.MatrixSymbol)} - {m.name for m in
                                                                       _MATRICES}
        if unknown:
            raise bad("term", str(self.expr), f"uses unknown matrices {sorted(unknown)}; "
                      "allowed: W1, W2, X, Y, Sigma_x, Sigma_yx, Sigma_y")
        object.__setattr__(self, "expr", covariance_form(self.expr))


@dataclass(frozen=True)
class Rule:
    """A learning rule: gradient descent plus ``terms``, with coefficient ``values``.

    ``values`` maps each coefficient symbol of the terms to a finite number (its value when
    simulated; the derivation keeps the symbol). A rule without terms is gradient descent.
    ``name`` is how it is reported. The one rule object of the library: the theory derives
    its per-mode system (:func:`modspec.theory.alignment.layer_system`), the simulator and
    the trainer run the array code generated from its terms (:mod:`modspec.numerics.rules`).
    The study's rules are :data:`PRESETS`; ``gamma``/``nabla`` read their coefficients.
    """

    name: str
    terms: tuple[Term, ...] = ()
    values: Mapping[sp.Symbol, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_rule_name(self.name)
        terms = tuple(self.terms)
        if not all(isinstance(t, Term) for t in terms):
            raise bad("terms", terms, "must be Term objects")
        values: dict[sp.Symbol, float] = {}
        for sym, value in dict(self.values).items():
            if not isinstance(sym, sp.Symbol):
                raise bad("values", sym, "keys must be SymPy symbols")
            check_name("rule coefficient", sym.name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not math.isfinite(value):
                raise bad(str(sym), value, f"must be a finite number (rule {self.name!r})")
            values[sym] = float(value)
        coefficients = {s for t in terms for s in t.expr.free_symbols
                        if isinstance(s, sp.Symbol)} - {P}
        for sym in coefficients:
            check_name("rule coefficient", sym.name)
        missing = coefficients - set(values)
        if missing:
            raise bad("values", {str(k): v for k, v in values.items()},
                      f"must give every coefficient of rule {self.name!r}; missing "
                      f"{sorted(map(str, missing))}")
        object.__setattr__(self, "terms", terms)
        object.__setattr__(self, "values", values)

    def __hash__(self) -> int:
        return hash((self.name, self.terms,
                     tuple(sorted((k.name, v) for k, v in self.values.items()))))

    @functools.cached_property
    def is_gradient_descent(self) -> bool:
        """True when every extra term is zero at the rule's coefficients."""
        return all(t.expr.xreplace(self.values).doit() == sp.ZeroMatrix(*t.expr.shape)
                   or t.expr.xreplace(self.values) == 0 for t in self.terms)

    @property
    def coefficients(self) -> dict[str, float]:
        """``{name: value}`` of the coefficients (how a run records its rule)."""
        return {str(k): v for k, v in self.values.items()}

    @property
    def gamma(self) -> float:
        """The output term's coefficient γ (0 when the rule has none)."""
        return self.values.get(gamma, 0.0)

    @property
    def nabla(self) -> float:
        """The Hebbian coefficient ∇ (0 when the rule has none)."""
        return self.values.get(nabla, 0.0)

    @property
    def label(self) -> str:
        """``name (coefficient=value, …)``, how messages name the rule."""
        values = ", ".join(f"{k}={v:g}" for k, v in self.coefficients.items())
        return f"{self.name} ({values})" if values else self.name

    @property
    def symbol_latex(self) -> dict[sp.Symbol, str]:
        """How LaTeX names the study's coefficients: ``γ`` and ``∇``."""
        return {nabla: r"\nabla", gamma: r"\gamma"}

    @property
    def definition(self) -> Rule:
        """The rule itself (the SymPy definition the simulator and the trainer run)."""
        return self

    def to_latex(self) -> str:
        """The rule's continuous-time dynamics, one ``align*`` row per layer:
        ``Ẇ_l = (G_l + scaled terms)/τ + unscaled terms`` with ``G_l`` gradient descent's term
        and the coefficients' values listed
        (:class:`~modspec.theory.latex_base.LatexBasePrinter`)."""
        from .latex_base import LatexBasePrinter

        return LatexBasePrinter().doprint(self)

    def _repr_latex_(self) -> str:
        from .latex_base import LatexBasePrinter

        return LatexBasePrinter(notebook=True).doprint(self)

    def terms_of(self, layer: int, scaled: bool) -> sp.MatrixExpr:
        """The sum of the terms of ``layer`` with the given scaling (a zero matrix if none)."""
        parts = [t.expr for t in self.terms if t.layer == layer and t.scaled == scaled]
        shape = _LAYERS[layer].shape
        return sp.MatAdd(*parts).doit() if parts else sp.ZeroMatrix(*shape)


def covariance_form(expr: sp.MatrixExpr) -> sp.MatrixExpr:
    """``expr`` with every sum over objects written with the covariances:
    ``X Xᵀ → P Σx``, ``Y Xᵀ → P Σyx``, ``X Yᵀ → P Σyxᵀ``, ``Y Yᵀ → P Σy``.

    Refuses (one line) a term in which ``X`` or ``Y`` appears outside such a pair: a layer's
    update depends on the objects only through sums over them.
    """
    expanded = sp.expand(expr.doit())
    if not expanded.has(X, Y):
        return expanded
    pairs = {(X.name, X.name): Sigma_x, (Y.name, X.name): Sigma_yx,
             (Y.name, Y.name): Sigma_y, (X.name, Y.name): Sigma_yx.T}
    out = []
    for scalar, factors, _ in data_pairs(
            expanded, lambda a, b: P * pairs[(a, b)] if (a, b) in pairs else None):
        product = sp.MatMul(*factors).doit() if len(factors) > 1 else factors[0]
        if product.has(X, Y):
            raise bad("term", str(expr), "may use X and Y only in sums over objects "
                      "(X Xᵀ, Y Xᵀ, X Yᵀ, Y Yᵀ, e.g. H Xᵀ or Ŷ Ŷᵀ)")
        out.append(scalar * product)
    return sp.MatAdd(*out).doit() if len(out) > 1 else out[0]


def gradient_terms(depth: int = 2) -> tuple[list[sp.MatrixSymbol], dict[str, sp.MatrixExpr]]:
    """The layers of a dense network of ``depth`` and their gradient-descent right-hand sides
    ``τ dW_l/dt`` (derived from the loss, :func:`~modspec.theory.matrix_flow.matrix_flow`)."""
    flow = _FLOW if depth == 2 else matrix_flow(dense(depth))
    return flow.weights["dense"], flow.rhs


# ------------------------------------------------------------------------- the study's rules
def _oja() -> Term:
    return Term(1, nabla * H * (X.T - H.T * W1), scaled=False)


def _anti_hebbian() -> Term:
    return Term(1, nabla * InverseRowNorms(W1) * H * X.T, scaled=False)


def _output() -> Term:
    return Term(2, gamma * (Y * Y.T - Yhat * Yhat.T) * W2, scaled=True)


#: The largest size of a rule coefficient, 1/ε (4.5e15): beyond it the gradient's own term is
#: below the rounding error of the rule's.
MAX_COEFFICIENT = 1 / sys.float_info.epsilon


def study_rule(name: str, gamma_value: float = 0.0, nabla_value: float = 0.0) -> Rule:
    """The study's family with coefficients γ and ∇: gradient descent, plus the output term
    when γ ≠ 0, plus Oja's term when ∇ > 0 or the anti-Hebbian term when ∇ < 0."""
    for param, value in (("gamma", gamma_value), ("nabla", nabla_value)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not math.isfinite(value):
            raise bad(param, value, f"must be a finite number (rule {name!r})")
        if value != 0 and not sys.float_info.min <= abs(value) <= MAX_COEFFICIENT:
            raise bad(param, value, f"must be 0 or between {sys.float_info.min:.3g} and "
                      f"{MAX_COEFFICIENT:.3g} in size (rule {name!r}; a subnormal coefficient "
                      "is 0 in all but name, beyond 1/ε the gradient's own term is lost in "
                      "rounding)")
    terms = []
    if gamma_value != 0:
        terms.append(_output())
    if nabla_value > 0:
        terms.append(_oja())
    elif nabla_value < 0:
        terms.append(_anti_hebbian())
    return Rule(name, tuple(terms), {gamma: gamma_value, nabla: nabla_value})


class _Presets(Mapping[str, Rule]):
    """The study's rules by name (:data:`~modspec.theory.rule_presets.COEFFICIENTS`), each
    built when first read."""

    def __init__(self) -> None:
        self._built: dict[str, Rule] = {}

    def __getitem__(self, name: str) -> Rule:
        if name not in self._built:
            self._built[name] = study_rule(name, *COEFFICIENTS[name])
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(COEFFICIENTS)

    def __len__(self) -> int:
        return len(COEFFICIENTS)

    def __repr__(self) -> str:
        return f"PRESETS({', '.join(COEFFICIENTS)})"


#: The study's rules with their default coefficients (docs/theory/learning-rules.md): the one
#: preset table of the library, :data:`~modspec.theory.rule_presets.COEFFICIENTS`, as rules.
PRESETS: Mapping[str, Rule] = _Presets()

#: Gradient descent: no extra terms (γ = ∇ = 0).
GRADIENT_DESCENT = PRESETS["gradient-descent"]


def preset(name: str, gamma_value: float | None = None,
           nabla_value: float | None = None) -> Rule:
    """The study's rule ``name`` (:data:`PRESETS`), with γ/∇ replaced when given."""
    if not isinstance(name, str) or name not in PRESETS:
        raise bad("rule", name, f"must be one of {', '.join(PRESETS)}")
    return as_rule(name, gamma_value, nabla_value)


def _is_study(rule: Rule) -> bool:
    return rule.name in PRESETS and rule == study_rule(rule.name, rule.gamma, rule.nabla)


def as_rule(rule: Any = None, gamma: float | None = None,
            nabla: float | None = None) -> Rule:
    """The rule ``rule`` (a preset name, a :class:`Rule`, or None for gradient descent), with
    ``gamma``/``nabla`` replacing its coefficients γ/∇ when given (the study's rules only;
    gradient descent has no term for them to weigh)."""
    if rule is None:
        rule = GRADIENT_DESCENT
    elif isinstance(rule, str):
        if rule not in PRESETS:
            raise bad("rule", rule, f"must be one of {', '.join(PRESETS)}")
        rule = PRESETS[rule]
    elif not isinstance(rule, Rule):
        raise bad("rule", type(rule).__name__, "must be a rule name or a "
                  "modspec.theory.rules.Rule")
    if gamma is None and nabla is None:
        return rule
    if not _is_study(rule):
        raise bad("rule", rule.name, "takes its coefficients from its own definition; "
                  "--gamma/--nabla apply to the study's rules")
    if rule.name == GRADIENT_DESCENT.name:
        for param, value, rules in (("gamma", gamma, "contrastive-hebbian or predictive-coding"),
                                    ("nabla", nabla, "hebbian or anti-hebbian")):
            if value is not None and value != 0:
                raise bad(param, value, f"does not apply to gradient-descent, which has no "
                          f"extra terms: choose a rule that has one (--rule {rules})")
    return study_rule(rule.name, rule.gamma if gamma is None else gamma,
                      rule.nabla if nabla is None else nabla)
