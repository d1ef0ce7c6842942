"""The study's ReLU claims re-read through their gating (``modspec reproduce``, part
``relu_gating``); docs/theory/relu-gating.md §5.

A ReLU network is, while no hidden unit changes its gating pattern over the samples, one gated
deep linear network (docs/theory/relu-gating.md §1), and its learning is then that network's.
The study's claim 4 (the sigmoids are ordered by their singular values ``s``) is about the
*rises* of the modes, so for a ReLU network it is within this theory only where the gating is
fixed over those rises. Here each network of the claims (dense and split, depth 2; dense and
split, depth 3) is trained with the claims' settings
(:data:`modspec.validation.claims.RELU`, :func:`~modspec.validation.claims.quick` in the quick
study), in ``checkpoints`` equal pieces (gradient descent is memoryless, so the pieces are the
one run), and the patterns of every hidden unit (every seed, module and hidden layer) are read
at each checkpoint. The **instability over the rises** is the fraction of hidden units whose
pattern at some later checkpoint differs from theirs at the last checkpoint at or before the
first mode's half-rise (the half of the network's own end value, as the claim reads it).

Checkpoints see only their own epochs: a flip undone between two of them is missed, so the
measured instability is a *lower bound*. An instability above ``threshold`` is therefore
conclusive: the ordering is **outside the theory (gating unstable)** and is not judged here.
At or below it, the gated network is fixed over the rises as far as the checkpoints see, and
the ordering is judged as measured (a failing order stays a FAIL).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modspec.theory.architectures import architecture
from modspec.theory.derivation import derive

from ..comparison import measured_half_rise
from .report import Claim, Part

__all__ = ["NETWORKS", "gating_checkpoints", "hidden_patterns", "part_relu_gating",
           "relu_ordering"]

#: The networks re-read: (name, architecture, depth).
NETWORKS = (("dense", "dense", 2), ("split", "split", 2), ("dense-depth3", "dense", 3),
            ("split-depth3", "split", 3))


def hidden_patterns(weights: Any, dataset: Any, network: Any) -> np.ndarray:
    """The gating of every hidden unit of a ReLU network (``weights`` as the training record
    holds them: per module, per layer ``(seeds, out, in)``; no biases) over the samples:
    ``(units, samples)`` booleans, units running over seeds, modules and hidden layers."""
    from modspec.numerics.flow import layout

    X = np.asarray(dataset.X, dtype=float)
    deep = [m for m in weights if len(m) > 1]
    hidden = int(np.shape(deep[0][0])[1]) if deep else 1
    lay = layout(dataset, network, hidden)
    rows: list[np.ndarray] = [np.zeros((0, X.shape[1]), dtype=bool)]
    for module, ml in zip(weights, lay.modules, strict=True):
        h = X[np.arange(X.shape[0])[ml.inputs]][None]
        for w in module[:-1]:
            pre = np.asarray(w) @ h
            rows.append((pre > 0).reshape(-1, X.shape[1]))
            h = np.maximum(pre, 0.0)
    return np.concatenate(rows)


def gating_checkpoints(dataset: Any, network: Any, *, lr: float, epochs: int, hidden: int,
                       init_std: float, seeds: int, seed: int, checkpoints: int,
                       device: str = "cpu") -> dict[str, Any]:
    """Train the ReLU network (no biases) in ``checkpoints`` equal pieces; returns the
    checkpoint epochs ``t``, the hidden patterns at each (``patterns``: (checkpoints + 1,
    units, samples)) and the modes (mean over seeds) on every recorded epoch."""
    from ..training import train

    ends = np.unique(np.linspace(0, epochs, checkpoints + 1).round().astype(int))
    common = dict(backend="torch", device=device, dtype="float64", lr=lr, hidden=hidden,
                  init_std=init_std, seeds=seeds, seed=seed, nonlinearity="relu",
                  progress=False)
    init, pats, t_all, modes = None, [], [], {}
    for a, b in zip(ends, ends[1:], strict=False):
        run = train(dataset, network, epochs=int(b - a), init=init, **common)
        if init is None:
            pats.append(hidden_patterns(run.init, dataset, network))
        pats.append(hidden_patterns(run.weights, dataset, network))
        init = run.weights
        keep = slice(0 if a == 0 else 1, None)
        t_all.append(run.t[keep] + a)
        for k, v in run.modes.items():
            modes.setdefault(k, []).append(np.asarray(v).mean(axis=0)[keep])
    return {"t": ends.astype(float), "patterns": np.array(pats),
            "t_modes": np.concatenate(t_all),
            "modes": {k: np.concatenate(v) for k, v in modes.items()}}


def relu_ordering(run: dict[str, Any], s: dict[str, float], threshold: float
                  ) -> dict[str, Any]:
    """The ordering claim of one checkpointed run (:func:`gating_checkpoints`) through its
    gating: half-rise epochs (half of each mode's own end value), whether they are ordered by
    decreasing ``s``, and the instability over the rises (module docstring)."""
    order = sorted(s, key=lambda k: -s[k])
    t = run["t_modes"]
    half = {k: measured_half_rise(t, run["modes"][k], float(run["modes"][k][-1]))
            for k in order}
    steps = [half[b] - half[a] for a, b in zip(order, order[1:], strict=False)]
    ordered = bool(steps) and all(np.isfinite(steps)) and min(steps) >= 0
    first = min((v for v in half.values() if np.isfinite(v)), default=float(run["t"][-1]))
    at = int(np.searchsorted(run["t"], first, side="right")) - 1
    pats = run["patterns"]
    later = np.any(pats[at + 1:] != pats[at], axis=2).any(axis=0) if at + 1 < len(pats) \
        else np.zeros(pats.shape[1], dtype=bool)
    inst = float(later.mean()) if later.size else 0.0
    return {"order_by_s": order, "half_rise": half, "ordered": ordered,
            "checkpoint": float(run["t"][at]), "instability": inst,
            "units": int(pats.shape[1]), "within_theory": inst <= threshold}


def part_relu_gating(ctx: Any, threshold: float = 0.05, checkpoints: int = 25,
                     networks: tuple[tuple[str, str, int], ...] = NETWORKS) -> Part:
    """The study part (module docstring): per network, the measured instability over the
    rises and, where it is within ``threshold``, the ordering verdict."""
    from modspec.validation.study.claims import RELU, quick

    cfg = (quick(RELU) if ctx.quick else RELU).replace(device=ctx.device, seed=ctx.seed)
    base = cfg.run
    ds = ctx.dataset
    part = Part("relu_gating", "The ReLU claims re-read through the gating of the networks")
    outside = []
    for name, arch, depth in networks:
        net = architecture(arch, depth)
        deep = depth > 2
        run = gating_checkpoints(
            ds, net, lr=cfg.deep_lr if deep else base.lr,
            epochs=cfg.deep_epochs if deep else base.epochs, hidden=base.hidden,
            init_std=cfg.deep_init_std if deep else base.init_std, seeds=base.seeds,
            seed=base.seed, checkpoints=checkpoints, device=ctx.device)
        s = {k: float(m.s) for k, m in derive(ds, net).modes.items()}
        r = relu_ordering(run, s, threshold)
        part.numbers[name] = r
        label = f"ReLU {name}: sigmoids ordered by s"
        if not r["within_theory"]:
            outside.append(f"{label}: outside the theory (gating unstable: "
                           f"{r['instability']:.2f} of {r['units']} hidden units change "
                           f"pattern after epoch {r['checkpoint']:g} > {threshold:g}; measured "
                           + ("in order" if r["ordered"] else "out of order") + ", not judged)")
            continue
        part.claims.append(Claim(
            label + " (gating stable over the rises)", " > ".join(r["order_by_s"]),
            {k: round(v, 1) for k, v in r["half_rise"].items()},
            f"gating instability {r['instability']:.2f} ≤ {threshold:g}", r["ordered"],
            "half-rise epochs in the order of decreasing s" if r["ordered"] else
            "half-rise epochs not in the order of decreasing s"))
    part.numbers["threshold"] = threshold
    part.numbers["outside_theory"] = outside
    part.text = (f"ReLU networks with the claims' settings (hidden {base.hidden}, lr {base.lr}, "
                 f"{base.epochs} epochs; depth 3: lr {cfg.deep_lr}, {cfg.deep_epochs} epochs), "
                 f"gating read at {checkpoints} checkpoints (a lower bound on the "
                 "instability). " + ("; ".join(outside) + "." if outside else
                                     "Every ordering is within the theory."))
    return part
