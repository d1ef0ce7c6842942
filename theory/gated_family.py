"""Gated networks on a dataset family, for symbolic sizes (docs/theory/gated.md §6).

When every gate is constant or given per context (the modular rule included), the gates of a
sample do not depend on its item, and every gated statistic of
:mod:`modspec.theory.gated_data` is a gate average times a block statistic of the family:

    Σyx(p)   = ⟨g_k g_p⟩ · Y_{t(p)} X_{s(p)}ᵀ / P,
    Σx(j, p) = ⟨g_k g_j g_p⟩ · X_{s(j)} X_{s(p)}ᵀ / P,
    Σy(k)    = ⟨g_k⟩ · tr(Y_k Y_kᵀ) / P,

with ⟨·⟩ the mean over the C contexts of the gate products (exact numbers,
:func:`gate_average`). The family's atoms Π_g — joint eigenspaces of every block's Gram
matrix, ``c_B(g)`` its coefficient on Π_g, ``m_g`` the rank (:mod:`modspec.theory.projectors`)
— give every layer bound to block B the unit vectors ``r_{B,q} = B q / √c_B(g)`` for an
orthonormal basis ``q`` of Π_g (where ``c_B(g) ≠ 0``), and on them

    r_{B,q}ᵀ (B B'ᵀ / P) r_{B',q'} = δ_{qq'} √(c_B(g) c_B'(g)) / P.

So the basis condition holds by construction, and each atom (atoms with equal coefficients on
every bound block merged, as the module spectra merge them) is one mode of multiplicity
``m_g`` with

    s_{p,g}  = ⟨g_k g_p⟩ √(c_{t(p)}(g) c_{s(p)}(g)) / P,
    d_{jp,g} = ⟨g_k g_j g_p⟩ √(c_{s(j)}(g) c_{s(p)}(g)) / P.

Put into the generic per-mode system (:func:`~modspec.theory.gated_modes.mode_scalars`) they
give the mode's pathway ODEs, its conserved quantities
(:func:`~modspec.theory.gated_modes.conserved_quantities`), its fixed points where SymPy
solves ``τ db/dt = 0`` (modes of at most :data:`MAX_SOLVE_EDGES` edges; SymPy's solutions, which
hold for generic values of the symbols: where a statistic vanishes the set of fixed points
can grow), and the loss of aligned weights

    ℓ = Σ_k ½ Σy(k) + Σ_g m_g ℓ_g(b),

``ℓ_g`` the image of the loss on one vector of the mode. Hidden layers are taken wide enough:
the reduction holds while every hidden layer has at least as many units as the summed
multiplicity of the modes that cross it (:attr:`FamilyModes.widths`). A gate given per item
needs numeric items: refused in one line naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sympy as sp

from .dataset import exact
from .equality import clean, equal, group_equal
from .errors import ModspecError, bad
from .gated import GatedNetwork, gate_table
from .gated_data import Path, bound_blocks, gate_weights
from .gated_flow import gated_flow, scalar_image
from .gated_modes import conserved_quantities, mode_scalars
from .projectors import SampleSpace, sample_space
from .work_budget import check_work

__all__ = ["FamilyMode", "FamilyModes", "family_modes", "gate_average", "MAX_SOLVE_EDGES"]

#: Modes carried by more edges than this keep their fixed points unsolved (``None``).
MAX_SOLVE_EDGES = 3


def gate_average(network: GatedNetwork, *paths: Path) -> sp.Rational:
    """``⟨g_k Π_p g_p⟩``: the mean over contexts of the gate products of ``paths`` and of
    their output layer k's gate, exactly (gates per context only)."""
    w = gate_weights(network, 1, *paths)
    return sp.Add(*[exact(v) for v in w]) / len(w)


@dataclass(frozen=True, eq=False)
class FamilyMode:
    """One mode: the atoms it merges (``label``), its ``multiplicity`` m_g, the ``edges``
    that carry it, its statistics ``values`` (``s[p]``, ``d[j|p]``), its ``equations``
    ``{edge: τ db_e/dt}``, ``conserved`` quantities, ``fixed_points`` (a list of solutions
    ``{b[e]: expression}``; ``None`` where not solved) and ``loss`` ℓ_g(b)."""

    label: str
    multiplicity: sp.Expr
    edges: tuple[str, ...]
    values: dict[sp.Symbol, sp.Expr]
    equations: dict[str, sp.Expr]
    conserved: tuple[sp.Expr, ...]
    fixed_points: tuple[dict[sp.Symbol, sp.Expr], ...] | None
    loss: sp.Expr


@dataclass(frozen=True, eq=False)
class FamilyModes:
    """The race of a gated network on a family dataset (see the module docstring):
    ``modes``, ``sigma_y[k]`` (Σy of each output layer), ``widths[h]`` the units hidden
    layer h needs, ``b`` the strength symbols, ``dataset`` (its symbols are the result's)."""

    network: GatedNetwork
    dataset: Any
    modes: tuple[FamilyMode, ...]
    sigma_y: dict[str, sp.Expr]
    widths: dict[str, sp.Expr]
    b: dict[str, sp.Symbol]

    def loss(self, strengths: Mapping[str, Mapping[str, Any]]) -> sp.Expr:
        """ℓ at aligned weights ``strengths[label][edge]`` (absent edges 0)."""
        total = sp.Add(*self.sigma_y.values()) / 2
        for m in self.modes:
            at = {self.b[e]: strengths.get(m.label, {}).get(e, 0) for e in m.edges}
            total += m.multiplicity * m.loss.xreplace(at)
        return total

    def subs(self, values: Mapping[Any, Any] | None = None, **kw: Any) -> FamilyModes:
        """The result at numbers (keys as :func:`modspec.theory.families.substitution`
        takes them, checked as the family checks them); modes of multiplicity 0, or whose
        statistics all vanish there, are dropped, and so are fixed points that divide by 0
        there (at such values the fixed points the symbols' solutions give can be only
        some of them)."""
        from .families import substitution

        at = substitution(self.dataset, {**(values or {}), **kw})
        modes = []
        for m in self.modes:
            mult = sp.simplify(m.multiplicity.subs(at))
            vals = {k: clean(v.subs(at)) for k, v in m.values.items()}
            if mult == 0 or all(v == 0 for v in vals.values()):
                continue
            fixed = None if m.fixed_points is None else tuple(
                point for point in ({k: clean(v.subs(at)) for k, v in sol.items()}
                                    for sol in m.fixed_points)
                if not any(v.has(sp.zoo, sp.nan, sp.oo) for v in point.values()))
            modes.append(FamilyMode(m.label, mult, m.edges, vals,
                                    {e: sp.expand(r.subs(at)) for e, r in m.equations.items()},
                                    m.conserved, fixed, sp.expand(m.loss.subs(at))))
        return FamilyModes(self.network, self.dataset, tuple(modes),
                           {k: clean(v.subs(at)) for k, v in self.sigma_y.items()},
                           {h: sp.simplify(w.subs(at)) for h, w in self.widths.items()},
                           self.b)


def _bind(network: GatedNetwork, dataset: Any) -> list[str]:
    """Every input (output) layer is the input (output) block of its name, of the block's
    size where that is a number (a symbolic size is the block's, whatever the declared one);
    per-item gates are refused (one line naming the gate)."""
    for g in network.gates:
        if g.by == "item":
            raise bad(f"gate on {g.target}", "per item", "a gate on a dataset family of "
                      "symbolic sizes must be constant or given per context (the items are "
                      "not numbered); substitute numbers first")
    sizes = network.sizes
    bound = bound_blocks(dataset, network)
    for side in bound.values():
        for layer, (lo, hi) in side.items():
            rows = sp.sympify(hi - lo)
            if rows.is_number and rows != sizes[layer]:
                raise bad(f"layer {layer} size", sizes[layer],
                          f"must be {rows} (the rows of block {layer} of the dataset)")
    return [x for side in bound.values() for x in side]


def _atom_groups(space: SampleSpace, blocks: list[str]) -> list[tuple[str, sp.Expr, dict]]:
    """``(label, rank, {block: c_B})`` per group of atoms with equal coefficients on
    ``blocks``, in the order of the atoms; groups of rank 0 or no coefficient are dropped."""
    grams = [(atom, {b: sp.sympify(atom.gram[b]) for b in blocks}) for atom in space.atoms]
    out = []
    for group in group_equal(grams, lambda x, y: all(equal(x[1][b], y[1][b]) for b in blocks)):
        rank, gram = sp.simplify(sp.Add(*[sp.sympify(a.rank) for a, _ in group])), group[0][1]
        if (rank.is_number and rank == 0) or all(sp.simplify(v) == 0 for v in gram.values()):
            continue
        out.append(("+".join(a.label for a, _ in group), rank, gram))
    return out


def _present(network: GatedNetwork, gram: dict[str, sp.Expr]) -> set[str]:
    """The layers a mode crosses: bound layers where its coefficient is not identically 0,
    hidden layers on a pathway whose two ends it crosses."""
    ports = {x for x, c in gram.items() if sp.simplify(c) != 0}
    hidden = {x for p in network.pathways if network.source(p) in ports
              and network.target(p) in ports for x in network.path_layers(p)}
    return ports | hidden


def _values(network: GatedNetwork, flow: Any, stats: dict[str, sp.Symbol], gram: dict,
            present: set[str], P: sp.Expr) -> dict[sp.Symbol, sp.Expr]:
    """The mode's ``s[p]`` and ``d[j|p]`` (the module docstring; 0 off the mode)."""
    out = {}
    for name, (kind, paths) in flow.stats.items():
        if not all(x in present for p in paths for x in network.path_layers(p)):
            out[stats[name]] = sp.Integer(0)
            continue
        a, c = ((network.target(paths[0]), network.source(paths[0])) if kind == "yx"
                else (network.source(paths[0]), network.source(paths[1])))
        out[stats[name]] = clean(gate_average(network, *paths)
                                 * sp.sqrt(gram[a] * gram[c]) / P)
    return out


def _fixed_points(equations: dict[str, sp.Expr], b: dict[str, sp.Symbol]
                  ) -> tuple[dict[sp.Symbol, sp.Expr], ...] | None:
    """The zeros of the mode's system, as SymPy's solutions (each a dict of some strengths
    in terms of the others); ``None`` for more than :data:`MAX_SOLVE_EDGES` edges or where
    SymPy gives up."""
    if len(equations) > MAX_SOLVE_EDGES:
        return None
    try:
        sols = sp.solve(list(equations.values()), [b[e] for e in equations], dict=True)
    except (NotImplementedError, ValueError):
        return None
    out: list[dict[sp.Symbol, sp.Expr]] = []
    for sol in sols:
        point = {k: clean(sp.sympify(v)) for k, v in sol.items()}
        if point not in out:
            out.append(point)
    return tuple(out)


def _mode(network: GatedNetwork, generic: tuple, label: str, rank: sp.Expr, gram: dict,
          P: sp.Expr) -> FamilyMode | None:
    """One atom group's mode (None when no edge carries it)."""
    flow, b, stats, rhs, loss = generic
    present = _present(network, gram)
    edges = tuple(e.name for e in network.edges
                  if e.source in present and e.target in present)
    if not edges:
        return None
    values = _values(network, flow, stats, gram, present, P)
    zero = {b[e]: 0 for e in b if e not in edges}
    zero.update({k: 0 for k, v in values.items() if v == 0})
    structure = {e: sp.expand(rhs[e].xreplace(zero)) for e in edges}
    equations = {e: sp.expand(r.xreplace(values)) for e, r in structure.items()}
    return FamilyMode(label, rank, edges, values, equations,
                      tuple(conserved_quantities(structure, b)),
                      _fixed_points(equations, b),
                      sp.expand(loss.xreplace(zero).xreplace(values)))


def family_modes(network: GatedNetwork, dataset: Any) -> FamilyModes:
    """The race of ``network`` on ``dataset``, a family dataset of symbolic (or numeric)
    sizes: see the module docstring."""
    bound = _bind(network, dataset)
    space = sample_space(dataset)
    check_work(dataset, space)
    P = sp.sympify(space.P)
    flow = gated_flow(network)
    b, stats, rhs = mode_scalars(flow)
    scalars: dict[str, sp.Expr] = {**b, **stats}
    loss = sp.expand(scalar_image(flow.loss, scalars).xreplace(
        {s: 0 for s in flow.sigma_y.values()}))
    generic = (flow, b, stats, rhs, loss)
    modes = []
    for label, rank, gram in _atom_groups(space, bound):
        mode = _mode(network, generic, label, rank, gram, P)
        if mode is not None:
            modes.append(mode)
    if not modes:
        raise ModspecError(f"network {network.name}: no mode of the "
                           f"{getattr(dataset, 'family', 'compositional')} dataset reaches "
                           "an output layer through its edges")
    sigma_y = {k: clean(_output_average(network, k) * sp.Add(
        *[a.rank * a.gram[k] for a in space.atoms]) / P) for k in network.output_layers}
    widths = {h: sp.Add(*[m.multiplicity for m in modes
                          if any(network.edge[e].target == h or network.edge[e].source == h
                                 for e in m.edges)])
              for h in network.order if h not in bound}
    return FamilyModes(network, dataset, tuple(modes), sigma_y, widths, b)


def _output_average(network: GatedNetwork, layer: str) -> sp.Rational:
    """``⟨g_k⟩``: the mean over contexts of output layer ``layer``'s gate."""
    w = gate_table(network, 1).get(layer, [1] * len(network.contexts))
    return sp.Add(*[exact(v) for v in w]) / len(w)
