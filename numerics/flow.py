"""The exact matrix gradient flow of a modular linear network, as generated NumPy code.

A network sums the maps of its modules. Module m reads the input rows ``in_m`` and writes the
output rows ``out_m``; its map is ``M_m = W_L ⋯ W_1`` (depth L; L = 1 is a single matrix).
With ``W`` the total map, the per-sample loss (docs/theory/learning-dynamics.md, §1) is, in
covariance form,

    ℓ(W) = ½ tr Σy − tr(Σyx Wᵀ) + ½ tr(W Σx Wᵀ),       ∂ℓ/∂W = −(Σyx − W Σx) = −R

and by the chain rule, with ``G_m = R[out_m, in_m]`` held fixed,

    τ dW_i/dt = ∂/∂W_i tr(M_m G_mᵀ)                      (i = 1 … L)

which SymPy's matrix calculus differentiates for every layer (e.g. ``W2ᵀ G`` and ``G W1ᵀ``
for L = 2). The same generated code gives one gradient-descent step (``W_i += grad_i / τ``,
simultaneous) and the right-hand side of the flow; a tangent version (the directional
derivative, also derived by SymPy) gives Jacobian–vector products for stiff integrators.

All generated code works on stacked batches ``(..., rows, cols)`` (seeds, or Jacobian
directions). Time is in epochs of full-batch gradient descent, ``τ = 1/(P·lr)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np
import sympy as sp

from modspec.theory.architectures import Module, Network
from modspec.theory.dataset import CompositionalDataset, Dataset, block_index
from modspec.theory.defaults import HIDDEN
from modspec.theory.derivation import mode_key
from modspec.theory.errors import ModspecError, bad, check_integer
from modspec.theory.heldout import check_objects
from modspec.theory.observables import QUADRANTS, quadrant_name
from modspec.theory.spectra import Spectrum, module_spectra

from .codegen import Generated, generate

__all__ = ["Covariances", "Layout", "ModuleLayout", "block", "check_covariance_size",
           "check_hidden", "check_numeric",
           "check_positive", "check_weights", "covariances", "gradients", "layer_symbols", "layout",
           "module_gradient", "module_maps", "module_tangent", "residual", "tau_of", "total_map",
           "training_data"]


def _index(spans: Mapping[str, tuple[int, int]], names: Sequence[str]) -> slice | np.ndarray:
    """Rows of the blocks ``names``; a slice when they are contiguous (no copy)."""
    rows = block_index(spans, names)
    if rows.size == 0:
        return slice(0, 0)
    if np.all(np.diff(rows) == 1):
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


def _size(index: slice | np.ndarray) -> int:
    return index.stop - index.start if isinstance(index, slice) else len(index)


@dataclass(frozen=True, eq=False)
class ModuleLayout:
    """Where a module sits in the network and how its strengths are read.

    ``dims = (n_in, hidden, …, hidden, n_out)``: layer i maps ``dims[i]`` to ``dims[i+1]``.
    ``projections[key] = U Vᵀ / multiplicity`` so that the mode strength
    ``mean diag(Uᵀ M V) = ⟨M, U Vᵀ⟩_F / multiplicity``.
    """

    module: Module
    inputs: slice | np.ndarray
    outputs: slice | np.ndarray
    dims: tuple[int, ...]
    spectrum: Spectrum
    keys: dict[str, str]
    projections: dict[str, np.ndarray]

    @property
    def depth(self) -> int:
        return self.module.depth


@dataclass(frozen=True, eq=False)
class Layout:
    """A network laid out on a numeric dataset with a given hidden width."""

    dataset: Any
    network: Network
    hidden: int
    modules: tuple[ModuleLayout, ...]
    n_in: int
    n_out: int
    quadrants: dict[str, tuple[slice, slice]]

    @property
    def keys(self) -> list[str]:
        return [k for m in self.modules for k in m.keys.values()]


def check_numeric(dataset: Any) -> None:
    """A dataset simulation can run on: numeric, with arrays and a mode basis that fit
    (``dataset.fits``: :func:`modspec.theory.dataset.materialisable`)."""
    if getattr(dataset, "is_symbolic", False):
        raise bad("dataset", "symbolic", "simulation and integration need numeric parameters")
    if not getattr(dataset, "fits", True):
        from modspec.theory.dataset import MAX_ENTRIES

        raise bad("dataset", f"{int(dataset.P)} objects × {dataset.shape_x[0]} inputs",
                  f"is too large to simulate: its arrays and the P × P basis its modes are "
                  f"read in must each have at most {MAX_ENTRIES:.0e} entries; predict it "
                  "instead (closed forms at any size)")
    _check_projection_cost(dataset)


def check_covariance_size(dataset: Any) -> None:
    """Refuse a dataset whose input covariance ``Σx`` (inputs × inputs, built by simulations
    and integrated flows) would have more than ``MAX_ENTRIES`` entries."""
    from modspec.theory.dataset import MAX_ENTRIES

    n_in = int(dataset.shape_x[0])
    if n_in * n_in > MAX_ENTRIES:
        raise bad("dataset", f"{int(dataset.P)} objects × {n_in} inputs",
                  f"is too large to simulate: its input covariance Σx would have {n_in}² = "
                  f"{n_in * n_in:.2g} entries (at most {MAX_ENTRIES:.0e}); use fewer inputs, "
                  "or predict a decoupled network (closed forms at any size)")


def check_positive(name: str, value: Any, integer: bool = False,
                   allow_zero: bool = False) -> Any:
    """``value`` as a float (or int with ``integer``) > 0 (≥ 0 with ``allow_zero``), else a
    :class:`~modspec.theory.errors.ModspecError` naming ``name``."""
    ok = (not isinstance(value, bool)) and isinstance(value, (int, np.integer)) if integer \
        else isinstance(value, (int, float, np.integer, np.floating)) \
        and not isinstance(value, bool) and np.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        kind = "integer" if integer else "number"
        raise bad(name, value, f"must be a {kind} {'≥' if allow_zero else '>'} 0")
    return int(value) if integer else float(value)


def check_hidden(hidden: Any) -> int:
    """Hidden units per hidden layer: an integer ≥ 1."""
    return check_integer("hidden", hidden, 1)


def layout(dataset: CompositionalDataset | Dataset, network: Network,
           hidden: int = HIDDEN) -> Layout:
    """Indices, layer shapes and analytic mode projections of every module.

    Pure in its arguments, and its spectra come from SymPy (~20 ms for D0): a layout of a
    family dataset (compared by value) is kept for the process and shared — treat it as
    read-only. General datasets (compared by identity) are laid out on every call."""
    check_numeric(dataset)
    hidden = check_hidden(hidden)
    if isinstance(dataset, CompositionalDataset):
        return _cached_layout(dataset, network, hidden)
    return _layout(dataset, network, hidden)


@lru_cache(maxsize=16)
def _cached_layout(dataset: CompositionalDataset | Dataset, network: Network,
                   hidden: int) -> Layout:
    return _layout(dataset, network, hidden)


#: The most arithmetic the mode projections ``U Vᵀ`` of a layout may take (a few seconds on
#: two shared cores): each costs rows × columns × multiplicity.
MAX_PROJECTION_OPS = 2e9


def _check_projection_cost(dataset: Any) -> None:
    """Refuse before the spectrum a dataset whose projections would cost more than
    :data:`MAX_PROJECTION_OPS`; bound: outputs × inputs × P (the multiplicities sum to at
    most P)."""
    ops = float(dataset.shape_y[0]) * float(dataset.shape_x[0]) * float(dataset.P)
    if ops > MAX_PROJECTION_OPS:
        raise bad("dataset", f"{int(dataset.P)} objects × {dataset.shape_x[0]} inputs",
                  f"is too large to simulate here: reading its modes on the weights takes "
                  f"up to {ops:.2g} operations (at most {MAX_PROJECTION_OPS:.0e}); predict it "
                  "instead (closed forms at any size) or use fewer features")


def _layout(dataset: CompositionalDataset | Dataset, network: Network, hidden: int) -> Layout:
    spectra = module_spectra(dataset, network)
    mods = []
    for module, spec in zip(network.modules, spectra, strict=True):
        ins = _index(dataset.input_blocks, module.inputs)
        outs = _index(dataset.output_blocks, module.outputs)
        dims = (_size(ins),) + (hidden,) * (module.depth - 1) + (_size(outs),)
        keys, proj = {}, {}
        for mode in spec.modes:
            key = mode_key(network, module, mode.label)
            keys[mode.label] = key
            proj[key] = (mode.U @ mode.V.T) / float(mode.multiplicity)
        mods.append(ModuleLayout(module, ins, outs, dims, spec, keys, proj))
    X = np.asarray(dataset.X)
    Y = np.asarray(dataset.Y)
    # every (input block, output block) pair, the family's quadrants first in their order
    order = [quadrant_name(i, o) for i, o in QUADRANTS]
    pairs = sorted(((i, o) for o in dataset.output_blocks for i in dataset.input_blocks),
                   key=lambda p: order.index(quadrant_name(*p)) if quadrant_name(*p) in order
                   else len(order))
    quads = {quadrant_name(i, o): (slice(*dataset.output_blocks[o]),
                                   slice(*dataset.input_blocks[i])) for i, o in pairs}
    return Layout(dataset, network, hidden, tuple(mods), X.shape[0], Y.shape[0], quads)


# ----------------------------------------------------------------------- derivation
def layer_symbols(dims: Sequence[int], prefix: str = "W") -> list[sp.MatrixSymbol]:
    return [sp.MatrixSymbol(f"{prefix}{i + 1}", dims[i + 1], dims[i])
            for i in range(len(dims) - 1)]


def _product(layers: Sequence[sp.MatrixExpr]) -> sp.MatrixExpr:
    return sp.MatMul(*reversed(layers)) if len(layers) > 1 else layers[0]


@cache
def module_gradient(dims: tuple[int, ...]) -> tuple[Generated, Generated]:
    """Generated ``product(W1..WL) -> (M,)`` and ``gradient(W1..WL, G) -> (dW1..dWL)``.

    ``dW_i = ∂/∂W_i tr(W_L ⋯ W_1 Gᵀ)``, differentiated by SymPy; descent is ``W_i += dW_i/τ``.
    """
    Ws = layer_symbols(dims)
    G = sp.MatrixSymbol("G", dims[-1], dims[0])
    M = _product(Ws)
    objective = sp.Trace(M * G.T)
    grads = {f"d{W.name}": objective.diff(W) for W in Ws}
    prod = generate({"M": M}, Ws, name="module_map",
                    description=f"Map W_L...W_1 of a depth-{len(Ws)} module, dims {dims}.")
    grad = generate(grads, [*Ws, G], name="module_gradient",
                    description=(f"Descent directions d/dW_i tr(W_L...W_1 G^T) of a depth-"
                                 f"{len(Ws)} module, dims {dims}; G = residual block."))
    return prod, grad


@cache
def module_tangent(dims: tuple[int, ...]) -> tuple[Generated, Generated]:
    """Directional derivatives for Jacobian–vector products.

    ``tangent_map(W.., D..) -> (dM,)`` is d/dε M(W + εD) at ε = 0 and
    ``tangent_gradient(W.., D.., G, dG) -> (d dW_i)`` is d/dε of the gradient along
    ``(W + εD, G + ε dG)``; both differentiated by SymPy.
    """
    Ws = layer_symbols(dims)
    Ds = layer_symbols(dims, "D")
    G = sp.MatrixSymbol("G", dims[-1], dims[0])
    dG = sp.MatrixSymbol("dG", dims[-1], dims[0])
    eps = sp.Symbol("epsilon")
    moved = [W + eps * D for W, D in zip(Ws, Ds, strict=True)]

    def tangent(expr: sp.MatrixExpr) -> sp.MatrixExpr:
        return sp.expand(expr).diff(eps).subs(eps, 0).doit()

    dM = tangent(_product(moved))
    objective = sp.Trace(_product(Ws) * G.T)
    grads = [objective.diff(W) for W in Ws]
    subs = {**dict(zip(Ws, moved, strict=True)), G: G + eps * dG}
    dgrads = {f"dd{W.name}": tangent(g.xreplace(subs)) for W, g in zip(Ws, grads, strict=True)}
    tmap = generate({"dM": dM}, [*Ws, *Ds], name="tangent_map",
                    description=f"Directional derivative of W_L...W_1, dims {dims}.")
    tgrad = generate(dgrads, [*Ws, *Ds, G, dG], name="tangent_gradient",
                     description=f"Directional derivative of the module gradient, dims {dims}.")
    return tmap, tgrad


# ------------------------------------------------------------------------- numbers
@dataclass(frozen=True, eq=False)
class Covariances:
    """``Σx = X Xᵀ/P``, ``Σyx = Y Xᵀ/P`` over the training objects, ``P`` their number."""

    sigma_x: np.ndarray
    sigma_yx: np.ndarray
    trace_y: dict[str, float]
    P: int
    objects: np.ndarray


def training_data(dataset: Any, objects: Any = None) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    """``(X, Y, objects)``: the columns of the training objects (default: every object)."""
    P = int(dataset.P)
    objects = np.arange(P) if objects is None else np.asarray(check_objects(objects, P))
    return (np.asarray(dataset.X, dtype=float)[:, objects],
            np.asarray(dataset.Y, dtype=float)[:, objects], objects)


def covariances(dataset: Any, objects: Any = None) -> Covariances:
    """Input and input–output covariances averaged over the training objects (refused in one
    line when Σx would be too large to hold)."""
    check_covariance_size(dataset)
    X, Y, objects = training_data(dataset, objects)
    P = X.shape[1]
    trace = {b: float(np.sum(Y[slice(*span)] ** 2) / P)
             for b, span in dataset.output_blocks.items()}
    return Covariances(X @ X.T / P, Y @ X.T / P, trace, P, objects)


def tau_of(P: int, lr: Any) -> float:
    """``τ = 1/(P·lr)`` in epochs; rejects non-positive learning rates."""
    try:
        lr = float(lr)
    except (TypeError, ValueError):
        raise bad("lr", lr, "must be a positive number") from None
    if not np.isfinite(lr) or lr <= 0:
        raise bad("lr", lr, "must be a positive number")
    return 1.0 / (P * lr)


def module_maps(lay: Layout, weights: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """The map ``M_m`` of every module (stacked over the leading batch axes)."""
    out = []
    for ml, layers in zip(lay.modules, weights, strict=True):
        prod, _ = module_gradient(ml.dims)
        out.append(prod(*layers)[0])
    return out


def total_map(lay: Layout, maps: Sequence[np.ndarray]) -> np.ndarray:
    """``W = Σ_m E_m M_m R_m``: every module's map placed in its rows and columns."""
    batch = maps[0].shape[:-2]
    if len(maps) == 1 and lay.modules[0].dims[0] == lay.n_in \
            and lay.modules[0].dims[-1] == lay.n_out:
        return maps[0]
    W = np.zeros((*batch, lay.n_out, lay.n_in))
    for ml, M in zip(lay.modules, maps, strict=True):
        _block_add(W, ml.outputs, ml.inputs, M)
    return W


def _block_add(W: np.ndarray, rows: Any, cols: Any, M: np.ndarray) -> None:
    if isinstance(rows, slice) and isinstance(cols, slice):
        W[..., rows, cols] += M
    else:
        r = np.arange(W.shape[-2])[rows]
        c = np.arange(W.shape[-1])[cols]
        W[..., r[:, None], c[None, :]] += M


def block(R: np.ndarray, rows: Any, cols: Any) -> np.ndarray:
    """``R[..., rows, cols]`` for slices or index arrays."""
    if isinstance(rows, slice) and isinstance(cols, slice):
        return R[..., rows, cols]
    r = np.arange(R.shape[-2])[rows]
    c = np.arange(R.shape[-1])[cols]
    return R[..., r[:, None], c[None, :]]


def residual(W: np.ndarray, cov: Covariances) -> np.ndarray:
    """``R = Σyx − W Σx`` with one large matrix product for the whole batch."""
    n_out, n_in = W.shape[-2:]
    WS = (W.reshape(-1, n_in) @ cov.sigma_x).reshape(W.shape)
    return np.subtract(cov.sigma_yx, WS, out=WS)


def gradients(lay: Layout, weights: Sequence[Sequence[np.ndarray]], R: np.ndarray
              ) -> list[tuple[np.ndarray, ...]]:
    """Descent directions of every layer (multiply by ``1/τ`` for one epoch of GD)."""
    out = []
    for ml, layers in zip(lay.modules, weights, strict=True):
        _, grad = module_gradient(ml.dims)
        out.append(grad(*layers, block(R, ml.outputs, ml.inputs)))
    return out


def check_weights(lay: Layout, weights: Any, batch: bool = True) -> list[list[np.ndarray]]:
    """Validate a weight structure (list over modules of list over layers)."""
    try:
        weights = [[np.array(w, dtype=float) for w in layers] for layers in weights]
    except (TypeError, ValueError):
        raise bad("init", type(weights).__name__,
                  "must be a list over modules of lists over layers of arrays") from None
    if len(weights) != len(lay.modules):
        raise bad("init", f"{len(weights)} modules", f"the network has {len(lay.modules)}")
    lead = None
    for ml, layers in zip(lay.modules, weights, strict=True):
        if len(layers) != ml.depth:
            raise bad("init", f"{len(layers)} layers in module {ml.module.name!r}",
                      f"must be {ml.depth}")
        for i, w in enumerate(layers):
            shape = (ml.dims[i + 1], ml.dims[i])
            if w.shape[-2:] != shape or (batch and w.ndim != 3):
                raise bad("init", w.shape,
                          f"layer {i} of module {ml.module.name!r} must be (seeds, {shape[0]}, "
                          f"{shape[1]})")
            if lead is None:
                lead = w.shape[:-2]
            elif w.shape[:-2] != lead:
                raise ModspecError("init: every layer must have the same number of seeds")
    return weights
