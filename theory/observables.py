"""Block observables of a map given by its mode strengths (docs/theory/learning-dynamics.md §5–6).

Write ``W = Σ_modes a · U Vᵀ`` with ``V = X g / sqrt(cx)``, ``U = Y g / sqrt(cy)`` on each atom
g. Because every block Gram matrix is diagonal on the atoms, cross terms vanish and for any
input block ``i`` and output block ``o``

    ‖W[i→o]‖² = Σ_modes m · a² · (cy_o / cy) · (cx_i / cx)
    loss_o    = tr Σy_o − Σ_modes m · (cy_o / cy) · (2 s a − λ a²)        (per sample)

The compositional rule is the least-squares map from ``Ox`` to ``Oy``,
``S = Y_Oy X_Oxᵀ (X_Ox X_Oxᵀ)⁻¹ = Σ_g Y_Oy g gᵀ X_Oxᵀ / cx_Ox(g)`` (for the family, the row
selection S of docs/theory/dataset.md), so

    ‖W[Ox→Oy] − S‖² = Σ_modes m · cy_Oy · cx_Ox · (a / sqrt(cx cy) − 1 / cx_Ox)²

over modes with ``cx_Ox > 0`` (each atom contributes where the module touches the quadrant;
the rule also has atoms no module drives, which add ``m · cy_Oy / cx_Ox``).
These are exact identities in the mode strengths ``a``, valid for symbolic parameters.

A mode of a symbolic spectrum exists only where its condition holds (``kx > 0``, ``rx > 0``,
…; :attr:`Mode.condition`); elsewhere its ratios such as ``cy/cx`` are ``0/0``. Every mode's
term therefore enters as ``Piecewise((term, condition), (0, True))`` (:func:`where_exists`),
(the rank condition is not needed: terms carry the multiplicity as a factor), so an
observable substituted at any valid point, degenerate corners such as ``kx·rx = 0``
included, equals the observable of the numeric data there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp

from .projectors import SampleSpace
from .spectra import Mode, Spectrum

__all__ = ["LOSS_NAMES", "QUADRANTS", "block_pairs", "loss_key", "quadrant_name", "where_exists",
           "tidy", "quadrant_norm_sq",
           "converged_strengths", "network_quadrant_norms", "rule_error_sq", "output_trace",
           "block_loss", "loss_expressions", "simplify_sqrt"]

QUADRANTS = (("Ox", "Oy"), ("Gx", "Oy"), ("Ox", "Gy"), ("Gx", "Gy"))

#: Output block → the name of its loss; other blocks' losses carry the block's name.
LOSS_NAMES = {"Oy": "compositional", "Gy": "noncompositional"}


def loss_key(block: str) -> str:
    """The name of output block ``block``'s loss (``Oy`` → ``compositional``, …)."""
    return LOSS_NAMES.get(block, block)


def block_pairs(input_blocks: Sequence[str], output_blocks: Sequence[str]
                ) -> tuple[tuple[str, str], ...]:
    """Every (input block, output block) pair, the family's :data:`QUADRANTS` first in their
    order, then the others by output block and input block."""
    pairs = [(i, o) for o in output_blocks for i in input_blocks]
    return tuple(sorted(pairs, key=lambda p: QUADRANTS.index(p) if p in QUADRANTS
                        else len(QUADRANTS)))


def where_exists(mode: Mode, term: sp.Expr) -> sp.Expr:
    """``term`` where ``mode``'s Gram coefficients are positive, 0 elsewhere.

    Terms are proportional to the multiplicity, so the condition on the rank is not needed;
    the others (``kx > 0``, ``rx > 0``, …) keep ratios such as ``cy/cx`` away from ``0/0``.
    A term whose denominator is positive everywhere is finite and vanishes with the mode by
    itself: it is returned as it is, as are the terms of numeric modes (which always exist).
    """
    rank_positive = sp.Gt(mode.multiplicity, 0)
    condition = sp.And(*[c for c in sp.And.make_args(mode.condition) if c != rank_positive])
    if condition == sp.true or all(_positive(d) for d in _denominators(term)):
        return term
    return sp.Piecewise((term, condition), (0, True))


def _denominators(term: sp.Expr) -> list[sp.Expr]:
    """Every denominator of ``term`` as it is written (and evaluated): the bases of its
    negative powers. Cancelling first would hide a ``0/0`` of the written form (``f/(f c² +
    f c + f)`` at ``f = 0``)."""
    term = sp.sympify(term)
    return [p.base for p in term.atoms(sp.Pow) if p.exp.is_negative] + \
        [sp.fraction(term)[1]]


def _positive(denominator: sp.Expr) -> bool:
    """True when every factor of ``denominator`` is positive for all valid parameters (then
    the term is finite everywhere and needs no condition)."""
    return all(f.is_positive for f in sp.Mul.make_args(sp.factor(denominator)))


def tidy(expr: sp.Expr) -> sp.Expr:
    """Simplify a sum of :func:`where_exists` terms without multiplying out its cases: the
    terms are grouped by condition and each group is simplified on its own (a global
    ``simplify`` would fold them into one ``Piecewise`` with a case per combination)."""
    expr = sp.sympify(expr)
    if not expr.has(sp.Piecewise):
        return sp.simplify(expr)
    plain = sp.Integer(0)
    groups: dict[sp.Basic, sp.Expr] = {}
    for term in sp.Add.make_args(sp.expand(expr, deep=False, mul=True, power_exp=False,
                                           power_base=False, log=False, multinomial=False)):
        pieces = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.Piecewise)]
        if len(pieces) == 1 and len(pieces[0].args) == 2 and pieces[0].args[1].expr == 0:
            inner, cond = pieces[0].args[0]
            groups[cond] = groups.get(cond, sp.Integer(0)) + term.subs(pieces[0], inner)
        else:
            plain += term
    return sp.simplify(plain) + sp.Add(*[sp.Piecewise((sp.simplify(g), c), (0, True))
                                         for c, g in groups.items()])


def quadrant_name(inp: str, out: str) -> str:
    """``Gx->Oy`` style name of a quadrant."""
    return f"{inp}->{out}"


def quadrant_norm_sq(modes: Sequence[Mode], strengths: Mapping[str, sp.Expr],
                     inp: str, out: str) -> sp.Expr:
    """``‖W[inp→out]‖²`` for mode strengths ``strengths[label]`` of one module."""
    total = sp.Integer(0)
    for m in modes:
        if inp not in m.cx or out not in m.cy:
            continue
        a = strengths[m.label]
        total += where_exists(m, m.multiplicity * a**2 * (m.cy[out] / m.cy_total)
                              * (m.cx[inp] / m.cx_total))
    return total


def converged_strengths(spec: Spectrum) -> dict[str, sp.Expr]:
    """Mode strengths of the converged map ``W* = Σyx Σx⁺``: each at its fixed point s/λ."""
    return {m.label: m.fixed_point for m in spec.modes}


def network_quadrant_norms(spectra: Sequence[Spectrum],
                           strengths: Sequence[Mapping[str, sp.Expr]],
                           pairs: Sequence[tuple[str, str]] = QUADRANTS) -> dict[str, sp.Expr]:
    """Frobenius norms of the block pairs ``pairs`` (default the family's four quadrants) of a
    network of decoupled modules.

    Modules write disjoint output blocks, so each block pair's squared norm is the sum of the
    modules' contributions.
    """
    out = {}
    for inp, o in pairs:
        sq = sp.Add(*[quadrant_norm_sq(spec.modes, a, inp, o)
                      for spec, a in zip(spectra, strengths, strict=True)])
        out[quadrant_name(inp, o)] = simplify_sqrt(sq)
    return out


def rule_error_sq(spectra: Sequence[Spectrum], strengths: Sequence[Mapping[str, sp.Expr]],
                  rule_atoms: Mapping[str, tuple[sp.Expr, sp.Expr, sp.Expr]]) -> sp.Expr:
    """``‖W[Ox→Oy] − S‖²`` for a network of decoupled modules.

    ``rule_atoms[label] = (rank, cy_Oy, cx_Ox)`` for every atom of sample space; the rule
    ``S`` lives on atoms with both coefficients non-zero. A module that reads ``Ox`` and writes
    ``Oy`` adds ``a / sqrt(cx cy)`` on each of its atoms.
    """
    coeff: dict[str, sp.Expr] = {label: sp.Integer(0) for label in rule_atoms}
    for spec, a in zip(spectra, strengths, strict=True):
        for m in spec.modes:
            if "Ox" in m.cx and "Oy" in m.cy:
                for atom in m.atoms:
                    coeff[atom] += where_exists(m, a[m.label] / sp.sqrt(m.cx_total
                                                                        * m.cy_total))
    total = sp.Integer(0)
    for label, (rank, cy_o, cx_o) in rule_atoms.items():
        if sp.simplify(cy_o * cx_o) == 0:
            continue
        total += rank * cy_o * cx_o * (coeff[label] - 1 / cx_o) ** 2
    return tidy(total)


def simplify_sqrt(sq: sp.Expr) -> sp.Expr:
    """``sqrt(sq)`` in its simplest form, a ``where_exists`` case kept outside the root."""
    sq = tidy(sq)
    if isinstance(sq, sp.Piecewise) and len(sq.args) == 2 and sq.args[1].expr == 0:
        (inner, cond), _ = sq.args
        return sp.Piecewise((simplify_sqrt(inner), cond), (0, True))
    root = sp.sqrt(sq)
    if root.has(sp.Float) or sq.has(sp.Piecewise):
        return root
    return min((root, sp.simplify(root), sp.sqrt(sp.factor(sq))), key=sp.count_ops)


def output_trace(atoms_rank_gram: Sequence[tuple[sp.Expr, sp.Expr]], P: sp.Expr) -> sp.Expr:
    """``tr Σy_o = Σ_g rank_g · cy_o(g) / P`` from (rank, coefficient) pairs of the atoms."""
    return sp.Add(*[rank * c for rank, c in atoms_rank_gram]) / P


def block_loss(trace_y: sp.Expr, spectra: Sequence[Spectrum],
               strengths: Sequence[Mapping[str, sp.Expr]], out: str) -> sp.Expr:
    """Loss on output block ``out``: mean over samples of the summed squared error of its units.

        loss_o = tr Σy_o − Σ_modes m · (cy_o / cy) · (2 s a − λ a²)

    ``trace_y`` is ``tr Σy_o``; modules that do not write ``out`` contribute nothing. Exact for
    decoupled networks (modules write disjoint output blocks).
    """
    total = sp.sympify(trace_y)
    for spec, a in zip(spectra, strengths, strict=True):
        for m in spec.modes:
            if out not in m.cy:
                continue
            x = a[m.label]
            total -= where_exists(m, m.multiplicity * (m.cy[out] / m.cy_total)
                                  * (2 * m.s * x - m.lam * x**2))
    return total


def loss_expressions(space: SampleSpace, spectra: Sequence[Spectrum],
                     strengths: Sequence[Mapping[str, sp.Expr]]) -> dict[str, sp.Expr]:
    """The loss of every output block (per sample, summed units), keyed by :func:`loss_key`:
    ``{"compositional": loss_Oy, "noncompositional": loss_Gy, …}``."""
    out = {}
    for block in space.output_blocks:
        name = loss_key(block)
        trace = output_trace([(a.rank, a.gram[block]) for a in space.atoms], space.P)
        out[name] = block_loss(trace, spectra, strengths, block)
    return out


# ------------------------------------------------------------------ numeric maps
#: Norms below this count as zero when a numerically obtained map is judged systematic.
NUMERIC_ZERO = 1e-6


def map_quadrant_norms(dataset: Any, W: Any) -> dict[str, Any]:
    """Frobenius norms of every input-block × output-block pair (``Ox->Oy`` … first, as
    :func:`block_pairs` orders them) of a numeric total map ``W`` (rows as ``Y``, columns as
    ``X``) of any dataset: floats for one map, arrays over the leading axes for a stack."""
    W = np.asarray(W, dtype=float)
    norms = {}
    for inp, out in block_pairs(tuple(dataset.input_blocks), tuple(dataset.output_blocks)):
        (i0, i1), (o0, o1) = dataset.input_blocks[inp], dataset.output_blocks[out]
        value = np.sqrt(np.sum(W[..., o0:o1, i0:i1] ** 2, axis=(-2, -1)))
        norms[quadrant_name(inp, out)] = float(value) if W.ndim == 2 else value
    return norms


def rule_error(dataset: Any, W: Any) -> np.ndarray:
    """``‖W[Ox→Oy] − S‖_F`` of a numeric map (per leading batch index), ``S`` the dataset's
    compositional rule: its output-feature selection, or for any dataset with these blocks the
    least-squares map ``S = Y_Oy X_Ox⁺`` (the same matrix for the family)."""
    (i0, i1), (o0, o1) = dataset.input_blocks["Ox"], dataset.output_blocks["Oy"]
    W = np.asarray(W, dtype=float)
    S = getattr(dataset, "selection", None)
    if S is None:
        X, Y = np.asarray(dataset.X, dtype=float), np.asarray(dataset.Y, dtype=float)
        S = Y[o0:o1] @ np.linalg.pinv(X[i0:i1])
    return np.sqrt(((W[..., o0:o1, i0:i1] - S) ** 2).sum(axis=(-1, -2)))


def map_summary(dataset: Any, W: Any) -> dict[str, Any]:
    """Block-pair norms of a numeric total map, and for a dataset with the blocks ``Ox, Gx,
    Oy, Gy`` the systematicity report: ``systematic`` when ``‖W[Gx→Oy]‖`` and
    ``‖W[Ox→Oy] − S‖`` are below :data:`NUMERIC_ZERO` (other datasets: ``systematic`` is
    ``None`` and ``report`` empty; systematicity is a property of those four blocks).

    For a stack of maps ``(starts, outputs, inputs)`` (one network from several starts) the
    numbers are means over the stack, ``quadrant_norms_std`` their standard deviations,
    ``starts`` the stack's size, and ``systematic`` holds when it holds for every start."""
    W = np.asarray(W, dtype=float)
    norms = map_quadrant_norms(dataset, W)
    mean = {q: float(np.mean(v)) for q, v in norms.items()}
    out: dict[str, Any] = {"quadrant_norms": mean, "systematic": None, "report": {}}
    if all(quadrant_name(*p) in norms for p in QUADRANTS):
        rule = rule_error(dataset, W)
        zero = (np.asarray(norms["Gx->Oy"]) < NUMERIC_ZERO) & (rule < NUMERIC_ZERO)
        out["systematic"] = bool(np.all(zero))
        out["report"] = {"Gx->Oy": mean["Gx->Oy"], "rule_error": float(np.mean(rule)),
                         "Ox->Gy": mean["Ox->Gy"]}
    if W.ndim == 3:
        out["quadrant_norms_std"] = {q: float(np.std(v)) for q, v in norms.items()}
        out["starts"] = int(W.shape[0])
    return out
