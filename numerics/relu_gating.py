"""A two-layer ReLU network as the gated deep linear network of its gating pattern.

docs/theory/relu-gating.md. For weights ``W1`` (hidden × inputs), ``W2`` (outputs × hidden)
and samples ``x_s`` (the columns of ``X``), hidden unit h is *active* on sample s iff its
pre-activation is positive, ``g_h(s) = [W1 x_s]_h > 0`` (a unit at exactly 0 outputs
``relu(0) = 0``: inactive). Then

    ŷ_s = W2 relu(W1 x_s) = Σ_h g_h(s) W2[:, h] W1[h, :] x_s
        = Σ_G g_G(s) W2[:, G] W1[G, :] x_s,

where G runs over the *pathways*: the groups of hidden units that share one pattern
``g_G`` over the samples. This is a gated deep linear network
(:class:`~modspec.theory.gated.GatedNetwork`) with one hidden layer ``g<k>`` per group, of
``|G|`` units, gated per item (an item is one sample, one context) by the group's pattern, and
edges cut by input block (``g<k>_in_<block>``: the group's rows of ``W1`` on the block's
columns) and by output block (``g<k>_out_<block>``: the group's columns of ``W2`` on the
block's rows). Its output equals the ReLU network's on every sample (to rounding), and as long
as no unit's pattern changes, gradient descent on the one is gradient descent on the other:
the gated network's exact dynamics (:func:`~modspec.numerics.gated_simulate.gated_simulate`,
the per-mode race where the basis condition holds) are the ReLU network's.

The **gating instability** between two weight snapshots is the fraction of hidden units whose
pattern over the samples differs (:func:`gating_instability`): 0 when the gated network of the
one is the gated network of the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modspec.theory.errors import bad
from modspec.theory.gated import NAME, Edge, Gate, GatedNetwork, Layer
from modspec.theory.gated_data import GatedData

__all__ = ["ReluGating", "gating_patterns", "pattern_groups", "gating_instability",
           "relu_gated", "relu_gated_record", "relu_weights", "relu_output", "gated_output",
           "frozen_gate_gap", "pathway_norms", "winners", "common_plateau"]

Blocks = Mapping[str, tuple[int, int]]


def _matrix(name: str, value: Any, rows: int | None = None, cols: int | None = None
            ) -> np.ndarray:
    try:
        a = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise bad(name, type(value).__name__, "must be a 2-D array of real numbers") from None
    if a.ndim != 2 or 0 in a.shape or not np.all(np.isfinite(a)):
        raise bad(name, getattr(a, "shape", None), "must be a non-empty 2-D array of finite "
                  "real numbers")
    for axis, want, what in ((0, rows, "rows"), (1, cols, "columns")):
        if want is not None and a.shape[axis] != want:
            raise bad(name, a.shape, f"must have {want} {what}")
    return a


def gating_patterns(W1: Any, X: Any) -> np.ndarray:
    """``(hidden, samples)`` booleans: unit h is active on sample s iff ``[W1 x_s]_h > 0``."""
    W1 = _matrix("W1", W1)
    X = _matrix("X", X, rows=W1.shape[1])
    return (W1 @ X) > 0


def pattern_groups(patterns: Any) -> tuple[tuple[int, ...], ...]:
    """The hidden units grouped by equal pattern, groups in order of their first unit."""
    pats = np.asarray(patterns, dtype=bool)
    seen: dict[bytes, list[int]] = {}
    for h, row in enumerate(pats):
        seen.setdefault(row.tobytes(), []).append(h)
    return tuple(tuple(g) for g in seen.values())


def gating_instability(W1_a: Any, W1_b: Any, X: Any) -> float:
    """The fraction of hidden units whose gating pattern over the samples ``X`` differs
    between the first-layer weights ``W1_a`` and ``W1_b`` (same shape)."""
    A = gating_patterns(W1_a, X)
    B = gating_patterns(W1_b, X)
    if A.shape != B.shape:
        raise bad("W1_b", B.shape, f"must have the shape of W1_a {A.shape}")
    return float(np.mean(np.any(A != B, axis=1)))


@dataclass(frozen=True, eq=False)
class ReluGating:
    """The gated network of a ReLU network: ``network`` and ``data`` (one item per sample),
    ``groups[k]`` the hidden units of pathway group ``g<k>``, ``patterns`` (groups, samples)
    its gate, ``weights`` (edge name → matrix) the ReLU weights cut into its edges, and the
    block layout (``input_blocks``, ``output_blocks``: name → (start, end) rows)."""

    network: GatedNetwork
    data: GatedData
    groups: tuple[tuple[int, ...], ...]
    patterns: np.ndarray
    weights: dict[str, np.ndarray]
    input_blocks: dict[str, tuple[int, int]]
    output_blocks: dict[str, tuple[int, int]]
    hidden: int

    @property
    def dead(self) -> int:
        """Hidden units active on no sample."""
        return sum(len(g) for g, p in zip(self.groups, self.patterns, strict=True)
                   if not p.any())

    def summary(self) -> dict[str, Any]:
        """Group sizes and how many samples each is active on (JSON-ready)."""
        return {"hidden": self.hidden, "groups": len(self.groups), "dead": self.dead,
                "sizes": [len(g) for g in self.groups],
                "active_samples": [int(p.sum()) for p in self.patterns]}


def _blocks(param: str, blocks: Blocks | None, n: int, default: str) -> dict[str, tuple[int, int]]:
    if blocks is None:
        return {default: (0, n)}
    out, at = {}, 0
    for k, (name, span) in enumerate(blocks.items()):
        s, e = (int(v) for v in span)
        if s != at or e <= s:
            raise bad(param, dict(blocks), f"must cover the {n} rows in order, without gaps")
        out[name if NAME.fullmatch(str(name)) else f"b{k}"] = (s, e)
        at = e
    if at != n:
        raise bad(param, dict(blocks), f"must cover the {n} rows in order, without gaps")
    return out


def relu_gated(W1: Any, W2: Any, X: Any, Y: Any, input_blocks: Blocks | None = None,
               output_blocks: Blocks | None = None, patterns: Any = None) -> ReluGating:
    """The gated network of ``W2 relu(W1 x)`` on the samples ``X`` with targets ``Y`` (see the
    module docstring). ``input_blocks`` / ``output_blocks`` (name → (start, end) rows, in
    order; default one block ``x`` / ``y``) cut the edges. ``patterns`` (hidden, samples)
    freezes another gating (e.g. an earlier or later epoch's); default the gating of ``W1``."""
    W1 = _matrix("W1", W1)
    hidden, d_in = W1.shape
    W2 = _matrix("W2", W2, cols=hidden)
    X = _matrix("X", X, rows=d_in)
    Y = _matrix("Y", Y, rows=W2.shape[0], cols=X.shape[1])
    ins = _blocks("input_blocks", input_blocks, d_in, "x")
    outs = _blocks("output_blocks", output_blocks, W2.shape[0], "y")
    if patterns is None:
        pats = gating_patterns(W1, X)
    else:
        pats = np.asarray(patterns)
        if pats.shape != (hidden, X.shape[1]):
            raise bad("patterns", pats.shape, f"must be (hidden, samples) = "
                      f"({hidden}, {X.shape[1]})")
        pats = pats.astype(bool)
    groups = pattern_groups(pats)
    layers = [Layer(b, e - s) for b, (s, e) in ins.items()]
    layers += [Layer(o, e - s) for o, (s, e) in outs.items()]
    edges, gates, weights = [], [], {}
    for k, g in enumerate(groups):
        h = f"g{k}"
        rows = list(g)
        layers.append(Layer(h, len(g)))
        gates.append(Gate(h, "item", tuple(int(v) for v in pats[g[0]])))
        for b, (s, e) in ins.items():
            edges.append(Edge(f"{h}_in_{b}", b, h))
            weights[edges[-1].name] = W1[rows, s:e].copy()
        for o, (s, e) in outs.items():
            edges.append(Edge(f"{h}_out_{o}", h, o))
            weights[edges[-1].name] = W2[s:e][:, rows].copy()
    net = GatedNetwork(tuple(layers), tuple(edges), tuple(gates), name="relu-gated")
    data = GatedData({b: X[s:e] for b, (s, e) in ins.items()},
                     {o: Y[s:e] for o, (s, e) in outs.items()})
    return ReluGating(net, data, groups, np.array([pats[g[0]] for g in groups]), weights,
                      ins, outs, hidden)


def relu_gated_record(record: Any, dataset: Any, seed: int = 0, start: bool = False
                      ) -> ReluGating:
    """:func:`relu_gated` of a training record (:class:`~modspec.numerics.record.Trajectory`
    of :func:`modspec.validation.training.train` with ``nonlinearity="relu"``, one module of
    depth 2 over every block of ``dataset`` in order, no biases): the weights of seed ``seed``
    at the end, or at the start (``start=True``); the samples are the training objects."""
    weights = record.init if start else record.weights
    if weights is None or len(weights) != 1 or len(weights[0]) != 2:
        raise bad("record", "weights", "must hold one module of two layers (a two-layer "
                  "network: one dense module of depth 2)")
    if record.meta.get("nonlinearity") != "relu" or record.biases is not None:
        raise bad("record", record.meta.get("nonlinearity"),
                  "must be a ReLU network without biases (nonlinearity='relu', bias=False)")
    W1s, W2s = (np.asarray(w) for w in weights[0])
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
            or not 0 <= seed < W1s.shape[0]:
        raise bad("seed", seed, f"must be an integer in [0, {W1s.shape[0]})")
    X = np.asarray(dataset.X, dtype=float)
    Y = np.asarray(dataset.Y, dtype=float)
    if record.train_objects is not None:
        cols = np.asarray(record.train_objects, dtype=int)
        X, Y = X[:, cols], Y[:, cols]
    if W1s.shape[2] != X.shape[0] or W2s.shape[1] != Y.shape[0]:
        raise bad("record", "shapes", f"must map the dataset's {X.shape[0]} input rows to its "
                  f"{Y.shape[0]} output rows (every block, in order)")
    return relu_gated(W1s[seed], W2s[seed], X, Y, dataset.input_blocks, dataset.output_blocks)


def relu_weights(gating: ReluGating, weights: Mapping[str, np.ndarray]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The ReLU network's ``W1``, ``W2`` reassembled from edge weights of ``gating``'s network
    (any leading axes, e.g. seeds or epochs, are kept)."""
    first = np.asarray(next(iter(weights.values())))
    lead = first.shape[:-2]
    d_in = max(e for _, e in gating.input_blocks.values())
    d_out = max(e for _, e in gating.output_blocks.values())
    W1 = np.zeros((*lead, gating.hidden, d_in))
    W2 = np.zeros((*lead, d_out, gating.hidden))
    for k, g in enumerate(gating.groups):
        rows = list(g)
        for b, (s, e) in gating.input_blocks.items():
            W1[..., rows, s:e] = weights[f"g{k}_in_{b}"]
        for o, (s, e) in gating.output_blocks.items():
            W2[..., s:e, rows] = weights[f"g{k}_out_{o}"]
    return W1, W2


def relu_output(W1: np.ndarray, W2: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``W2 relu(W1 X)`` (any leading axes of the weights are kept)."""
    return W2 @ np.maximum(W1 @ X, 0.0)


def gated_output(gating: ReluGating, weights: Mapping[str, np.ndarray] | None = None
                 ) -> np.ndarray:
    """The gated network's output on every sample, ``Σ_G g_G(s) W2_G W1_G x_s`` (outputs ×
    samples; leading axes of the weights kept), from its own edge weights by default."""
    W = gating.weights if weights is None else weights
    X, _ = gating.data.numeric()
    outs = gating.output_blocks
    d_out = max(e for _, e in outs.values())
    lead = np.asarray(next(iter(W.values()))).shape[:-2]
    out = np.zeros((*lead, d_out, gating.data.P))
    for k, _g in enumerate(gating.groups):
        h = sum(np.asarray(W[f"g{k}_in_{b}"]) @ X[b] for b in gating.input_blocks)
        h = h * gating.patterns[k]
        for o, (s, e) in outs.items():
            out[..., s:e, :] += np.asarray(W[f"g{k}_out_{o}"]) @ h
    return out


def frozen_gate_gap(W1: Any, W2: Any, X: Any, Y: Any, at: int) -> float:
    """How much freezing the gates at recorded epoch ``at`` changes the network afterwards:
    ``max_{t ≥ at} ‖W2(t) relu(W1(t) X) − W2(t) (g(at) ⊙ W1(t) X)‖_F / ‖Y‖_F`` over the
    recorded weights ``W1`` (T, hidden, in) and ``W2`` (T, out, hidden), ``g(at)`` the gating
    at ``at``. 0 when no unit flips; small when the flips are of pre-activations near 0 (they
    change the output little), unlike the fraction of units that flip."""
    W1 = np.asarray(W1, dtype=float)
    W2 = np.asarray(W2, dtype=float)
    X = _matrix("X", X, rows=W1.shape[-1])
    Y = _matrix("Y", Y, rows=W2.shape[-2], cols=X.shape[1])
    if isinstance(at, bool) or not isinstance(at, (int, np.integer)) \
            or not 0 <= at < W1.shape[0]:
        raise bad("at", at, f"must be an integer in [0, {W1.shape[0]})")
    H = W1[at:] @ X
    gap = W2[at:] @ (np.maximum(H, 0.0) - H * (H[0] > 0))
    return float(np.linalg.norm(gap, axis=(-2, -1)).max() / max(np.linalg.norm(Y), 1e-300))


def pathway_norms(gating: ReluGating, W1: Any, W2: Any) -> dict[str, list[float]]:
    """Per output block, per pathway group ``g<k>`` of ``gating``: ``‖W2[o, G] W1[G, :]‖_F``,
    the norm of the map the group carries to the block, for ReLU weights ``W1``, ``W2``
    (the groups' units, whatever the weights' own gating)."""
    W1 = _matrix("W1", W1, rows=gating.hidden)
    W2 = _matrix("W2", W2, cols=gating.hidden)
    return {o: [float(np.linalg.norm(W2[s:e][:, list(g)] @ W1[list(g)])) for g in gating.groups]
            for o, (s, e) in gating.output_blocks.items()}


def winners(norms: Mapping[str, Sequence[float]]) -> dict[str, str]:
    """Per output block, the pathway group carrying the largest map (:func:`pathway_norms`)."""
    return {o: f"g{int(np.argmax(v))}" for o, v in norms.items()}


def common_plateau(gating: ReluGating) -> dict[str, Any] | None:
    """The loss plateau of the *common pathway*: the groups active on every sample, which
    together are a linear network of width ``w`` (their units). Alone, from a small start,
    gradient descent takes it to the best map of rank ≤ w, whose fitted outputs are
    ``U_w U_wᵀ Ŷ`` with ``Ŷ = Y X⁺ X`` (the least-squares fit) and ``U_w`` its top-w left
    singular vectors; the plateau is that map's loss, the mean over samples of
    ``‖y_s − ŷ_s‖²``. None when no group is active on every sample."""
    common = [k for k, p in enumerate(gating.patterns) if p.all()]
    if not common:
        return None
    width = sum(len(gating.groups[k]) for k in common)
    X, Y = gating.data.numeric()
    Xm = np.vstack([X[b] for b in gating.input_blocks])
    Ym = np.vstack([Y[o] for o in gating.output_blocks])
    fit = Ym @ np.linalg.pinv(Xm) @ Xm
    U, s, _ = np.linalg.svd(fit, full_matrices=False)
    rank = int(np.sum(s > s.max() * 1e-12)) if s.size else 0
    Uw = U[:, :min(width, rank)]
    loss = float(((Ym - Uw @ (Uw.T @ fit)) ** 2).sum(axis=0).mean())
    return {"groups": [f"g{k}" for k in common], "width": width, "loss": loss}
