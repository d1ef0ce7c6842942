"""Where every mode starts: the one start policy, one function per situation.

The mode solutions run from a start ``a0`` per mode (docs/theory/dynamics.md). Every place
that needs one asks this module, in the situation it is in:

* **seeded weights** — :func:`initial_weights` draws the weights of a run,
  ``N(0, init_std²)`` from ``numpy.random.default_rng(seed)``; :func:`effective_a0` reads each
  mode's effective initial strength off any weights (depth 1: ``uᵀ W v``; depth 2: from small
  random weights the hidden vectors ``p = W1 v``, ``q = W2ᵀ u`` obey ``τ p' = s q``,
  ``τ q' = s p`` at first, so ``q·p`` grows as ``|p + q|²/4 · e^{2st/τ}``: ``a0 = |p + q|²/4``;
  depth L > 2: ``c^L`` with ``c² = (|W1 v|² + |W_Lᵀ u|²)/2``). A run not yet made but seeded
  (a sweep's point) starts its modes of depth > 2 from :func:`seeded`, the effective start of
  the free flow of its own seeded weights (:mod:`.early`);
* **a recorded run** — :func:`recorded`: its ``a0`` (the :func:`effective_a0` of its initial
  weights, recorded by the producer) averaged over seeds, floored at :data:`A0_FLOOR` for
  modes of depth ≥ 2 (their sigmoids grow from a positive seed; depth-1 modes take any sign);
  :func:`recorded_directions`: the same, except that modes of depth > 2 start every
  direction of every seed from its effective start (:func:`.early.free_starts`) when the
  run's initial weights are known; :func:`layer_starts`: the per-layer strengths
  ``(c1, c2)`` of a two-layer run under a learning rule;
* **an expected run not yet made** — :func:`expected`: the expected effective start of
  weights ``N(0, init_std²)`` with ``hidden`` units, floored the same way;
  :func:`expected_run`: every mode of such a run (deep modes of a decoupled network from
  :func:`seeded`);
* **balanced, a given a0** — :func:`balanced_layers` (``c1 = c2 = √a0``) and
  :func:`init_std_for`, the initial scale whose expected start is ``a0`` (the inverse of
  :func:`expected` at depth 2, ``init_std = sqrt(2·a0/hidden)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from modspec.theory.architectures import Network
from modspec.theory.defaults import HIDDEN, INIT_STD
from modspec.theory.errors import check_integer

from .flow import Layout, check_hidden, check_positive, layout

if TYPE_CHECKING:
    from modspec.theory.derivation import Derivation

    from .record import Trajectory

__all__ = ["A0_FLOOR", "ALIGNED", "MAX_DIRECTIONS", "balanced_layers", "effective_a0",
           "expected", "expected_run", "init_std_for", "initial_weights", "layer_starts",
           "recorded", "recorded_directions", "seeded"]

#: Smallest initial strength given to a mode of depth ≥ 2.
A0_FLOOR = 1e-12
#: Most starts per mode the theory of a deep run is evaluated for (:func:`recorded_directions`).
MAX_DIRECTIONS = 240
#: Cosine above which a two-layer start counts as aligned (``p ∥ q``, :func:`layer_starts`).
ALIGNED = 1 - 1e-9


# ------------------------------------------------------------------ seeded weights
def initial_weights(dataset: Any, network: Network, hidden: int = HIDDEN,
                    init_std: float = INIT_STD, seeds: int = 1, seed: int = 0
                    ) -> list[list[np.ndarray]]:
    """Independent Gaussian weights ``N(0, init_std²)`` for every layer of every module.

    Returns a list over modules of a list over layers of float64 arrays ``(seeds, out, in)``;
    layer 0 maps the module's inputs (its input blocks concatenated in the module's order) to
    ``hidden`` units, the last layer maps ``hidden`` to the module's outputs; a depth-1 module
    has one ``(seeds, out, in)`` array. Drawn from ``numpy.random.default_rng(seed)`` in the
    order module, layer: the same seed gives the same numbers.
    """
    hidden = check_hidden(hidden)
    init_std = check_positive("init_std", init_std, allow_zero=True)
    seeds = check_positive("seeds", seeds, integer=True)
    seed = check_integer("seed", seed, 0)
    lay = layout(dataset, network, hidden)
    rng = np.random.default_rng(seed)
    return [[rng.normal(0.0, init_std, size=(seeds, ml.dims[i + 1], ml.dims[i]))
             for i in range(ml.depth)] for ml in lay.modules]


def effective_a0(lay: Layout, weights: Sequence[Sequence[np.ndarray]]) -> dict[str, np.ndarray]:
    """Each mode's initial strength as the closed forms see it (mean over its multiplicity),
    per seed: ``{key: (seeds,)}`` (module docstring)."""
    out: dict[str, np.ndarray] = {}
    for ml, layers in zip(lay.modules, weights, strict=True):
        for mode in ml.spectrum.modes:
            key = ml.keys[mode.label]
            U, V = mode.U, mode.V
            if ml.depth == 1:
                val = np.einsum("ok,soi,ik->sk", U, layers[0], V)
            else:
                p = layers[0] @ V                                     # (seeds, h, m)
                q = np.swapaxes(layers[-1], -1, -2) @ U               # (seeds, h, m)
                if ml.depth == 2:
                    val = np.sum((p + q) ** 2, axis=-2) / 4
                else:
                    c2 = (np.sum(p**2, axis=-2) + np.sum(q**2, axis=-2)) / 2
                    val = c2 ** (ml.depth / 2)
            out[key] = val.mean(axis=-1)
    return out


def seeded(dataset: Any, network: Network, hidden: int, init_std: float, seeds: int,
           seed: int) -> dict[str, float]:
    """One start per mode of every module of depth > 2 for the run a simulation with these
    settings makes (the same seeded weights, :func:`initial_weights`): the balanced start
    ``c^L`` with ``c`` the harmonic mean of the effective per-layer starts ``c0_j`` of the
    mode's directions and seeds (:func:`.early.free_starts`) — the half-rise time of a deep
    mode is, to leading order, proportional to ``1/c0``. Used where one start per mode is
    evaluated for many points at once (sweeps)."""
    from .early import free_starts

    lay = layout(dataset, network, hidden)
    weights = initial_weights(dataset, network, hidden, init_std, seeds, seed)
    depth = {key: ml.depth for ml in lay.modules for key in ml.keys.values()}
    out = {}
    for key, a0 in free_starts(lay, weights).items():
        c0 = a0.ravel() ** (1.0 / depth[key])
        if np.all(c0 > 0):
            out[key] = float((c0.size / np.sum(1.0 / c0)) ** depth[key])
    return out


# ------------------------------------------------------------------ a recorded run
def _floor(a0: Any, depth: int) -> Any:
    """A start as the mode solutions take it: depth-1 modes as they are, deeper ones at least
    :data:`A0_FLOOR`."""
    return a0 if depth == 1 else np.maximum(a0, A0_FLOOR)


def _depths(th: Derivation) -> dict[str, int]:
    return {md.keys[m.label]: md.module.depth for md in th.modules for m in md.spectrum.modes}


def recorded(th: Derivation, run: Trajectory) -> dict[str, float]:
    """Each mode's effective initial strength in ``run``, mean over seeds, floored at
    :data:`A0_FLOOR` for modes of depth ≥ 2."""
    depth = _depths(th)
    return {key: float(_floor(float(np.mean(value)), depth.get(key, 2)))
            for key, value in run.a0.items()}


def recorded_directions(th: Derivation, run: Trajectory) -> dict[str, float | np.ndarray]:
    """The starts the mode solutions of ``run`` run from: :func:`recorded`, except for modes
    of modules of depth > 2 when the run's initial weights are known, which start every
    direction of every seed from its effective start (:func:`.early.free_starts`). Those come
    as one batch axis of equal length for every mode (each mode's starts repeated to the
    least common multiple of their numbers; above :data:`MAX_DIRECTIONS`, each mode's starts
    at that many evenly spaced quantiles), so that the batch mean of each mode is the mean
    over its own directions and seeds. Returns the :func:`recorded` dict itself when no mode
    starts direction by direction."""
    a0 = recorded(th, run)
    if run.init is None or all(md.module.depth <= 2 for md in th.modules):
        return a0
    from .early import free_starts

    hidden = int(np.asarray(run.init[0][0]).shape[-2])
    deep = {k: _floor(v.ravel(), 3)
            for k, v in free_starts(layout(th.dataset, th.network, hidden), run.init).items()}
    n = int(np.lcm.reduce([v.size for v in deep.values()]))
    if n > MAX_DIRECTIONS:
        n = MAX_DIRECTIONS
        deep = {k: np.quantile(v, (np.arange(n) + 0.5) / n) for k, v in deep.items()}
    return {k: np.repeat(deep[k], n // deep[k].size) if k in deep else np.full(n, value)
            for k, value in a0.items()}


def layer_starts(W1: np.ndarray, W2: np.ndarray, U: np.ndarray, V: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, bool]:
    """Per-layer strengths ``(c1, c2)``, each ``(seeds, m)``, of the directions ``U``, ``V`` of
    a two-layer run with weights ``W1`` ``(seeds, h, in)``, ``W2`` ``(seeds, out, h)``, and
    whether the start is aligned: ``p = W1 v``, ``q = W2ᵀ u``; an aligned start (``p ∥ q``,
    cosine ≥ :data:`ALIGNED`) gives ``c1 = |p|``, ``c2 = p·q/|p|`` exactly; a random small
    start the balanced strengths of its effective start ``a0 = |p + q|²/4`` (floored at
    :data:`A0_FLOOR`), :func:`balanced_layers`."""
    p = W1 @ V                                                       # (seeds, h, m)
    q = np.swapaxes(W2, -1, -2) @ U
    norm_p, norm_q = np.linalg.norm(p, axis=-2), np.linalg.norm(q, axis=-2)
    dot = np.sum(p * q, axis=-2)
    if np.all(np.abs(dot) >= ALIGNED * norm_p * norm_q) and np.all(norm_p > 0):
        return norm_p, dot / norm_p, True
    c1, c2 = balanced_layers(_floor(np.sum((p + q) ** 2, axis=-2) / 4, 2))
    return c1, c2, False


# ------------------------------------------------------------------ an expected run
def expected(depth: int, hidden: int, init_std: float) -> float:
    """Expected effective initial strength of a mode of a module of ``depth`` layers whose
    weights are drawn ``N(0, init_std²)`` with ``hidden`` units per hidden layer.

    With ``σ = init_std``, ``h = hidden`` (:func:`effective_a0`): depth 1, ``E[uᵀWv] = 0``;
    depth 2, ``E|W1 v + W2ᵀ u|²/4 = h σ²/2`` (:func:`init_std_for` is its inverse); depth
    L > 2, ``(E c²)^{L/2} = (h σ²)^{L/2}``. Deep modes are floored at :data:`A0_FLOOR`.
    """
    if depth == 1:
        return 0.0
    if depth == 2:
        value = hidden * init_std**2 / 2
    else:
        value = (hidden * init_std**2) ** (depth / 2)
    return max(value, A0_FLOOR)


def expected_run(dataset: Any, network: Network, hidden: int, init_std: float, seeds: int,
                 seed: int, a0: float | None = None) -> dict[str, float]:
    """Each mode's start for a run not yet made with these settings (a sweep's point): ``a0``
    for every mode when given; else :func:`expected` of its module's depth, except for the
    modes of depth > 2 of a decoupled network, which start from :func:`seeded` (the balanced
    expected start alone is 10–20 % early there)."""
    lay = layout(dataset, network, hidden)
    depths = {key: ml.depth for ml in lay.modules for key in ml.keys.values()}
    if a0 is not None:
        return dict.fromkeys(depths, a0)
    deep: dict[str, float] = {}
    if any(d > 2 for d in depths.values()) and not network.coupled:
        deep = seeded(dataset, network, hidden, init_std, seeds, seed)
    return {k: deep.get(k, expected(d, hidden, init_std)) for k, d in depths.items()}


# ------------------------------------------------------------------ balanced, a given a0
def init_std_for(a0: float, hidden: int) -> float:
    """The initial scale whose expected two-layer start (:func:`expected`) is ``a0``:
    ``init_std = sqrt(2·a0/hidden)`` (how the coupled predictor draws its weights)."""
    return float(np.sqrt(2 * a0 / hidden))


def balanced_layers(a0: Any) -> tuple[np.ndarray, np.ndarray]:
    """The balanced per-layer strengths of a two-layer start ``a0``: ``c1 = c2 = √a0``
    (two separate arrays)."""
    c = np.sqrt(np.asarray(a0, dtype=float))
    return c, c.copy()
