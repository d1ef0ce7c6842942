"""Observables and the converged map of a decoupled derivation, and ``W*`` of any network.

Step 5 of docs/theory/learning-dynamics.md: quadrant norms, block losses and the systematicity
report as exact SymPy expressions in the mode-strength symbols
(:mod:`modspec.theory.observables`); at the fixed points they give the converged map ``W*``
(:func:`converged_map_of`, :func:`map_blocks`). A coupled network's ``W*`` is
:func:`coupled_map`; :func:`network_map` assembles the numeric map from singular vectors.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp

from . import tree_levels
from .architectures import Network
from .dataset import CompositionalDataset, Dataset, block_index
from .declaration import DeclaredDataset
from .equality import differ_somewhere
from .errors import ModspecError
from .observables import (
    block_pairs,
    converged_strengths,
    loss_expressions,
    network_quadrant_norms,
    quadrant_name,
    rule_error_sq,
    simplify_sqrt,
    where_exists,
)
from .projectors import SampleSpace
from .spectra import Mode, Spectrum

if TYPE_CHECKING:
    from .derivation import Derivation

__all__ = ["LOSS_NORMALISATION", "converged_map_of", "coupled_map", "map_blocks",
           "network_map", "observables_of"]

LOSS_NORMALISATION = ("per sample: mean over samples of the summed squared error over the "
                      "block's output units")


def _has_family_blocks(space: SampleSpace) -> bool:
    return {"Ox", "Gx"} <= set(space.input_blocks) and {"Oy", "Gy"} <= set(space.output_blocks)


def _rule_atoms(space: SampleSpace) -> dict[str, tuple[sp.Expr, sp.Expr, sp.Expr]]:
    return {a.label: (a.rank, a.gram["Oy"], a.gram["Ox"]) for a in space.atoms}


def observables_of(space: SampleSpace, spectra: list[Spectrum],
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


def converged_map_of(space: SampleSpace, spectra: list[Spectrum]) -> dict[str, Any]:
    fixed = [converged_strengths(spec) for spec in spectra]
    conv: dict[str, Any] = {"coupled": False, "closed_form": True,
                            "method": "closed form: every mode at its fixed point s/lambda"}
    tree = _tree_converged(space, spectra)
    norms = tree[0] if tree is not None else network_quadrant_norms(
        spectra, fixed, block_pairs(space.input_blocks, space.output_blocks))
    conv["quadrant_norms"] = norms
    conv["report"], conv["systematic"] = {}, None
    if _has_family_blocks(space):
        rule = sp.simplify(sp.sqrt(rule_error_sq(spectra, fixed, _rule_atoms(space))))
        conv["report"] = {"Gx->Oy": norms["Gx->Oy"], "rule_error": rule,
                          "Ox->Gy": norms["Ox->Gy"]}
        conv["systematic"] = bool(sp.simplify(norms["Gx->Oy"]) == 0
                                  and sp.simplify(rule) == 0)
    conv["blocks"] = tree[1] if tree is not None else map_blocks(space, spectra, fixed)
    return conv


def _tree_converged(space: SampleSpace, spectra: list[Spectrum]
                    ) -> tuple[dict[str, sp.Expr], dict[str, dict[str, sp.Expr]]] | None:
    """The quadrant norms and blocks of ``W*`` of a symbolic tree whose every module takes the
    level-generic route (:mod:`modspec.theory.tree_levels`): derived once for a symbolic level
    ``l`` of ``D`` and substituted per block pair; None where the route does not apply."""
    plans = [tree_levels.plan(space, spec.dataset, spec.inputs, spec.outputs)
             for spec in spectra]
    if not spectra or any(p is None or not spec.modes for p, spec in zip(plans, spectra,
                                                                          strict=True)):
        return None
    writer = {o: (spec, p) for spec, p in zip(spectra, plans, strict=True) for o in spec.outputs}
    level, levels = tree_levels.level_symbols()
    norms: dict[str, sp.Expr] = {}
    blocks: dict[str, dict[str, sp.Expr]] = {}
    for inp, out in block_pairs(space.input_blocks, space.output_blocks):
        name = quadrant_name(inp, out)
        if out not in writer or inp not in writer[out][0].inputs:
            norms[name], blocks[name] = sp.Integer(0), {}
            continue
        spec, p = writer[out]
        sq, coeff = tree_levels.fixed_norm_sq(p, inp), tree_levels.fixed_coefficient(p)
        if sq is None or coeff is None:
            return None
        mode = spec.modes[0]          # every run exists under the same condition
        at = {level: spec.dataset.blocks[out].level, levels: p.levels}
        norms[name] = _level_norm(sq, mode.condition).xreplace(at)
        c = where_exists(mode, coeff)
        blocks[name] = {a.label: c for a in space.atoms[:at[level] + 1]}
    return norms, blocks


@functools.lru_cache(maxsize=32)
def _level_norm(sq: sp.Expr, condition: sp.Basic) -> sp.Expr:
    """``‖W*[i → l]‖`` for a symbolic level: the norm of ``sq`` where the modes exist."""
    one = Mode("generic", sp.Integer(1), sp.Integer(1), sp.Integer(1), sp.Integer(1), {}, {},
               (), condition)
    return simplify_sqrt(where_exists(one, sq))


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
    non-zero at a point its symbols allow (:func:`modspec.theory.equality.differ_somewhere`)."""
    return differ_somewhere(expr, sp.Integer(0)) or sp.simplify(expr) != 0


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
