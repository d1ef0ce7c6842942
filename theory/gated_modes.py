"""The race reduction: shared singular vectors, per-mode pathway dynamics, conserved quantities.

docs/theory/gated.md §3. The **basis condition**: every input and output layer l has an
orthonormal frame ``{r_{l,α}}`` (mode α has a vector in some layers only) in which every gated
statistic is diagonal,

    Σyx(p) = Σ_α s_{p,α} r_{t(p),α} r_{s(p),α}ᵀ,   Σx(j, p) = Σ_α d_{jp,α} r_{s(j),α} r_{s(p),α}ᵀ.

:func:`basis_condition` searches such frames: in each connected group of layers (joined by a
non-zero statistic) it takes the eigenvectors of a generic positive combination of ``MᵀM``
over the statistics ``M`` at one layer, carries each vector across every statistic
(``r ↦ M r/‖M r‖``), completes every frame the same way on the orthogonal complement, and
checks every statistic — starting from each layer of the group in turn until one works.
Where a statistic is not diagonal it names the pathways. (A search, not a proof of absence:
with degenerate spectra a frame that works may exist and be missed.) Modes
are numbered within each connected group, strongest first; groups that meet only in hidden
layers share them mode by mode (mode α of every group uses the hidden layer's α-th vector).

Where it holds, weights aligned to the frames, ``W_e = Σ_α b_{e,α} r_{t(e),α} r_{s(e),α}ᵀ``
(hidden layers get unit vectors of their own, one per mode that crosses them while width lasts),
stay aligned under the flow, and each mode's strengths obey the **per-mode pathway ODEs**: the
derived matrix flow with every matrix replaced by its scalar on the mode
(:func:`~modspec.theory.gated_flow.scalar_image`),

    τ db_e/dt = Σ_{p ∋ e} (Π_{e' ∈ p, e' ≠ e} b_{e'}) (s_p − Σ_j b_j d_{jp}),

products of the other edges' strengths times the pathway's own error on the mode.
**Conserved quantities** are the quadratic forms ``Σ_e c_e b_e²`` whose derivative vanishes
for all strengths and all statistics of the mode (solved by SymPy from the derived system).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from .gated import GatedNetwork
from .gated_data import GatedStatistics, path_label
from .gated_flow import GatedFlow, scalar_image

__all__ = ["BasisCondition", "basis_condition", "PathwayModes", "mode_scalars",
           "pathway_modes", "aligned_weights", "mode_strengths", "conserved_quantities"]

_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class BasisCondition:
    """``holds``; ``frames[layer][α]`` the unit vector of mode α in an input or output layer;
    ``reason``: one line naming the pathways whose statistics are not diagonal."""

    holds: bool
    frames: dict[str, dict[int, np.ndarray]]
    reason: str = ""


def _relations(stats: GatedStatistics) -> list[tuple[str, str, np.ndarray, str]]:
    """``(row layer, column layer, matrix, description)`` of every non-zero statistic."""
    net = stats.network
    num = stats.numeric()
    out = []
    for p, M in num.yx.items():
        if np.abs(M).max() > _TOL:
            out.append((net.target(p), net.source(p), M, f"pathway {path_label(p)}"))
    for (j, p), M in num.x.items():
        if np.abs(M).max() > _TOL:
            out.append((net.source(j), net.source(p), M,
                        f"pathways {path_label(j)} and {path_label(p)}"))
    return out


def _eigvecs(G: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((G + G.T) / 2)
    return vecs[:, np.argsort(-vals, kind="stable")]


def basis_condition(stats: GatedStatistics) -> BasisCondition:
    """Search shared frames and check every statistic (see the module docstring). Each
    connected group of layers is searched from its first layer, and, if the frames found do
    not diagonalise every statistic of the group, from each of its other layers in turn (a
    degenerate spectrum at one layer can hide the frame another layer fixes)."""
    net = stats.network
    sizes = net.sizes
    rels = _relations(stats)
    both = rels + [(c, r, M.T, d) for r, c, M, d in rels]
    rng = np.random.default_rng(12345)
    weight = [float(w) for w in rng.uniform(1.0, 2.0, size=len(both))]
    ports = [*net.input_layers, *net.output_layers]
    frames: dict[str, dict[int, np.ndarray]] = {}
    for first in ports:
        if first in frames:
            continue
        group = _group(first, ports, both)
        inside = [rel for rel in rels if rel[0] in group]
        failed: tuple[dict[str, dict[int, np.ndarray]], str] | None = None
        for root in group:
            found = _search(root, sizes, both, weight)
            problem = _check(found, inside)
            if problem is None:
                break
            failed = failed or (found, problem)
        else:
            assert failed is not None
            frames.update(failed[0])
            return BasisCondition(False, frames, failed[1])
        frames.update(found)
    return BasisCondition(True, frames)


def _group(first: str, ports: list[str], both: list) -> list[str]:
    """The layers joined to ``first`` by non-zero statistics, in the order of ``ports``."""
    seen, queue = {first}, [first]
    while queue:
        layer = queue.pop()
        for r, c, _M, _d in both:
            if c == layer and r not in seen:
                seen.add(r)
                queue.append(r)
    return [p for p in ports if p in seen]


def _search(root: str, sizes: dict[str, int], both: list, weight: list[float]
            ) -> dict[str, dict[int, np.ndarray]]:
    """Frames of the group of ``root``: eigenvectors of a generic combination of ``MᵀM`` at
    each layer on the complement of what it received, carried across every statistic.
    Modes are numbered within the group: groups that meet only in hidden layers share those
    layers' unit vectors, mode by mode in this order."""
    def gram(layer: str) -> np.ndarray:
        G = np.zeros((sizes[layer], sizes[layer]))
        for w, (_r, c, M, _d) in zip(weight, both, strict=True):
            if c == layer:
                G += w * M.T @ M
        return G

    frames: dict[str, dict[int, np.ndarray]] = {}
    pending: dict[str, dict[int, np.ndarray]] = {root: {}}
    modes = 0
    queue = [root]
    while queue:
        layer = queue.pop(0)
        frame = dict(pending.pop(layer, {}))
        have = np.array(list(frame.values())).T if frame else np.zeros((sizes[layer], 0))
        Q = _complement(have, sizes[layer])
        if Q.shape[1]:
            for v in (Q @ _eigvecs(Q.T @ gram(layer) @ Q)).T:
                frame[modes] = v
                modes += 1
        frames[layer] = frame
        for r, c, M, _d in both:
            if c != layer or r in frames:
                continue
            target = pending.setdefault(r, {})
            if r not in queue:
                queue.append(r)
            for a, v in frame.items():
                w = M @ v
                norm = np.linalg.norm(w)
                if a in target or norm <= _TOL * max(1.0, np.abs(M).max()):
                    continue
                w = w / norm
                if all(abs(w @ u) < 1e-6 for u in target.values()):
                    target[a] = w
    return frames


def _check(frames: dict[str, dict[int, np.ndarray]], rels: list) -> str | None:
    """None when every statistic is diagonal in the frames, else the one-line reason."""
    for r, c, M, desc in rels:
        scale = max(1.0, np.abs(M).max())
        for a, u in frames[r].items():
            for b, v in frames[c].items():
                if a != b and abs(u @ M @ v) > _TOL * scale:
                    kind = "Σyx" if desc.startswith("pathway ") else "Σx"
                    return (f"the basis condition fails: the {kind} of {desc} is not diagonal "
                            "in the singular vectors shared by the other statistics (no shared "
                            "basis)")
    return None


def _complement(A: np.ndarray, n: int) -> np.ndarray:
    """An orthonormal basis of the orthogonal complement of the columns of ``A`` (n rows)."""
    if A.shape[1] == 0:
        return np.eye(n)
    U, s, _ = np.linalg.svd(A, full_matrices=True)
    rank = int(np.sum(s > 1e-9))
    return U[:, rank:]


@dataclass(frozen=True, eq=False)
class PathwayModes:
    """The per-mode pathway system of a network on a dataset where the basis condition holds.

    ``frames[layer][α]`` unit vectors (hidden layers included); ``edges[α]`` the edges that
    carry mode α (both ends have a vector); ``rhs`` the generic per-mode system
    ``{edge: τ db_e/dt}`` in the symbols ``b[e]``, ``s[p]``, ``d[j|p]``; ``values[α]`` the
    mode's statistics ``{symbol: value}``; ``samples`` N; ``system(α)`` the mode's own
    equations."""

    network: GatedNetwork
    frames: dict[str, dict[int, np.ndarray]]
    edges: dict[int, tuple[str, ...]]
    b: dict[str, sp.Symbol]
    rhs: dict[str, sp.Expr]
    values: dict[int, dict[sp.Symbol, float]]
    samples: int

    def structure(self, mode: int) -> dict[str, sp.Expr]:
        """The mode's equations with its statistics left symbolic (those that vanish on the
        mode set to 0): exact, for structural results such as conserved quantities."""
        zero = {self.b[e]: 0 for e in self.b if e not in self.edges[mode]}
        zero.update({k: 0 for k, v in self.values[mode].items() if v == 0})
        return {e: sp.expand(self.rhs[e].xreplace(zero)) for e in self.edges[mode]}

    def system(self, mode: int) -> dict[str, sp.Expr]:
        """``τ db_e/dt`` for the edges carrying ``mode``, its statistics substituted."""
        zero = {self.b[e]: 0 for e in self.b if e not in self.edges[mode]}
        vals = {**zero, **self.values[mode]}
        return {e: sp.expand(self.rhs[e].xreplace(vals)) for e in self.edges[mode]}


def _stat_symbol(name: str) -> sp.Symbol:
    kind, rest = name.split("[", 1)
    return sp.Symbol(("s[" if kind == "Sigma_yx" else "d[") + rest)


def mode_scalars(flow: GatedFlow) -> tuple[dict[str, sp.Symbol], dict[str, sp.Symbol],
                                            dict[str, sp.Expr]]:
    """The generic per-mode system of ``flow``: the strength symbols ``b[e]``, the scalar
    ``s[p]`` or ``d[j|p]`` of every statistic (by its name in ``flow.stats``) and
    ``rhs[e]``, the image of ``τ dW_e/dt`` on one aligned mode (:func:`scalar_image`)."""
    b = {e.name: sp.Symbol(f"b[{e.name}]") for e in flow.network.edges}
    stats = {name: _stat_symbol(name) for name in flow.stats}
    scalars: dict[str, sp.Expr] = {**b, **stats}
    return b, stats, {e: sp.expand(scalar_image(flow.rhs[e], scalars)) for e in b}


def pathway_modes(flow: GatedFlow, stats: GatedStatistics,
                  condition: BasisCondition | None = None) -> PathwayModes:
    """The per-mode system (see the module docstring). Only where :func:`basis_condition`
    holds: a ``ValueError`` carrying its one-line reason otherwise."""
    net = flow.network
    condition = condition or basis_condition(stats)
    if not condition.holds:
        raise ValueError(condition.reason)
    frames = {k: dict(v) for k, v in condition.frames.items()}
    sizes = net.sizes
    # hidden layers: one unit vector per mode crossing them, in mode order, while width lasts
    for h in net.order:
        if h in frames:
            continue
        crossing = sorted({a for p in net.pathways if h in net.path_layers(p)
                           for a in frames[net.source(p)] if a in frames[net.target(p)]})
        frames[h] = {a: np.eye(sizes[h])[k] for k, a in enumerate(crossing[:sizes[h]])}
    all_modes = sorted({a for f in frames.values() for a in f})
    edges = {a: tuple(e.name for e in net.edges
                      if a in frames[e.source] and a in frames[e.target]) for a in all_modes}
    edges = {a: es for a, es in edges.items() if es}      # modes that no edge carries: none
    all_modes = sorted(edges)
    b, _stats, rhs = mode_scalars(flow)
    num = stats.numeric()
    values: dict[int, dict[sp.Symbol, float]] = {}
    for a in all_modes:
        vals: dict[sp.Symbol, float] = {}
        for name, (kind, paths) in flow.stats.items():
            if kind == "yx":
                p = paths[0]
                ok = all(a in frames[x] for x in net.path_layers(p))
                v = frames[net.target(p)][a] @ num.yx[p] @ frames[net.source(p)][a] if ok else 0
            else:
                j, p = paths
                ok = all(a in frames[x] for x in (*net.path_layers(j), *net.path_layers(p)))
                v = frames[net.source(j)][a] @ num.x[paths] @ frames[net.source(p)][a] \
                    if ok else 0
            vals[_stat_symbol(name)] = float(v)
        values[a] = vals
    return PathwayModes(net, frames, edges, b, rhs, values, stats.samples)


def aligned_weights(modes: PathwayModes, strengths: Mapping[int, Mapping[str, float]]
                    ) -> dict[str, np.ndarray]:
    """``W_e = Σ_α b_{e,α} r_{t(e),α} r_{s(e),α}ᵀ`` from ``strengths[α][e]`` (others 0)."""
    net = modes.network
    sizes = net.sizes
    out = {}
    for e in net.edges:
        W = np.zeros((sizes[e.target], sizes[e.source]))
        for a, bs in strengths.items():
            if e.name in bs and e.name in modes.edges[a]:
                W += bs[e.name] * np.outer(modes.frames[e.target][a], modes.frames[e.source][a])
        out[e.name] = W
    return out


def mode_strengths(modes: PathwayModes, weights: Mapping[str, np.ndarray]
                   ) -> dict[int, dict[str, Any]]:
    """``b_{e,α} = r_{t(e),α}ᵀ W_e r_{s(e),α}`` (any leading axes of the weights are kept)."""
    edge = modes.network.edge
    return {a: {e: np.einsum("i,...ij,j->...", modes.frames[edge[e].target][a],
                             np.asarray(weights[e]), modes.frames[edge[e].source][a])
                for e in es} for a, es in modes.edges.items()}


def conserved_quantities(rhs: Mapping[str, sp.Expr], b: Mapping[str, sp.Symbol]
                         ) -> list[sp.Expr]:
    """A basis of the quadratic forms ``Σ_e c_e b_e²`` conserved by ``τ db_e/dt = rhs[e]``
    for every value of the strengths and of the statistics (the other symbols)."""
    names = list(rhs)
    c = sp.symbols(f"c0:{len(names)}")
    dQ = sp.expand(sum(2 * ci * b[e] * rhs[e] for ci, e in zip(c, names, strict=True)))
    if dQ == 0:
        return [b[e] ** 2 for e in names]
    free = sorted(dQ.free_symbols - set(c), key=str)
    eqs = sp.Poly(dQ, *free).coeffs()
    A = sp.Matrix([[sp.diff(eq, ci) for ci in c] for eq in eqs])
    out = []
    for v in A.nullspace():
        v = v / next(x for x in v if x != 0)
        out.append(sp.Add(*[v[i] * b[e] ** 2 for i, e in enumerate(names)]))
    return out

